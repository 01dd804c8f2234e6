"""A sweep driven to its end from this process (`digitlab sweep` without --queue): its trials trained by a local
worker here (or by the app's, if one holds the slot), or on the Ray cluster when one is set."""

import time

from digitlab.runs import sweep
from digitlab.runs.runner import cluster, workers
from digitlab.runs.store import Store, SweepStatus

POLL_SECONDS = 0.5  # between looks at the store while another process trains


def run(store: Store, sweep_id: int, data_root=None, on_trial=lambda run: None) -> None:
    """Queue the sweep's trials as earlier ones finish and train them until the sweep ends; on_trial(run) once for
    each trial that has ended."""
    told = set()
    remote = cluster.Ray(store, data_root) if cluster.address() else None  # trials go to the Ray cluster
    while True:
        sweep.advance(store, sweep_id, data_root)
        for trial in store.sweep_runs(sweep_id):
            if not trial.status.active and trial.id not in told:
                told.add(trial.id)
                on_trial(trial)
        if store.get_sweep(sweep_id).status is not SweepStatus.RUNNING:
            return
        if remote is not None:
            remote.tick()
            time.sleep(POLL_SECONDS)
        elif not workers.work(store, data_root):  # another worker (the app's) holds the slot: it trains them
            time.sleep(POLL_SECONDS)
