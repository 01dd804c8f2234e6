"""The run store: one SQLite file (WAL) of runs, per-epoch metrics and per-step losses, plus run folders."""

import json
import os
import shutil
import sqlite3
import time
from contextlib import closing, contextmanager
from enum import StrEnum
from pathlib import Path

from digitlab import UserError
from digitlab.config import LEGACY_KEYS, TrainConfig


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
    checkpoint TEXT
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL, train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL,
    test_loss REAL, test_acc REAL, seconds REAL, lr REAL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL, epoch INTEGER NOT NULL, loss REAL,
    PRIMARY KEY (run_id, step)
);
"""


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
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "runs.db"
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self):
        """A short-lived connection, one transaction: safe from any thread or process."""
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; no fsync per progress write
            db.execute("PRAGMA foreign_keys=ON")
            with db:
                yield db

    def run_dir(self, run_id: int) -> Path:
        return self.root / str(run_id)

    # --- writing -------------------------------------------------------------

    def create(self, config: TrainConfig, pid: int | None = None) -> int:
        """A new run: queued for a worker, or, given the pid of the process that trains it now, running."""
        now = time.time()
        with self._db() as db:
            status = Status.RUNNING if pid else Status.QUEUED
            cur = db.execute("INSERT INTO runs (name, config, status, created, started, pid) VALUES (?, ?, ?, ?, ?, ?)",
                             (config.display_name(), json.dumps(config.to_dict()), status, now, now if pid else None,
                              pid))
            return cur.lastrowid

    def claim_next(self, pid: int) -> int | None:
        """Atomically take the oldest queued run for this worker; None when the queue is empty."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT id FROM runs WHERE status=? ORDER BY id LIMIT 1", (Status.QUEUED,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE runs SET status=?, pid=?, started=? WHERE id=?",
                       (Status.RUNNING, pid, time.time(), row["id"]))
            return row["id"]

    def update(self, run_id: int, **fields) -> None:
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._db() as db:
            db.execute(f"UPDATE runs SET {cols} WHERE id=?", (*fields.values(), run_id))

    def add_steps(self, run_id: int, epoch: int, first_step: int, losses: list[float], step_in_epoch: int) -> None:
        with self._db() as db:
            db.executemany("INSERT OR REPLACE INTO steps (run_id, step, epoch, loss) VALUES (?, ?, ?, ?)",
                           [(run_id, first_step + k, epoch, v) for k, v in enumerate(losses)])
            db.execute("UPDATE runs SET epoch=?, step=? WHERE id=?", (epoch, step_in_epoch, run_id))

    def add_epoch(self, run_id: int, m: dict) -> None:
        with self._db() as db:
            db.execute(f"INSERT OR REPLACE INTO epochs (run_id, {', '.join(EPOCH_COLS)}) "
                       f"VALUES (?, {', '.join('?' * len(EPOCH_COLS))})", (run_id, *(m[c] for c in EPOCH_COLS)))

    def finish(self, run_id: int, status: Status, error: str | None = None, **summary) -> None:
        self.update(run_id, status=status, error=error, finished=time.time(), **summary)

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
        """Remove a finished run, its metrics and its files."""
        run = self.get(run_id)
        if run["status"].active:
            raise UserError(f"Run {run_id} is {run['status']}: cancel it before deleting it.")
        with self._db() as db:
            db.execute("DELETE FROM runs WHERE id=?", (run_id,))
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    def reap(self) -> int:
        """Mark failed every running run whose worker process is gone; returns how many."""
        with self._db() as db:
            rows = db.execute("SELECT id, pid FROM runs WHERE status=?", (Status.RUNNING,)).fetchall()
        dead = [r["id"] for r in rows if not pid_alive(r["pid"])]
        for run_id in dead:
            with self._db() as db:
                db.execute("UPDATE runs SET status=?, finished=?, error=? WHERE id=? AND status=?",
                           (Status.FAILED, time.time(), "The worker process stopped unexpectedly: launch the run again.",
                            run_id, Status.RUNNING))
        return len(dead)

    # --- reading -------------------------------------------------------------

    def get(self, run_id: int) -> dict:
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise UserError(f"There is no run {run_id}: list the runs with `digitlab runs`.")
        return _run(row)

    def runs(self, *statuses: Status) -> list[dict]:
        """Every run, newest first; or only those in the given statuses."""
        where = f"WHERE status IN ({', '.join('?' * len(statuses))})" if statuses else ""
        with self._db() as db:
            return [_run(r) for r in db.execute(f"SELECT * FROM runs {where} ORDER BY id DESC", statuses)]

    def epochs(self, run_id: int) -> list[dict]:
        with self._db() as db:
            return [dict(r) for r in db.execute("SELECT * FROM epochs WHERE run_id=? ORDER BY epoch", (run_id,))]

    def steps(self, run_id: int) -> list[dict]:
        with self._db() as db:
            return [dict(r) for r in db.execute("SELECT step, epoch, loss FROM steps WHERE run_id=? ORDER BY step",
                                                (run_id,))]


def _run(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["config"] = {LEGACY_KEYS.get(k, k): v for k, v in json.loads(d["config"]).items()}
    d["status"] = Status(d["status"])
    return d
