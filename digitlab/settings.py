"""The server's settings: one TOML file read by the app, the supervisor, the workers and the CLI alike.

The file's path comes from a flag or $DIGITLAB_SETTINGS; with none, the defaults below make digitlab a single-user
tool on localhost whose limits fit a laptop. Every key is optional; an unknown key or a bad value is one sentence.
"""

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from digitlab import UserError

ENV = "DIGITLAB_SETTINGS"


@dataclass(frozen=True)
class Limits:
    max_params: int = 10_000_000       # trainable parameters of one model
    max_memory_mb: int = 4096          # estimated peak memory of one run on its device
    max_steps: int = 250_000           # optimizer steps of one run (epochs x steps per epoch)
    max_run_minutes: float = 180.0     # estimated training time of one run
    queued_per_person: int = 10        # runs one person may have waiting or running
    upload_mb: float = 8.0             # bytes of one image (upload or predict)
    image_pixels: int = 16_000_000     # width x height of one image, checked before it is decoded
    checkpoint_mb: float = 200.0       # bytes of one checkpoint file, and of what it holds unpacked
    digits_per_person: int = 2000      # drawings one person may keep in My digits
    digits_zip_mb: float = 16.0        # bytes of one My digits zip to import (also server.maxUploadSize)
    stored_mb_per_person: float = 256.0  # bytes one person of a class keeps: drawings, runs' checkpoints and files
    report_runs: int = 12              # runs in one report (each adds its figures and a test-set evaluation)

    def check_bytes(self, key: str, name: str, size: int, verb: str = "has") -> None:
        """One sentence when size bytes are over the limit in MB that key names (upload_mb, checkpoint_mb,
        digits_zip_mb): the one check of every file a person sends, before any of it is read."""
        limit = getattr(self, key)
        if size > limit * 2**20:
            raise UserError(f"{name} {verb} {size / 2**20:,.1f} MB, over the limit of {limit:g} MB (limits.{key} in "
                            f"the settings): {SMALLER[key]}.")


SMALLER = {"upload_mb": "send a smaller picture", "checkpoint_mb": "use a checkpoint written by digitlab",
           "digits_zip_mb": "import fewer digits at a time"}  # what to do about a file over each limit


@dataclass(frozen=True)
class Workers:
    cpu_slots: int = 0                 # runs trained at once without a GPU; 0: half the cores (one on 2 cores)
    gpu_slots: int = 4                 # runs trained at once on each GPU: small models leave most of one idle


@dataclass(frozen=True)
class Classroom:
    enabled: bool = False              # sign-in, owners and roles; off: one person on localhost
    roster: str = ""                   # TOML file of people (relative paths: beside the settings file)
    address: str = "0.0.0.0"           # where the app listens in class mode
    board: bool = True                 # students see everyone's runs, read-only
    certificate: str = ""              # PEM certificate for HTTPS (relative: beside the settings); "": digitlab makes one
    key: str = ""                      # the certificate's private key (PEM, unencrypted), with certificate
    plain_http: bool = False           # serve the class unencrypted: only behind a proxy that encrypts it
    session_hours: float = 2.0         # how long a sign-in lasts in a browser (a lesson): reloads and tabs stay in
    oidc: "Oidc | None" = None         # [classroom.oidc]: sign in with the school's accounts too


@dataclass(frozen=True)
class Oidc:
    provider: str = "school account"   # what the button says: "Sign in with <provider>"
    server_metadata_url: str = ""      # the provider's .well-known/openid-configuration
    client_id: str = ""
    client_secret: str = ""
    redirect_uri: str = ""             # https://THIS-MACHINE:8501/oauth2callback, as registered with the provider


@dataclass(frozen=True)
class Cluster:
    address: str = ""                  # a Ray cluster to train on (host:port of its head); "": this machine's workers
    slots: int = 4                     # runs handed to the cluster at once
    cpus: float = 1.0                  # CPUs a run asks of the cluster (GPU runs ask one GPU instead)


@dataclass(frozen=True)
class Settings:
    limits: Limits = field(default_factory=Limits)
    workers: Workers = field(default_factory=Workers)
    classroom: Classroom = field(default_factory=Classroom)
    cluster: Cluster = field(default_factory=Cluster)
    path: Path | None = None           # the file these came from; None: the built-in defaults


DEFAULT = Settings()
SECTIONS = {"limits": Limits, "workers": Workers, "classroom": Classroom, "cluster": Cluster}
BOUNDS = {"max_params": (1_000, 10**10), "max_memory_mb": (64, 10**7), "max_steps": (1, 10**9),
          "max_run_minutes": (0.1, 10**6), "queued_per_person": (1, 10_000), "upload_mb": (0.01, 1_000),
          "image_pixels": (784, 10**9), "checkpoint_mb": (0.01, 100_000),
          "digits_per_person": (1, 1_000_000), "digits_zip_mb": (0.01, 10_000),
          "stored_mb_per_person": (0.01, 10**7), "cpu_slots": (0, 64),
          "gpu_slots": (1, 64), "slots": (1, 1024), "cpus": (0.01, 1024),
          "session_hours": (0.05, 24 * 14)}


def _section(name: str, values, path: Path):
    cls = Oidc if name == "classroom.oidc" else SECTIONS[name]
    if not isinstance(values, dict):
        raise UserError(f"[{name}] in {path} must be a table of settings.")
    known = {f.name: f for f in fields(cls)}
    out = {}
    if name == "classroom" and "oidc" in values:
        values = dict(values)
        out["oidc"] = _section("classroom.oidc", values.pop("oidc"), path)
    for key, value in values.items():
        if key not in known:
            raise UserError(f"Unknown setting {name}.{key} in {path}: use one of {', '.join(known)}.")
        kind = type(getattr(cls(), key))
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise UserError(f"{name}.{key} in {path} must be a {kind.__name__}, got {value!r}.")
        if key in BOUNDS and not BOUNDS[key][0] <= value <= BOUNDS[key][1]:
            low, high = BOUNDS[key]
            raise UserError(f"{name}.{key} in {path} must be between {low:g} and {high:g}, got {value!r}.")
        out[key] = value
    return cls(**out)


def toml(text: str) -> dict:
    """TOML text as its tables; ValueError saying what is wrong when it is not TOML, or nests arrays or tables deeper
    than Python's parser can follow (a 10 KB file can: its RecursionError is not a sentence for a person)."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ValueError("its arrays or tables nest too deep to read") from None


def read_toml(path: Path, missing: str) -> dict:
    """A TOML file's tables; the sentence missing when there is no such file, one sentence when it is unreadable."""
    try:
        return toml(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(missing) from None
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is not a readable TOML file ({e}): fix it or write it again.") from None


def load(path=None) -> Settings:
    """The settings in path (else $DIGITLAB_SETTINGS); the defaults when neither is given."""
    path = path or os.environ.get(ENV)
    if not path:
        return Settings()
    path = Path(path).expanduser().resolve()
    raw = read_toml(path, f"No settings file at {path}: fix the path given with --settings or ${ENV}.")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise UserError(f"Unknown section [{unknown[0]}] in {path}: use {', '.join(SECTIONS)}.")
    settings = Settings(path=path, **{name: _section(name, raw[name], path) for name in raw})
    if settings.classroom.enabled:
        if not settings.classroom.roster:
            raise UserError(f"Class mode needs a roster: set classroom.roster in {path}.")
        beside = {key: str(_beside(path, getattr(settings.classroom, key)))
                  for key in ("roster", "certificate", "key") if getattr(settings.classroom, key)}
        settings = replace(settings, classroom=replace(settings.classroom, **beside))
        if bool(settings.classroom.certificate) != bool(settings.classroom.key):
            raise UserError(f"classroom.certificate and classroom.key go together: set both in {path}, or neither "
                            "to let digitlab make a certificate.")
        oidc = settings.classroom.oidc
        if oidc is not None:
            for key in ("server_metadata_url", "client_id", "client_secret", "redirect_uri"):
                if not getattr(oidc, key).strip():
                    raise UserError(f"[classroom.oidc] in {path} needs {key}: copy it from the provider's app registration.")
            if not oidc.redirect_uri.startswith(("https://", "http://")) or not oidc.redirect_uri.endswith("/oauth2callback"):
                raise UserError(f"classroom.oidc.redirect_uri in {path} must be this app's address ending in "
                                "/oauth2callback, e.g. https://teacher-laptop:8501/oauth2callback.")
    return settings


def _beside(settings_path: Path, named: str) -> Path:
    p = Path(named).expanduser()
    return p if p.is_absolute() else settings_path.parent / p


def secret_file(s: Settings, kind: str) -> Path:
    """Where class mode keeps a file of its own beside the settings file: kind "cert.pem", "key.pem" or "secret"."""
    return s.path.parent / f"{s.path.stem}.{kind}"


_read: dict[tuple, Settings] = {}


def current() -> Settings:
    """This process's settings ($DIGITLAB_SETTINGS, else the defaults), read once: the file is read again only when
    the variable names another file or the file has changed since (a stat, not a parse, on every call)."""
    named = os.environ.get(ENV)
    if not named:
        return DEFAULT
    path = Path(named).expanduser().resolve()
    try:
        st = path.stat()
    except OSError:
        return load(path)  # one sentence: no such file
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _read:
        _read.clear()
        _read[key] = load(path)
    return _read[key]
