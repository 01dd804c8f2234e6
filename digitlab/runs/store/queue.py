"""The queue: runs that belong together queued in one transaction, and claimed fairly across owners."""

import json
import time

from digitlab.learn.config import TrainConfig
from digitlab.runs.store.base import Status


class Queue:
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

    def claim_next(self, pid: int) -> int | None:
        """Atomically take the next queued run, fairly across owners (see queue_order); None when none waits."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            order = _queue_order(db)
            if not order:
                return None
            db.execute("UPDATE runs SET status=?, pid=?, started=?, error=NULL WHERE id=?",
                       (Status.RUNNING, pid, time.time(), order[0]))
            return order[0]

    def queue_order(self) -> list[int]:
        """Queued run ids in the order workers will take them."""
        with self._db() as db:
            return _queue_order(db)


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
