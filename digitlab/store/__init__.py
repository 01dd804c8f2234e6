"""The run store: one SQLite file (WAL) of runs, per-epoch metrics and per-step losses, plus run folders and backups.

One `Store` face over parts split by what they keep (base: the file and its transactions; runs and metrics; the queue;
pins and snapshots; sweeps; My digits; lesson progress; backups); the schema and its migrations live in `schema`.
"""

from digitlab.store.backups import BACKUPS_KEPT, Backups
from digitlab.store.base import Base, Status, pid_alive, runs_root
from digitlab.store.digits import Digits
from digitlab.store.pins import MAX_PINS, SNAPSHOTS, Pins, check_pins
from digitlab.store.progress import Progress
from digitlab.store.queue import Queue
from digitlab.store.runs import Runs
from digitlab.store.schema import EPOCH_COLS, SCHEMA
from digitlab.store.sweeps import Sweeps


class Store(Runs, Queue, Pins, Sweeps, Digits, Progress, Backups, Base):
    """Everything digitlab keeps about runs, in one folder; safe from any thread or process."""


__all__ = ["BACKUPS_KEPT", "EPOCH_COLS", "MAX_PINS", "SCHEMA", "SNAPSHOTS", "Status", "check_pins", "Store", "pid_alive", "runs_root"]
