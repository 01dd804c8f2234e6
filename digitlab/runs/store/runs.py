"""Runs and their metrics: a run's record, its epochs and steps, its end, cancel and delete, and reaping."""

import json
import shutil
import time

from digitlab import UserError, files
from digitlab.learn.config import TrainConfig
from digitlab.runs.store.base import Run, Status, _run, pid_alive
from digitlab.runs.store.schema import EPOCH_COLS

RESUME = "resume.pt"  # in a running run's folder: what its loop held after its last finished epoch (train's 'resume')
MAX_RESUMES = 3       # a run whose worker keeps dying (out of memory, say) fails rather than loop for ever


class Runs:
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
        """Record a run's end: it has nothing left to resume; a run deleted while it ran is removed now that nothing
        holds it."""
        self.update(run_id, status=status, error=error, finished=time.time(), **summary)
        (self.run_dir(run_id) / RESUME).unlink(missing_ok=True)  # after the record: a failed write keeps it
        self._remove_if_deleted(run_id)

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

    def _remove_if_deleted(self, run_id: int) -> None:
        """A run deleted while it ran is removed once nothing holds it: when it ends, or its dead worker is reaped."""
        with self._db() as db:
            row = db.execute("SELECT delete_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        if row and row["delete_requested"]:
            self._remove(run_id)

    def _remove(self, run_id: int) -> None:
        with self._db() as db:
            db.execute("DELETE FROM runs WHERE id=?", (run_id,))
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    def reap(self) -> int:
        """Every running run whose worker process is gone goes back to the queue to go on from its last finished
        epoch, where it kept what that takes (RESUME) and has not already been taken up MAX_RESUMES times; else it is
        marked failed, keeping its best checkpoint. Returns how many were reaped."""
        with self._db() as db:
            rows = db.execute("SELECT id, pid, checkpoint, resumed, cancel_requested FROM runs WHERE status=?",
                              (Status.RUNNING,)).fetchall()
        dead = [r for r in rows if not pid_alive(r["pid"])]
        for r in dead:
            self._reap(r["id"], r["checkpoint"], r["resumed"], r["cancel_requested"])
            self._remove_if_deleted(r["id"])
        return len(dead)

    def _reap(self, run_id: int, kept: str | None, resumed: int, cancelling: bool) -> None:
        resume = self.run_dir(run_id) / RESUME
        if resume.exists() and resumed < MAX_RESUMES and not cancelling:
            with self._db() as db:
                db.execute("UPDATE runs SET status=?, pid=NULL, resumed=resumed+1 WHERE id=? AND status=?",
                           (Status.QUEUED, run_id, Status.RUNNING))
            return
        if cancelling:  # it was being cancelled: it stays cancelled
            status, said = Status.CANCELLED, None
        else:
            if resumed >= MAX_RESUMES:
                said = (f"it went on from its last epoch {MAX_RESUMES} times and stopped again each time (out of "
                        "memory?); its best checkpoint is kept")
            elif kept:
                said = "the best checkpoint of its finished epochs is kept; launch the run again to finish it"
            else:
                said = "it had not finished an epoch, so nothing was kept; launch the run again"
            if files.disk_full(self.root):
                said = f"the disk holding {self.root} is full; {said}"
            status, said = Status.FAILED, f"The worker process stopped unexpectedly: {said}."
        with self._db() as db:
            db.execute("UPDATE runs SET status=?, finished=?, error=? WHERE id=? AND status=?",
                       (status, time.time(), said, run_id, Status.RUNNING))
        resume.unlink(missing_ok=True)

    def wait_for_space(self, run_id: int, why: str) -> None:
        """A run stopped by a full disk goes back to the queue (to go on from its last finished epoch, if it kept
        one), saying why; no worker starts while the disk stays full."""
        with self._db() as db:
            db.execute("UPDATE runs SET status=?, pid=NULL, error=? WHERE id=? AND status=?",
                       (Status.QUEUED, why, run_id, Status.RUNNING))

    def rewind(self, run_id: int, epoch: int) -> None:
        """Forget what a run recorded after epoch (the part of an epoch its dead worker had done): it goes on from
        there."""
        with self._db() as db:
            for table in ("steps", "epochs", "pin_scores"):
                db.execute(f"DELETE FROM {table} WHERE run_id=? AND epoch>?", (run_id, epoch))
            db.execute("UPDATE runs SET epoch=?, step=0 WHERE id=?", (epoch, run_id))

    def get(self, run_id: int) -> Run:
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id=? AND delete_requested=0", (run_id,)).fetchone()
        if row is None:
            raise UserError(f"There is no run {run_id}: list the runs with `digitlab runs`.")
        return _run(row)

    def runs(self, *statuses: Status, owner: str | None = None) -> list[Run]:
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

    def steps(self, run_id: int, after: int = 0) -> list[dict]:
        """The per-step losses of a run, or only those after a step already seen."""
        with self._db() as db:
            return [dict(r) for r in db.execute("SELECT step, epoch, loss FROM steps WHERE run_id=? AND step>? "
                                                "ORDER BY step", (run_id, after))]
