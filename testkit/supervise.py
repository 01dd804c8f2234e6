"""A supervisor acting on a store in a thread, for tests and benchmarks that need the queue to move by itself."""

import contextlib
import threading
import time

from digitlab.runner.supervisor import Supervisor


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
    """Wait for a sweep to leave 'running' (or for seconds to pass); returns its status."""
    deadline = time.time() + seconds
    while store.get_sweep(sweep_id)["status"] == "running" and time.time() < deadline:
        time.sleep(0.3)
    return store.get_sweep(sweep_id)["status"]
