"""A supervisor acting on a store in a thread, for tests and benchmarks that need the queue to move by itself."""

import contextlib
import threading
import time

from digitlab.runs.runner.supervisor import Supervisor


@contextlib.contextmanager
def supervising(store, data_root=None, **options):
    """Supervisor(store, data_root, **options) running for the block; stopped after it, its workers waited for."""
    sup = Supervisor(store, data_root, **options)
    stop = threading.Event()
    thread = threading.Thread(target=sup.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield sup
    finally:
        stop.set()
        thread.join(30)
        for p in sup.workers:
            p.wait(30)


def until_sweep_ends(store, sweep_id: int, seconds: float = 240) -> str:
    """Wait for a sweep to leave 'running' and return its status; fail, saying how far it got, after seconds."""
    deadline = time.time() + seconds
    while store.get_sweep(sweep_id).status == "running":
        if time.time() > deadline:
            trials = [f"trial {r.trial} {r.status}" for r in store.sweep_runs(sweep_id)]
            raise TimeoutError(f"sweep {sweep_id} still running after {seconds:g} s: "
                               f"{', '.join(trials) or 'no trial queued'}")
        time.sleep(0.3)
    return store.get_sweep(sweep_id).status
