"""Running a stored run: in this process (CLI) or in a background worker that drains the queue (app)."""

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from digitlab import UserError, checkpoint, data
from digitlab.config import TrainConfig, validate
from digitlab.store import Store
from digitlab.train import resolve_device, train

CANCEL_POLL = 0.5  # seconds between the worker's looks at the store for a cancel request


def summary_of(result) -> dict:
    return dict(best_epoch=result.best_epoch, best_val_acc=result.best_val_acc, test_acc=result.test_acc,
                train_seconds=result.train_seconds, num_params=result.num_params)


def execute(store: Store, run_id: int, data_root=None, on_event=None, verify: bool = True) -> dict:
    """Train a run already in the store (marked running), writing progress there; returns its final record."""
    on_event = on_event or (lambda event, info: None)
    run = store.get(run_id)
    try:
        config = TrainConfig.from_dict(run["config"])
        mnist = data.load(data_root, verify)
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
            checkpoint.save(store.run_dir(run_id) / "last.pt", result.last_state, config, result.epochs[-1])
        status = "cancelled" if result.cancelled else "completed"
        store.finish(run_id, status, checkpoint=str(ckpt) if ckpt else None, **summary_of(result))
    except UserError as e:
        store.finish(run_id, "failed", error=str(e))
        raise
    except KeyboardInterrupt:
        store.finish(run_id, "cancelled", error="Stopped from the keyboard.")
        raise
    except Exception as e:  # noqa: BLE001 - the run must never be left "running"
        store.finish(run_id, "failed", error=f"Training stopped with {type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no message'}.")
        raise
    return store.get(run_id)


# --- the background queue -------------------------------------------------------

def _lock(store: Store):
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
        lock = _lock(store)
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
        if not any(r["status"] == "queued" for r in store.runs()):
            return done


_last_start: dict[str, float] = {}


def worker_alive(store: Store) -> bool:
    lock = _lock(store)
    if lock is None:
        return True
    lock.close()
    return False


def ensure_worker(store: Store, data_root=None, min_interval: float = 5.0) -> bool:
    """Start a worker if queued runs wait and none is working (say, after a restart); True if one was started."""
    if worker_alive(store) or not any(r["status"] == "queued" for r in store.runs()):
        return False
    if time.monotonic() - _last_start.get(str(store.root), -1e9) < min_interval:
        return False  # a worker that failed to start is not respawned every poll
    start_worker(store, data_root)
    return True


def start_worker(store: Store, data_root=None) -> subprocess.Popen:
    """Start a detached worker process for the store's queue (it exits at once if one is running)."""
    _last_start[str(store.root)] = time.monotonic()
    cmd = [sys.executable, "-m", "digitlab", "worker", "--runs", str(store.root)]
    if data_root:
        cmd += ["--data", str(data_root)]
    log = open(store.root / "worker.log", "ab")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=env)


def launch(store: Store, config: TrainConfig, data_root=None) -> int:
    """Queue a validated run and make sure a worker is draining the queue; returns the run id."""
    config = validate(config)
    resolve_device(config.device)  # an unavailable device is refused now, not in the worker
    if not data.is_prepared(data_root):
        raise UserError("MNIST is not prepared yet: prepare it on the Data page or run `python -m digitlab data`.")
    run_id = store.create(config)
    start_worker(store, data_root)
    return run_id
