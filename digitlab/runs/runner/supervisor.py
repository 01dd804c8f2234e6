"""The supervisor: keeps a store's queue moving, apart from any page. It marks failed the runs whose worker died,
backs the store up, queues each sweep's next trials, and hands the queue to its executor: local workers
(`workers.Local`), or a Ray cluster (`cluster.Ray`) when the settings name one."""

import sys
import threading
import time

from digitlab import files
from digitlab.runs import sweep
from digitlab.runs.runner import cluster, workers
from digitlab.runs.store import Store

BACKUP_EVERY = 600.0  # seconds between the supervisor's backups of the run store
STARTED: list["Supervisor"] = []  # every supervisor this process started, so that it can stop them (a test's)


def executor_for(store: Store, data_root=None, slots: int | None = None, retry_after: float = 5.0):
    """What trains the queue here: the Ray cluster the settings (or $DIGITLAB_RAY_ADDRESS) name, else local workers."""
    if cluster.address():
        return cluster.Ray(store, data_root)
    return workers.Local(store, data_root, slots, retry_after)


class Supervisor:
    """Every `every` seconds (or at once when woken) it ticks; one supervisor per store acts at a time (a lock file),
    others stand by. executor: anything with tick() that trains queued runs through execution.execute."""

    def __init__(self, store: Store, data_root=None, slots: int | None = None, every: float = 2.0,
                 retry_after: float = 5.0, executor=None):
        self.store, self.data_root, self.every = store, data_root, every
        self.executor = executor or executor_for(store, data_root, slots, retry_after)
        self.last_backup = -1e9
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = None

    @property
    def slots(self) -> int:
        return getattr(self.executor, "slots", 0)

    @property
    def workers(self) -> list:
        """The worker processes this supervisor started (none on a cluster)."""
        return getattr(self.executor, "workers", [])

    def tick(self) -> None:
        self.store.reap()
        if time.monotonic() - self.last_backup > BACKUP_EVERY:
            self.last_backup = time.monotonic()
            self.store.backup()
        sweep.advance_all(self.store, self.data_root)  # a sweep's next trials join the queue as its last ones finish
        if not files.disk_full(self.store.root):  # else a run would stop at its first write: the queue waits for space
            self.executor.tick()

    def wake(self) -> None:
        """Tick now rather than at the next interval (say, right after a launch)."""
        self._wake.set()

    def acting(self) -> bool:
        """Whether this supervisor holds the store's supervisor lock (taking it when it is free)."""
        if self._lock is None:
            self._lock = files.try_lock(self.store.root / "supervisor.lock")
        return self._lock is not None

    def run(self, stop: threading.Event | None = None) -> None:
        """Tick until stop is set or the store's folder is gone; stands by while another supervisor acts."""
        stop = stop or self._stop
        while not stop.is_set() and self.store.root.exists():  # a removed store (a test's) ends it
            try:
                if self.acting():
                    self.tick()
            except Exception as e:  # noqa: BLE001 - a passing error (a locked or damaged store) must not end it
                print(f"digitlab supervisor: {type(e).__name__}: {e}", file=sys.stderr)
            self._wake.wait(self.every)
            self._wake.clear()

    def start(self) -> "Supervisor":
        self._thread = threading.Thread(target=self.run, name=f"digitlab-supervisor {self.store.root}", daemon=True)
        self._thread.start()
        STARTED.append(self)
        return self

    def stop(self) -> None:
        """End this supervisor's loop (its workers run on to their end; the caller stops them if it must)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)  # a tick in progress ends first: no worker started after this returns
        if self in STARTED:
            STARTED.remove(self)
