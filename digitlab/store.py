"""The run store: one SQLite file (WAL) of runs, per-epoch metrics and per-step losses, plus run folders and backups."""

import json
import os
import shutil
import sqlite3
import time
from contextlib import closing, contextmanager
from enum import StrEnum
from pathlib import Path

import numpy as np

from digitlab import UserError
from digitlab.config import LEGACY_KEYS, TrainConfig

BACKUPS_KEPT = 5
MAX_PINS = 8            # drawings one run watches as it trains
SNAPSHOTS = "first-layer"  # a run's folder of first-layer weights, one file an epoch


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


EPOCH_COLS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "seconds", "lr")
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    config TEXT NOT NULL,              -- TrainConfig as JSON
    status TEXT NOT NULL,
    created REAL NOT NULL, started REAL, finished REAL,
    error TEXT, device TEXT, pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER NOT NULL DEFAULT 0, step INTEGER NOT NULL DEFAULT 0, steps_per_epoch INTEGER,
    best_epoch INTEGER, best_val_acc REAL, test_acc REAL, train_seconds REAL, num_params INTEGER,
    checkpoint TEXT,
    owner TEXT NOT NULL DEFAULT '',    -- who launched it ('' on a single-user machine)
    delete_requested INTEGER NOT NULL DEFAULT 0,  -- deleted while running: removed once its worker lets go
    batch INTEGER,                     -- runs queued together (a comparison): the id of the first; NULL alone
    sweep INTEGER, trial INTEGER       -- a sweep's trial: the sweep's id and Optuna's trial number
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL, train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL,
    test_loss REAL, test_acc REAL, seconds REAL, lr REAL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS options (key TEXT PRIMARY KEY, value TEXT NOT NULL);  -- switches a teacher sets
CREATE TABLE IF NOT EXISTS digits (                    -- My digits: drawings people saved with their labels
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL DEFAULT '',
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    created REAL NOT NULL,
    drawing BLOB NOT NULL,             -- the PNG the pad sent (an imported 28x28 when the zip had no drawing)
    seen BLOB NOT NULL                 -- the 28x28 uint8 image the model saw, row by row
);
CREATE TABLE IF NOT EXISTS pins (                      -- drawings a run scores as it trains ("watch it learn")
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    slot INTEGER NOT NULL, label INTEGER, image BLOB NOT NULL,  -- image: the 28x28 uint8 the model reads
    PRIMARY KEY (run_id, slot)
);
CREATE TABLE IF NOT EXISTS pin_scores (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL, epoch INTEGER NOT NULL, probs TEXT NOT NULL,  -- JSON: each pin's ten probabilities
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS sweeps (                    -- hyperparameter searches; their trials are runs
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, spec TEXT NOT NULL,                -- sweep.Spec as JSON
    owner TEXT NOT NULL DEFAULT '', created REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'running'                 -- running, done or cancelled
);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL, epoch INTEGER NOT NULL, loss REAL,
    PRIMARY KEY (run_id, step)
);
"""
ADDED_COLUMNS = {"owner": "TEXT NOT NULL DEFAULT ''", "delete_requested": "INTEGER NOT NULL DEFAULT 0",
                 "batch": "INTEGER", "sweep": "INTEGER", "trial": "INTEGER"}


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


class Store:
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
            db.executescript(SCHEMA)  # tables an older digitlab did not make
            have = {row["name"] for row in db.execute("PRAGMA table_info(runs)")}
            for column, kind in ADDED_COLUMNS.items():  # a store made by an older digitlab
                if column not in have:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")

    @contextmanager
    def _db(self):
        """A short-lived connection, one transaction: safe from any thread or process.

        A damaged file is one sentence naming the fix; a file emptied under us gets its tables back.
        """
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as db:
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; no fsync per progress write
                db.execute("PRAGMA foreign_keys=ON")
                if db.execute("SELECT count(*) FROM sqlite_master WHERE name='runs'").fetchone()[0] == 0:
                    db.executescript(SCHEMA)
                with db:
                    yield db
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                raise UserError("The run store stayed busy for 30 seconds: try again in a moment.") from None
            if isinstance(e, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)):
                raise
            raise UserError(f"The run store {self.path} is damaged ({e}): restore the latest automatic backup "
                            f"with `digitlab restore --runs {self.root}`.") from None

    def run_dir(self, run_id: int) -> Path:
        return self.root / str(run_id)

    # --- writing -------------------------------------------------------------

    def create(self, config: TrainConfig, pid: int | None = None, owner: str = "", pins=()) -> int:
        """A new run: queued for a worker, or, given the pid of the process that trains it now, running."""
        now = time.time()
        with self._db() as db:
            status = Status.RUNNING if pid else Status.QUEUED
            cur = db.execute("INSERT INTO runs (name, config, status, created, started, pid, owner) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", (config.display_name(), json.dumps(config.to_dict()),
                                                              status, now, now if pid else None, pid, owner))
            self._add_pins(db, cur.lastrowid, pins)
            return cur.lastrowid

    def create_batch(self, configs: list[TrainConfig], owner: str = "", pins=(), sweep: int | None = None,
                     trials: list[int] | None = None) -> list[int]:
        """Queue runs that belong together, in one transaction: all or none; more than one share a batch, the id
        of the first, by which the pages know them as one comparison. pins: (label or None, 784 bytes) drawings
        every run of them scores as it trains; sweep and trials: the sweep they are trials of, and their numbers."""
        now, ids = time.time(), []
        trials = trials or [None] * len(configs)
        with self._db() as db:
            for config, trial in zip(configs, trials):
                ids.append(db.execute("INSERT INTO runs (name, config, status, created, owner, batch, sweep, trial) "
                                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                      (config.display_name(), json.dumps(config.to_dict()), Status.QUEUED, now, owner,
                                       ids[0] if ids else None, sweep, trial)).lastrowid)
                self._add_pins(db, ids[-1], pins)
            if len(ids) > 1:
                db.execute("UPDATE runs SET batch=? WHERE id=?", (ids[0], ids[0]))
        return ids

    @staticmethod
    def _add_pins(db, run_id: int, pins) -> None:
        if len(pins) > MAX_PINS:
            raise UserError(f"A run can watch at most {MAX_PINS} drawings, got {len(pins)}: unpin some.")
        for slot, (label, image) in enumerate(pins):
            if not isinstance(image, bytes) or len(image) != 28 * 28:
                raise UserError("A pinned drawing must be a 28x28 image: pin it again from the Draw page.")
            if label is not None and label not in range(10):
                raise UserError(f"A pinned drawing's label must be a digit from 0 to 9, got {label!r}.")
            db.execute("INSERT INTO pins (run_id, slot, label, image) VALUES (?, ?, ?, ?)", (run_id, slot, label, image))

    def claim_next(self, pid: int) -> int | None:
        """Atomically take the next queued run, fairly across owners (see queue_order); None when none waits."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            order = _queue_order(db)
            if not order:
                return None
            db.execute("UPDATE runs SET status=?, pid=?, started=? WHERE id=?",
                       (Status.RUNNING, pid, time.time(), order[0]))
            return order[0]

    def queue_order(self) -> list[int]:
        """Queued run ids in the order workers will take them."""
        with self._db() as db:
            return _queue_order(db)

    def update(self, run_id: int, **fields) -> None:
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._db() as db:
            db.execute(f"UPDATE runs SET {cols} WHERE id=?", (*fields.values(), run_id))

    def add_steps(self, run_id: int, epoch: int, first_step: int, losses: list[float], step_in_epoch: int) -> None:
        with self._db() as db:
            db.executemany("INSERT OR REPLACE INTO steps (run_id, step, epoch, loss) VALUES (?, ?, ?, ?)",
                           [(run_id, first_step + k, epoch, v) for k, v in enumerate(losses)])
            db.execute("UPDATE runs SET epoch=?, step=? WHERE id=?", (epoch, step_in_epoch, run_id))

    def add_pin_scores(self, run_id: int, epoch: int, step: int, probs: list[list[float]]) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO pin_scores (run_id, step, epoch, probs) VALUES (?, ?, ?, ?)",
                       (run_id, step, epoch, json.dumps([[round(p, 5) for p in row] for row in probs])))

    def save_snapshot(self, run_id: int, epoch: int, weights: np.ndarray) -> None:
        """A run's first layer after an epoch (0: before training), one small .npy file an epoch in its folder."""
        from digitlab.checkpoint import write_atomically  # here: it brings torch, which readers of the store never load

        path = self.run_dir(run_id) / SNAPSHOTS / f"epoch-{epoch:04d}.npy"
        write_atomically(path, lambda f: np.save(f, weights, allow_pickle=False))

    def add_epoch(self, run_id: int, m: dict) -> None:
        with self._db() as db:
            db.execute(f"INSERT OR REPLACE INTO epochs (run_id, {', '.join(EPOCH_COLS)}) "
                       f"VALUES (?, {', '.join('?' * len(EPOCH_COLS))})", (run_id, *(m[c] for c in EPOCH_COLS)))

    def finish(self, run_id: int, status: Status, error: str | None = None, **summary) -> None:
        """Record a run's end; a run deleted while it ran is removed now that nothing holds it."""
        self.update(run_id, status=status, error=error, finished=time.time(), **summary)
        with self._db() as db:
            row = db.execute("SELECT delete_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        if row and row["delete_requested"]:
            self._remove(run_id)

    def request_cancel(self, run_id: int) -> None:
        """A queued run is cancelled at once; a running one when its worker next checks."""
        with self._db() as db:
            db.execute("UPDATE runs SET status=?, finished=? WHERE id=? AND status=?",
                       (Status.CANCELLED, time.time(), run_id, Status.QUEUED))
            db.execute("UPDATE runs SET cancel_requested=1 WHERE id=? AND status=?", (run_id, Status.RUNNING))

    def cancel_requested(self, run_id: int) -> bool:
        with self._db() as db:
            row = db.execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row[0])

    def delete(self, run_id: int) -> None:
        """Remove a run, its metrics and its files; a running one is cancelled first and removed when it stops."""
        self.get(run_id)  # no such run: one sentence
        self.request_cancel(run_id)
        with self._db() as db:
            db.execute("UPDATE runs SET delete_requested=1 WHERE id=?", (run_id,))
            running = db.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()["status"] == Status.RUNNING
        if not running:
            self._remove(run_id)

    def _remove(self, run_id: int) -> None:
        with self._db() as db:
            db.execute("DELETE FROM runs WHERE id=?", (run_id,))
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    def reap(self) -> int:
        """Mark failed every running run whose worker process is gone, keeping its best checkpoint; returns how many."""
        with self._db() as db:
            rows = db.execute("SELECT id, pid FROM runs WHERE status=?", (Status.RUNNING,)).fetchall()
        dead = [r["id"] for r in rows if not pid_alive(r["pid"])]
        for run_id in dead:
            with self._db() as db:
                db.execute("UPDATE runs SET status=?, finished=?, error=? WHERE id=? AND status=?",
                           (Status.FAILED, time.time(), "The worker process stopped unexpectedly: the best checkpoint "
                            "of its finished epochs is kept; launch the run again to finish it.", run_id, Status.RUNNING))
                row = db.execute("SELECT delete_requested FROM runs WHERE id=?", (run_id,)).fetchone()
            if row and row["delete_requested"]:
                self._remove(run_id)
        return len(dead)

    def option(self, key: str, default: str) -> str:
        with self._db() as db:
            row = db.execute("SELECT value FROM options WHERE key=?", (key,)).fetchone()
        return row["value"] if row else default

    def set_option(self, key: str, value: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO options (key, value) VALUES (?, ?)", (key, value))

    # --- sweeps ----------------------------------------------------------------

    def create_sweep(self, name: str, spec: dict, owner: str = "") -> int:
        with self._db() as db:
            return db.execute("INSERT INTO sweeps (name, spec, owner, created) VALUES (?, ?, ?, ?)",
                              (name, json.dumps(spec), owner, time.time())).lastrowid

    def sweeps(self, owner: str | None = None, status: str | None = None) -> list[dict]:
        """Sweeps, newest first: everyone's or one owner's, in any status or one."""
        where, args = [], []
        if owner is not None:
            where.append("owner=?")
            args.append(owner)
        if status is not None:
            where.append("status=?")
            args.append(status)
        with self._db() as db:
            rows = db.execute(f"SELECT * FROM sweeps {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY id DESC",
                              args).fetchall()
        return [_sweep(r) for r in rows]

    def get_sweep(self, sweep_id: int) -> dict:
        with self._db() as db:
            row = db.execute("SELECT * FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
        if row is None:
            raise UserError(f"There is no sweep {sweep_id}: list them with `digitlab sweeps`.")
        return _sweep(row)

    def set_sweep_status(self, sweep_id: int, status: str) -> None:
        with self._db() as db:
            db.execute("UPDATE sweeps SET status=? WHERE id=?", (status, sweep_id))

    def sweep_runs(self, sweep_id: int) -> list[dict]:
        """A sweep's trials as runs, in trial order."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM runs WHERE sweep=? AND delete_requested=0 ORDER BY trial",
                              (sweep_id,)).fetchall()
        return [_run(r) for r in rows]

    # --- My digits -------------------------------------------------------------

    def add_digits(self, items: list[tuple[int, bytes, bytes]], owner: str, limit: int) -> list[int]:
        """Keep (label, drawing PNG, 784 bytes seen) items of one owner, all or none, within limit per owner."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            have = db.execute("SELECT count(*) FROM digits WHERE owner=?", (owner,)).fetchone()[0]
            if have + len(items) > limit:
                more = f", and these {len(items)} would pass" if len(items) > 1 else ","
                raise UserError(f"You keep {have} digits{more} the limit of {limit} (limits.digits_per_person in the "
                                "settings): delete some on the My digits page first.")
            now = time.time()
            ids = [db.execute("INSERT INTO digits (owner, label, created, drawing, seen) VALUES (?, ?, ?, ?, ?)",
                              (owner, int(label), now, drawing, seen)).lastrowid for label, drawing, seen in items]
            self._digits_changed(db)
        return ids

    def digits(self, owner: str | None = None, *, images: bool = True) -> list[dict]:
        """Saved digits, oldest first: everyone's, or one owner's; without the images when images is False."""
        cols = "id, owner, label, created" + (", drawing, seen" if images else "")
        where, args = ("WHERE owner=?", (owner,)) if owner is not None else ("", ())
        with self._db() as db:
            return [dict(r) for r in db.execute(f"SELECT {cols} FROM digits {where} ORDER BY id", args)]

    def relabel_digits(self, labels: dict[int, int], owner: str | None = None) -> int:
        """Give digits new labels (only owner's, when given); returns how many changed."""
        mine, args = ("AND owner=?", [owner]) if owner is not None else ("", [])
        with self._db() as db:
            n = sum(db.execute(f"UPDATE digits SET label=? WHERE id=? AND label<>? {mine}",
                               (int(label), int(i), int(label), *args)).rowcount for i, label in labels.items())
            self._digits_changed(db)
        return n

    def delete_digits(self, ids, owner: str | None = None) -> int:
        """Delete digits (only owner's, when given); returns how many went."""
        mine, args = ("AND owner=?", [owner]) if owner is not None else ("", [])
        with self._db() as db:
            n = sum(db.execute(f"DELETE FROM digits WHERE id=? {mine}", (int(i), *args)).rowcount for i in ids)
            self._digits_changed(db)
        return n

    def digits_version(self) -> int:
        """A number that changes whenever any saved digit does: the key of what is computed from them."""
        with self._db() as db:
            row = db.execute("SELECT value FROM options WHERE key='digits_changed'").fetchone()
        return int(row["value"]) if row else 0

    @staticmethod
    def _digits_changed(db) -> None:
        db.execute("INSERT INTO options (key, value) VALUES ('digits_changed', '1') ON CONFLICT(key) DO UPDATE SET "
                   "value = CAST(value AS INTEGER) + 1")

    # --- backups -------------------------------------------------------------

    def backup(self) -> Path:
        """A consistent copy of the store (SQLite's online backup), taken while others write; the newest few kept."""
        self.backups.mkdir(exist_ok=True)
        dest = self.backups / f"runs-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}.db"
        tmp = dest.with_suffix(".tmp")
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as src, closing(sqlite3.connect(tmp)) as dst:
                src.backup(dst)
            tmp.replace(dest)
        except sqlite3.DatabaseError as e:
            tmp.unlink(missing_ok=True)
            raise UserError(f"Could not back up the run store ({e}): the last good backup is kept.") from None
        for old in sorted(self.backups.glob("runs-*.db"))[:-BACKUPS_KEPT]:
            old.unlink(missing_ok=True)
        return dest

    def latest_backup(self) -> Path | None:
        found = sorted(self.backups.glob("runs-*.db"))
        return found[-1] if found else None

    @staticmethod
    def restore(root=None, backup: Path | None = None) -> Path:
        """Put a backup (the newest by default) in place of the store; the damaged file is kept beside it."""
        root = runs_root(root)
        found = sorted((root / "backups").glob("runs-*.db"))
        backup = Path(backup) if backup else (found[-1] if found else None)
        if backup is None or not backup.is_file():
            raise UserError(f"There is no backup of the run store in {root / 'backups'}: nothing to restore.")
        path = root / "runs.db"
        if path.exists():
            path.replace(root / f"runs.db.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for extra in ("runs.db-wal", "runs.db-shm"):
            (root / extra).unlink(missing_ok=True)
        shutil.copyfile(backup, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
        return backup

    # --- reading -------------------------------------------------------------

    def get(self, run_id: int) -> dict:
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id=? AND delete_requested=0", (run_id,)).fetchone()
        if row is None:
            raise UserError(f"There is no run {run_id}: list the runs with `digitlab runs`.")
        return _run(row)

    def runs(self, *statuses: Status, owner: str | None = None) -> list[dict]:
        """Every run, newest first; or only those in the given statuses, or of one owner."""
        where, args = ["delete_requested=0"], list(statuses)
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
        if owner is not None:
            where.append("owner=?")
            args.append(owner)
        with self._db() as db:
            return [_run(r) for r in db.execute(f"SELECT * FROM runs WHERE {' AND '.join(where)} ORDER BY id DESC",
                                                args)]

    def epochs(self, run_id: int) -> list[dict]:
        with self._db() as db:
            return [dict(r) for r in db.execute("SELECT * FROM epochs WHERE run_id=? ORDER BY epoch", (run_id,))]

    def pins(self, run_id: int) -> list[dict]:
        """The drawings a run watches: slot, label (or None) and image (the 28x28 uint8 array)."""
        with self._db() as db:
            rows = db.execute("SELECT slot, label, image FROM pins WHERE run_id=? ORDER BY slot", (run_id,)).fetchall()
        return [{"slot": r["slot"], "label": r["label"],
                 "image": np.frombuffer(r["image"], np.uint8).reshape(28, 28)} for r in rows]

    def pin_scores(self, run_id: int, after: int = 0) -> list[dict]:
        """The pinned drawings' probabilities as the run trained: step, epoch, probs (K lists of ten)."""
        with self._db() as db:
            rows = db.execute("SELECT step, epoch, probs FROM pin_scores WHERE run_id=? AND step>? ORDER BY step",
                              (run_id, after)).fetchall()
        return [{"step": r["step"], "epoch": r["epoch"], "probs": json.loads(r["probs"])} for r in rows]

    def snapshots(self, run_id: int) -> dict[int, np.ndarray]:
        """The first layer of a run at every epoch it kept: {epoch: weights}; empty for a run from before them."""
        out = {}
        for path in sorted((self.run_dir(run_id) / SNAPSHOTS).glob("epoch-*.npy")):
            try:
                out[int(path.stem[6:])] = np.load(path, allow_pickle=False)
            except (OSError, ValueError):  # a file cut short by a crash: that epoch is missing, the rest shows
                continue
        return out

    def steps(self, run_id: int, after: int = 0) -> list[dict]:
        """The per-step losses of a run, or only those after a step already seen."""
        with self._db() as db:
            return [dict(r) for r in db.execute("SELECT step, epoch, loss FROM steps WHERE run_id=? AND step>? "
                                                "ORDER BY step", (run_id, after))]


def _queue_order(db) -> list[int]:
    """Round robin across owners: next is the queued run of the owner with the fewest runs running, then of the
    owner served longest ago, then the oldest; each pick counts as running for the picks after it."""
    queued = db.execute("SELECT id, owner FROM runs WHERE status=? AND delete_requested=0 ORDER BY id",
                        (Status.QUEUED,)).fetchall()
    running, served = {}, {}
    for row in db.execute("SELECT owner, COUNT(*) AS n FROM runs WHERE status=? GROUP BY owner", (Status.RUNNING,)):
        running[row["owner"]] = row["n"]
    for row in db.execute("SELECT owner, MAX(started) AS last FROM runs WHERE started IS NOT NULL GROUP BY owner"):
        served[row["owner"]] = row["last"]
    order, waiting, now = [], [(r["id"], r["owner"]) for r in queued], time.time()
    while waiting:
        run_id, owner = min(waiting, key=lambda w: (running.get(w[1], 0), served.get(w[1], -1.0), w[0]))
        order.append(run_id)
        waiting.remove((run_id, owner))
        running[owner] = running.get(owner, 0) + 1
        served[owner] = now + len(order)  # served by this pick: later than anyone before
    return order


def _run(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["config"] = {LEGACY_KEYS.get(k, k): v for k, v in json.loads(d["config"]).items()}
    d["status"] = Status(d["status"])
    return d


def _sweep(row: sqlite3.Row) -> dict:
    return {**dict(row), "spec": json.loads(row["spec"])}
