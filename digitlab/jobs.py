"""Running stored runs: in this process (CLI), in a worker process that drains the queue, and the supervisor
that keeps the queue moving (reaps runs whose worker died, starts a worker when runs wait)."""

import fcntl
import os
import subprocess
import sys
import threading
import time

from digitlab import UserError, checkpoint, cost, data, devices, settings
from digitlab.config import TrainConfig, validate
from digitlab.store import Status, Store
from digitlab.train import train

CANCEL_POLL = 0.5  # seconds between the worker's looks at the store for a cancel request


def summary_of(result) -> dict:
    return dict(best_epoch=result.best_epoch, best_val_acc=result.best_val_acc, test_acc=result.test_acc,
                train_seconds=result.train_seconds, num_params=result.num_params)


def execute(store: Store, run_id: int, data_root=None, on_event=None) -> dict:
    """Train a run already in the store (marked running), writing progress there; returns its final record."""
    on_event = on_event or (lambda event, info: None)
    run = store.get(run_id)
    try:
        config = TrainConfig.from_dict(run["config"])
        mnist = data.load(data_root)
        last_poll, cancel = 0.0, False

        def should_stop() -> bool:
            nonlocal last_poll, cancel
            now = time.monotonic()
            if now - last_poll > CANCEL_POLL:
                last_poll, cancel = now, store.cancel_requested(run_id)
            return cancel

        def callback(event: str, info: dict) -> None:
            if event == "start":
                store.update(run_id, device=info["device"], steps_per_epoch=info["steps_per_epoch"],
                             num_params=info["num_params"])
            elif event == "steps":
                first = info["global_step"] - len(info["losses"]) + 1
                store.add_steps(run_id, info["epoch"], first, info["losses"], info["step"])
            elif event == "epoch":
                store.add_epoch(run_id, info)
            on_event(event, info)

        result = train(config, mnist, callback, should_stop)
        ckpt = None
        if result.best_state is not None:  # a cancelled run keeps its best finished epoch
            best = result.epochs[result.best_epoch - 1]
            ckpt = checkpoint.save(store.run_dir(run_id) / "best.pt", result.best_state, config, best)
        status = Status.CANCELLED if result.cancelled else Status.COMPLETED
        store.finish(run_id, status, checkpoint=str(ckpt) if ckpt else None, **summary_of(result))
    except UserError as e:
        store.finish(run_id, Status.FAILED, error=str(e))
        raise
    except KeyboardInterrupt:
        store.finish(run_id, Status.CANCELLED, error="Stopped from the keyboard.")
        raise
    except Exception as e:  # noqa: BLE001 - the run must never be left running
        first_line = str(e).splitlines()[0] if str(e) else "no message"
        store.finish(run_id, Status.FAILED, error=f"Training stopped with {type(e).__name__}: {first_line}.")
        raise
    return store.get(run_id)


def launch(store: Store, config: TrainConfig, data_root=None) -> int:
    """Queue a validated run for the worker; returns the run id. Nothing is queued when anything is wrong."""
    config = validate(config)
    device = devices.resolve(config.device)  # an unavailable device is refused now, not in the worker
    cost.check(config, settings.load().limits, device.type)
    if not data.is_prepared(data_root):
        raise UserError("MNIST is not prepared yet: prepare it on the Data page or run `digitlab data`.")
    return store.create(config)


# --- the worker: one process per store drains the queue --------------------------------------------

def worker_lock(store: Store):
    """The store's worker lock, held (an open file) or None when another process holds it."""
    f = open(store.root / "worker.lock", "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def work(store: Store, data_root=None) -> int:
    """Drain the queue, one run after another; exits when it is empty. At most one worker runs per store."""
    done = 0
    while True:
        lock = worker_lock(store)
        if lock is None:
            return done  # another worker holds the queue and will see our runs
        try:
            while (run_id := store.claim_next(os.getpid())) is not None:
                try:
                    execute(store, run_id, data_root)
                except Exception:  # noqa: BLE001 - recorded on the run; go on with the queue
                    pass
                done += 1
        finally:
            lock.close()
        # A run queued between our last look and the unlock would be orphaned: look once more.
        if not store.runs(Status.QUEUED):
            return done


def worker_alive(store: Store) -> bool:
    lock = worker_lock(store)
    if lock is None:
        return True
    lock.close()
    return False


def start_worker(store: Store, data_root=None) -> subprocess.Popen:
    """Start a worker process for the store's queue (it exits at once if one is running)."""
    cmd = [sys.executable, "-m", "digitlab", "worker", "--runs", str(store.root)]
    if data_root:
        cmd += ["--data", str(data_root)]
    with open(store.root / "worker.log", "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)


class Supervisor:
    """Keeps a store's queue moving, apart from any page: every `every` seconds (or at once when woken) it marks
    failed the runs whose worker died, starts a worker when runs wait and none works, and reaps exited workers."""

    def __init__(self, store: Store, data_root=None, every: float = 2.0, retry_after: float = 5.0):
        self.store, self.data_root, self.every, self.retry_after = store, data_root, every, retry_after
        self.workers: list[subprocess.Popen] = []
        self.last_start = -1e9
        self._wake = threading.Event()

    def tick(self) -> None:
        self.workers = [p for p in self.workers if p.poll() is None]  # poll() reaps an exited worker
        self.store.reap()
        if not self.store.runs(Status.QUEUED) or worker_alive(self.store):
            return
        if time.monotonic() - self.last_start < self.retry_after:
            return  # a worker that fails to start is not respawned every tick
        self.last_start = time.monotonic()
        self.workers.append(start_worker(self.store, self.data_root))

    def wake(self) -> None:
        """Tick now rather than at the next interval (say, right after a launch)."""
        self._wake.set()

    def start(self) -> "Supervisor":
        def loop():
            while self.store.root.exists():  # a store that was removed (a test's) ends its supervisor
                try:
                    self.tick()
                except Exception as e:  # noqa: BLE001 - a passing error (a locked or missing store) must not end it
                    print(f"digitlab supervisor: {type(e).__name__}: {e}", file=sys.stderr)
                self._wake.wait(self.every)
                self._wake.clear()

        threading.Thread(target=loop, name=f"digitlab-supervisor {self.store.root}", daemon=True).start()
        return self
