"""The people of a class: names, roles, and passwords kept only as salted argon2 hashes (argon2-cffi).

A roster is a TOML file of tables `[people.NAME]` with `role = "student" | "teacher"`, `password = "<hash>"` ("" for
one who signs in only with a school account) and, optionally, `email` (how a school account finds them), written by
`digitlab roster`. Sign-in failures are counted per name: after a few, that name waits.
"""

import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from digitlab import UserError
from digitlab.files import write_atomically
from digitlab.settings import read_toml

ROLES = ("student", "teacher")
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")
MIN_PASSWORD, MAX_PASSWORD = 8, 256
WINDOW = 900.0  # seconds over which failed sign-ins are counted
MOST = {"pair": 5,     # failures of one device for one name: then that device waits, nobody else does
        "client": 10,  # failures of one device over all names: one device cannot go through the class's names
        "name": 30}    # failures for one name from devices it never signed in from: its own devices still get in
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not anyone's password")  # unknown names cost the same time as known ones


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    password_hash: str
    email: str = ""
    changed: float = 0.0  # when the entry last changed (password, role, e-mail); 0: not since digitlab kept it

    @property
    def teacher(self) -> bool:
        return self.role == "teacher"


LOCAL = Person("", "teacher", "")  # the one person of a single-user machine: sees and manages everything


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UserError(f"{name!r} is not a valid name: use 1 to 32 lowercase letters, digits, '.', '_' or '-'.")
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"A password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters, got {len(password)}.")
    return password


def check_email(email: str) -> str:
    """An e-mail address as the roster keeps it (lowercase), or one sentence."""
    if not isinstance(email, str) or not EMAIL.fullmatch(email.strip()):
        raise UserError(f"{email!r} is not an e-mail address: give one like pupil@school.org.")
    return email.strip().lower()


def load(path) -> dict[str, Person]:
    path = Path(path)
    raw = read_toml(path, f"No roster at {path}: create it with `digitlab roster add NAME --role teacher`.")
    people, emails = {}, {}
    for name, entry in (raw.get("people") or {}).items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES or not isinstance(entry.get("password"), str):
            raise UserError(f"The roster entry {name!r} in {path} needs a role (student or teacher) and a password hash.")
        email = check_email(entry["email"]) if entry.get("email") else ""
        if email and emails.setdefault(email, name) != name:
            raise UserError(f"{emails[email]} and {name} in {path} have the same e-mail {email}: give each their own.")
        changed = entry.get("changed", 0.0)
        if not isinstance(changed, (int, float)) or isinstance(changed, bool):
            raise UserError(f"The roster entry {name!r} in {path} has a 'changed' that is not a time: remove that line.")
        people[check_name(name)] = Person(name, entry["role"], entry["password"], email, float(changed))
    return people


def by_email(people: dict[str, Person], email: str) -> Person | None:
    """The person a school account's e-mail address belongs to."""
    email = email.strip().lower() if isinstance(email, str) else ""
    return next((p for p in people.values() if email and p.email == email), None)


def save(path, people: dict[str, Person]) -> None:
    """Write the roster atomically (a temp file renamed into place), readable by its owner only."""
    path = Path(path)
    lines = ["# digitlab class roster: written by `digitlab roster`; passwords are argon2 hashes.", ""]
    for p in sorted(people.values(), key=lambda p: p.name):
        lines += [f"[people.{json.dumps(p.name)}]", f"role = {json.dumps(p.role)}",
                  f"password = {json.dumps(p.password_hash)}"]
        lines += [f"email = {json.dumps(p.email)}"] if p.email else []
        lines += [f"changed = {p.changed!r}"] if p.changed else []
        lines.append("")
    text = "\n".join(lines)
    write_atomically(path, lambda f: f.write(text.encode()), mode=0o600)


def set_password(path, name: str, password: str | None, role: str | None = None, email: str | None = None) -> Person:
    """Add a person, or give one a new password (and, if given, a new role or e-mail). password None: none at all
    (a school account signs them in); an existing person keeps theirs."""
    path = Path(path)
    people = load(path) if path.exists() else {}
    name = check_name(name)
    if password is not None:
        check_password(password)
    was = people.get(name)
    role = role or (was.role if was else None)
    if role not in ROLES:
        raise UserError(f"{name} is not in the roster yet: give a role, student or teacher.")
    email = check_email(email) if email else (was.email if was else "")
    if email and (other := by_email(people, email)) is not None and other.name != name:
        raise UserError(f"{other.name} already has the e-mail {email}: give {name} their own.")
    if password is not None:
        hashed = _hasher.hash(password)  # checked above, before anything else
    elif was is not None and email == was.email and role == was.role:
        raise UserError(f"{name} is in the roster already: give a new password, role or e-mail.")
    else:
        hashed = was.password_hash if was else ""
    if not hashed and not email:
        raise UserError(f"{name} needs a password or an e-mail address (for a school account) to sign in with.")
    # every change is later than the one before, whatever the clock did: a role changed and changed back is a change
    changed = max(time.time(), (was.changed if was else 0.0) + 1e-3)
    people[name] = Person(name, role, hashed, email, changed)
    save(path, people)
    return people[name]


def remove(path, name: str) -> None:
    people = load(path)
    if people.pop(name, None) is None:
        raise UserError(f"There is no {name!r} in the roster {path}.")
    save(path, people)


class SignIn:
    """Checks names and passwords against a roster. Failed attempts are counted before the password is checked, in
    the run store (every server on it counts them, a restart keeps them), per device and name, per device and per name
    from devices the person never signed in from: a stranger's guesses hold the stranger back, not the person."""

    def __init__(self, path, store=None):
        self.path, self.store = Path(path), store
        self._failures: dict[tuple[str, str], list[float]] = {}  # where the store cannot be written (a full disk)
        self._lock = threading.Lock()
        self._people: tuple[float, dict[str, Person]] = (-1.0, {})  # the roster as last read, by its mtime

    def current(self, person: Person) -> bool:
        """Whether a signed-in person still stands in the roster as they signed in: removed, reset or given another
        role, they sign in again. The roster is read again only when its file changed."""
        try:
            mtime = self.path.stat().st_mtime
            with self._lock:
                if mtime != self._people[0]:
                    self._people = (mtime, load(self.path))
                people = self._people[1]
        except (OSError, UserError):  # no roster, or a damaged one: nobody stays signed in
            return False
        return people.get(person.name) == person

    def __call__(self, name: str, password: str, client: str = "") -> Person:
        """The person, or a UserError that never says whether the name exists. client: the device's address."""
        name = name.strip().lower()[:64]
        attempt = self._begin(name, client)
        person = load(self.path).get(name)
        try:
            _hasher.verify(person.password_hash if person and person.password_hash else _DUMMY, password[:MAX_PASSWORD])
            if person is None or not person.password_hash:
                raise VerifyMismatchError
        except (VerificationError, InvalidHashError):
            raise UserError("That name and password do not match: try again, or ask your teacher to reset it.") from None
        if attempt is not None:
            self.store.signed_in(attempt)
        with self._lock:
            self._failures.pop((name, client), None)
        return person

    def _begin(self, name: str, client: str) -> int | None:
        """Count this attempt (failed until proven right) or refuse it; the attempt's id in the store, if it is kept
        there."""
        if self.store is not None:
            try:
                attempt, kind, oldest = self.store.begin_sign_in(name, client, WINDOW, MOST)
            except UserError:  # the store cannot be written (a full disk): counted in this server instead
                pass
            else:
                if attempt is None:
                    raise _held(kind, WINDOW - (time.time() - oldest))
                return attempt
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get((name, client), []) if now - t < WINDOW]
            if len(recent) >= MOST["pair"]:
                raise _held("pair", WINDOW - (now - recent[0]))
            self._failures[(name, client)] = [*recent, now]  # failed until proven right
        return None


def _held(kind: str, wait: float) -> UserError:
    minutes = max(1, round(wait / 60))
    if kind == "name":
        return UserError("Too many failed sign-ins for this name from devices it has not signed in from: sign in from "
                         "a device you used before, or ask your teacher to let you in.")
    which = "for this name from this device" if kind == "pair" else "from this device"
    return UserError(f"Too many failed sign-ins {which}: wait {minutes} min, then try again, or ask your teacher to "
                     "let you in.")
