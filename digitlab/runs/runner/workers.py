"""Local workers: one process per slot drains the queue, one run after another, at a lower priority than the app."""

import os
import subprocess
import sys
import time

from digitlab import files, settings
from digitlab.learn import devices
from digitlab.runs.runner import execution
from digitlab.runs.store import Status, Store

WORKER_NICE = 10      # workers run at a lower priority than the app, which must answer a drawing at once


def slot_count(workers: settings.Workers | None = None) -> int:
    """Runs trained at once here: gpu_slots per GPU when there is one, else cpu_slots (0: half the cores, since a
    small model's step gains little from more than two threads)."""
    workers = workers or settings.current().workers
    gpus = devices.accelerators()
    return workers.gpu_slots * gpus if gpus else workers.cpu_slots or max(1, (os.cpu_count() or 1) // 2)


def worker_threads(slots: int | None = None) -> int:
    """CPU threads of one worker: the cores shared by the slots. Fixed by the settings, not by how busy the queue
    is, so that a run gives the same numbers alone or beside others (thread counts change float sums)."""
    return max(1, (os.cpu_count() or 1) // (slots or slot_count()))


def worker_lock(store: Store, slot: int = 0):
    return files.try_lock(store.root / f"worker-{slot}.lock")


def worker_alive(store: Store, slot: int = 0) -> bool:
    lock = worker_lock(store, slot)
    if lock is None:
        return True
    lock.close()
    return False


def work(store: Store, data_root=None, slot: int = 0) -> int:
    """Drain the queue in one slot, one run after another; exits when it is empty. One worker per slot."""
    done = 0
    while True:
        lock = worker_lock(store, slot)
        if lock is None:
            return done  # another worker holds this slot and will see our runs
        try:
            while (run_id := store.claim_next(os.getpid())) is not None:
                try:
                    execution.execute(store, run_id, data_root)
                except files.DiskFull:
                    return done  # every run would stop the same way: the supervisor starts a worker once there is room
                except Exception:  # noqa: BLE001 - recorded on the run; go on with the queue
                    pass
                done += 1
        finally:
            lock.close()
        # A run queued between our last look and the unlock would be orphaned: look once more.
        if not store.runs(Status.QUEUED):
            return done


def start_worker(store: Store, data_root=None, slot: int = 0) -> subprocess.Popen:
    """Start a worker process for one slot of the store's queue (it exits at once if the slot is taken)."""
    cmd = [sys.executable, "-m", "digitlab", "worker", "--slot", str(slot), "--runs", str(store.root)]
    if data_root:
        cmd += ["--data", str(data_root)]
    env = dict(os.environ)
    if devices.accelerators() > 1:  # slots spread over the GPUs
        env["CUDA_VISIBLE_DEVICES"] = str(slot % devices.accelerators())
    with open(store.root / "worker.log", "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=env)


class Local:
    """The supervisor's executor without a cluster: a worker process in each free slot while runs wait."""

    def __init__(self, store: Store, data_root=None, slots: int | None = None, retry_after: float = 5.0):
        self.store, self.data_root, self.retry_after = store, data_root, retry_after
        self.slots = slots or slot_count()
        self.workers: list[subprocess.Popen] = []
        self.last_start: dict[int, float] = {}

    def tick(self) -> None:
        self.workers = [p for p in self.workers if p.poll() is None]  # poll() reaps an exited worker
        waiting = len(self.store.queue_order())
        for slot in range(self.slots):
            if waiting <= 0:
                break
            if worker_alive(self.store, slot):
                continue
            if time.monotonic() - self.last_start.get(slot, -1e9) < self.retry_after:
                continue  # a worker that fails to start is not respawned every tick
            self.last_start[slot] = time.monotonic()
            self.workers.append(start_worker(self.store, self.data_root, slot))
            waiting -= 1
