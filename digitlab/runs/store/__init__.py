"""The run store: one SQLite file (WAL) of runs, per-epoch metrics and per-step losses, plus run folders and backups.

One `Store` face over parts split by what they keep (base: the file and its transactions; runs and metrics; the queue;
pins and snapshots; sweeps; My digits; lesson answers; sign-in attempts; backups); the schema and its migrations live in `schema`.
"""

from digitlab.runs.store.backups import BACKUPS_KEPT, Backups
from digitlab.runs.store.base import Base, Run, Status, Sweep, SweepStatus, pid_alive, runs_root
from digitlab.runs.store.digits import Digits
from digitlab.runs.store.pins import MAX_PINS, SNAPSHOTS, Pins, check_pins
from digitlab.runs.store.answers import Answers
from digitlab.runs.store.queue import Queue
from digitlab.runs.store.runs import Runs
from digitlab.runs.store.schema import EPOCH_COLS, SCHEMA
from digitlab.runs.store.signins import SignIns
from digitlab.runs.store.sweeps import Sweeps


class Store(Runs, Queue, Pins, Sweeps, Digits, Answers, SignIns, Backups, Base):
    """Everything digitlab keeps about runs, in one folder; safe from any thread or process."""


__all__ = ["BACKUPS_KEPT", "EPOCH_COLS", "MAX_PINS", "SCHEMA", "SNAPSHOTS", "Run", "Status", "Sweep", "SweepStatus", "check_pins", "Store", "pid_alive", "runs_root"]
