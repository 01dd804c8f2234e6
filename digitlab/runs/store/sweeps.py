"""Sweeps: hyperparameter searches, whose trials are runs."""

import json
import sqlite3
import time

from digitlab import UserError
from digitlab.runs.store.base import Run, Sweep, SweepStatus, _run


class Sweeps:
    def create_sweep(self, name: str, spec: dict, owner: str = "") -> int:
        with self._db() as db:
            return db.execute("INSERT INTO sweeps (name, spec, owner, created) VALUES (?, ?, ?, ?)",
                              (name, json.dumps(spec), owner, time.time())).lastrowid

    def sweeps(self, owner: str | None = None, status: SweepStatus | None = None) -> list[Sweep]:
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

    def get_sweep(self, sweep_id: int) -> Sweep:
        with self._db() as db:
            row = db.execute("SELECT * FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
        if row is None:
            raise UserError(f"There is no sweep {sweep_id}: list them with `digitlab sweeps`.")
        return _sweep(row)

    def set_sweep_status(self, sweep_id: int, status: SweepStatus) -> None:
        with self._db() as db:
            db.execute("UPDATE sweeps SET status=? WHERE id=?", (status, sweep_id))

    def sweep_runs(self, sweep_id: int) -> list[Run]:
        """A sweep's trials as runs, in trial order."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM runs WHERE sweep=? AND delete_requested=0 ORDER BY trial",
                              (sweep_id,)).fetchall()
        return [_run(r) for r in rows]


def _sweep(row: sqlite3.Row) -> Sweep:
    return Sweep(row["id"], row["name"], json.loads(row["spec"]), SweepStatus(row["status"]), row["owner"], row["created"])
