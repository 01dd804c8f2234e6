"""What every part of the store stands on: where it lives, a run's status, one short transaction at a time."""

import json
import os
import sqlite3
import urllib.parse
from contextlib import closing, contextmanager
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path

from digitlab import UserError, files
from digitlab.learn.config import LEGACY_KEYS
from digitlab.runs.store import schema


class Status(StrEnum):
    """Where a run is in its life: queued -> running -> completed, failed or cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in (Status.QUEUED, Status.RUNNING)


class SweepStatus(StrEnum):
    """Where a sweep is: running (its trials queue as earlier ones finish) -> done or cancelled."""

    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"



def runs_root(root=None) -> Path:
    """The runs folder: the argument, else $DIGITLAB_RUNS, else ./runs."""
    return Path(root or os.environ.get("DIGITLAB_RUNS") or "runs").expanduser().resolve()


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class Run:
    """One run as the store keeps it: what it is (its settings), where it is in its life and who launched it, its
    figures and its best checkpoint. Read from the store; changed only through the store's writers."""

    id: int
    name: str
    config: dict                     # its TrainConfig as saved (to_dict), names from before the renames renamed
    status: Status
    owner: str = ""                  # who launched it ('' on a single-user machine)
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    error: str | None = None         # why it failed, or a sweep's pruning
    device: str | None = None
    pid: int | None = None           # the process that trains it
    cancel_requested: bool = False
    epoch: int = 0                   # where it is: the epoch and the step within it
    step: int = 0
    steps_per_epoch: int | None = None
    best_epoch: int | None = None    # the best validation epoch so far, its figures and checkpoint
    best_val_acc: float | None = None
    test_acc: float | None = None
    train_seconds: float | None = None
    num_params: int | None = None
    checkpoint: str | None = None
    delete_requested: bool = False
    batch: int | None = None         # runs queued together: the id of the first
    sweep: int | None = None         # a sweep's trial: the sweep and Optuna's trial number
    trial: int | None = None
    health: dict | None = None       # {flag, reason, hint} of a run that diverged or did not learn; None: fine
    resumed: int = 0                 # times it went on from its last finished epoch after its worker stopped


RUN_FIELDS = tuple(f.name for f in fields(Run))


@dataclass(frozen=True)
class Sweep:
    """One sweep as the store keeps it: its plan (sweep.Plan as a dict), who launched it, where it is."""

    id: int
    name: str
    plan: dict
    status: SweepStatus
    owner: str = ""
    created: float = 0.0


def read_only(path: Path) -> sqlite3.Connection:
    """A store file opened to read as it is on disk, writing nothing beside it (no -wal, no -shm): a full disk's
    store, a backup, a copy being checked."""
    return sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro&immutable=1", uri=True, timeout=30)


def _run(row: sqlite3.Row) -> Run:
    d = {k: row[k] for k in row.keys() if k in RUN_FIELDS}
    d["config"] = {LEGACY_KEYS.get(k, k): v for k, v in json.loads(d["config"]).items()}
    d["status"] = Status(d["status"])
    d["health"] = json.loads(d["health"]) if d.get("health") else None
    d["cancel_requested"], d["delete_requested"] = bool(d.get("cancel_requested")), bool(d.get("delete_requested"))
    return Run(**d)


class Base:
    """The store's folder and its SQLite file (WAL); the other parts of Store add what they keep."""

    def __init__(self, root=None):
        self.root = runs_root(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".writable"
            probe.touch()
            probe.unlink()
        except OSError as e:
            raise UserError(f"Cannot keep runs in {self.root} ({e.strerror}): point --runs or $DIGITLAB_RUNS at a "
                            "folder you can write.") from None
        self.path = self.root / "runs.db"
        self.backups = self.root / "backups"
        with self._db() as db:
            schema.migrate(db)

    @contextmanager
    def _db(self):
        """A short-lived connection, one transaction: safe from any thread or process.

        A damaged file is one sentence naming the fix; a file emptied under us gets its tables back; a missing one
        where a store was (its backups, or a damaged file moved aside) is never made anew: that would show everyone an
        empty store, and its backups would soon be of the empty one. On a full disk what is there is still read (the
        pages stay readable) and every write is refused in one sentence naming the disk.
        """
        if not self.path.exists() and self._was_here():
            raise UserError(f"The run store {self.path} is missing where one was (its backups or a damaged copy are "
                            f"in {self.root}): put the newest backup back with `digitlab restore --runs {self.root}`, "
                            "or move them aside to start an empty store.")
        try:
            db = self._connect()
        except sqlite3.DatabaseError as e:
            if not self._full(e):
                raise self._error(e) from None
            db = self._read_only()  # SQLite could not make its WAL index on the full disk: read the file as it is
        try:
            with closing(db), db:
                yield db
        except sqlite3.DatabaseError as e:
            raise self._error(e) from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; no fsync per progress write
            db.execute("PRAGMA foreign_keys=ON")
            if db.execute("SELECT count(*) FROM sqlite_master WHERE name='runs'").fetchone()[0] == 0:
                with db:
                    schema.migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _read_only(self) -> sqlite3.Connection:
        try:
            db = read_only(self.path)
        except sqlite3.DatabaseError as e:
            raise self._error(e) from None
        db.row_factory = sqlite3.Row
        return db

    def _full(self, e: sqlite3.DatabaseError) -> bool:
        """Whether SQLite failed for want of space: its own word for it, or any I/O or write error on a full disk."""
        return "disk is full" in str(e) or (isinstance(e, sqlite3.OperationalError) and files.disk_full(self.root))

    def _error(self, e: sqlite3.DatabaseError) -> Exception:
        """The exception a person is shown for what SQLite raised: busy, a full disk, damaged; a mistake of ours as is."""
        if isinstance(e, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)):
            return e
        if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
            return UserError("The run store stayed busy for 30 seconds: try again in a moment.")
        if self._full(e):
            return files.full_disk(self.root, "nothing new can be kept in the run store (what it holds is safe and "
                                              "can still be read)")
        return UserError(f"The run store {self.path} is damaged ({e}): restore the latest automatic backup "
                         f"with `digitlab restore --runs {self.root}`.")

    def _was_here(self) -> bool:
        """Whether this folder held a store: a backup of it, or its damaged file moved aside by a restore."""
        return any(self.backups.glob("runs-*.db")) or any(self.root.glob("runs.db.damaged-*"))

    def run_dir(self, run_id: int) -> Path:
        return self.root / str(run_id)

    def option(self, key: str, default: str) -> str:
        with self._db() as db:
            row = db.execute("SELECT value FROM options WHERE key=?", (key,)).fetchone()
        return row["value"] if row else default

    def set_option(self, key: str, value: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO options (key, value) VALUES (?, ?)", (key, value))
