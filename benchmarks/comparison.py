"""The course's comparison from the click to its last epoch: SGD, SGD+momentum and Adam, 784-128-64-10, batch 64,
25 epochs each, queued together and trained by the supervisor's workers, with 1 slot (one run after another) and
with more slots (runs at once). Also a sweep's wall time with and without pruning.

Run: .venv/bin/python benchmarks/comparison.py [--slots 1 3] [--epochs 25] [--sweep 16]   (needs the real MNIST)
Prints figures; asserts nothing. The numbers of each run are printed too: a run gives the same with any number of
runs beside it.
"""

import argparse
import os
import tempfile
import time

from digitlab import settings
from digitlab.runs import admission, sweep
from digitlab.learn.presets import GROUPS, preset
from digitlab.runs.runner import workers
from digitlab.runs.store import Store
from testkit.supervise import supervising, until_sweep_ends


def settings_file(folder: str, slots: int) -> str:
    path = os.path.join(folder, "settings.toml")
    with open(path, "w") as f:
        f.write(f"[workers]\ncpu_slots = {slots}\n")
    return path


def until_done(store: Store, ids: list[int], timeout: float = 3600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(not store.get(i).status.active for i in ids):
            return
        time.sleep(0.2)
    raise RuntimeError("the runs did not finish in time")


def supervised(slots: int, work):
    """Run work(store) in a fresh store with a supervisor of `slots` workers; returns its seconds and result."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[settings.ENV] = settings_file(tmp, slots)
        store = Store(os.path.join(tmp, "runs"))
        try:
            with supervising(store, None, slots=slots, every=0.2) as sup:
                t0 = time.perf_counter()
                result = work(store, sup)
                return time.perf_counter() - t0, result
        finally:
            del os.environ[settings.ENV]


def comparison(slots: int, epochs: int) -> None:
    names = GROUPS[next(g for g in GROUPS if g.startswith("Optimizers"))][0]

    def work(store, sup):
        ids = admission.queue(store, [preset(n, epochs=epochs, device="cpu") for n in names])
        sup.wake()
        until_done(store, ids)
        return [store.get(i) for i in ids]

    seconds, runs = supervised(slots, work)
    accs = ", ".join(f"{r.name} {r.test_acc:.4f}" for r in runs)
    click = min(r.created for r in runs)
    spans = ", ".join(f"{r.started - click:.1f}-{r.finished - click:.1f} s ({r.train_seconds:.1f} s training)"
                      for r in runs)
    print(f"{len(names)} runs x {epochs} epochs, {slots} slot{'s' * (slots > 1)} "
          f"({workers.worker_threads(slots)} CPU thread{'s' * (workers.worker_threads(slots) > 1)} each): "
          f"{seconds:.1f} s from the click to the last epoch; test acc {accs}; each run from its start to its end "
          f"after the click: {spans}")


def sweep_time(trials: int, prune: bool, slots: int) -> None:
    text = (f'name = "bench"\npreset = "compare-adam"\ntrials = {trials}\nsampler = "tpe"\n'
            f'prune = {"true" if prune else "false"}\nparallel = {slots}\n[fixed]\nepochs = 5\ndevice = "cpu"\n'
            '[search.lr]\nlow = 1e-5\nhigh = 1.0\nlog = true\n[search.optimizer]\nvalues = ["sgd", "momentum", "adam"]\n')

    def work(store, sup):
        sweep_id = sweep.start(store, sweep.parse(text))
        sup.wake()
        until_sweep_ends(store, sweep_id, 3600)
        runs = store.sweep_runs(sweep_id)
        return runs, sum(len(store.epochs(r.id)) for r in runs)

    seconds, (runs, epochs) = supervised(slots, work)
    pruned = sum((r.error or "").startswith(sweep.PRUNED) for r in runs)
    best = max(r.best_val_acc or 0 for r in runs)
    print(f"sweep of {trials} trials (TPE over lr and optimizer, 5 epochs each), pruning {'on' if prune else 'off'}, "
          f"{slots} slot{'s' * (slots > 1)}: {seconds:.1f} s, {epochs} epochs trained, {pruned} pruned, best val "
          f"{best:.4f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--slots", type=int, nargs="+", default=[1, 3])
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--sweep", type=int, default=16, help="trials of the sweep (0: no sweep)")
    a = p.parse_args()
    for slots in a.slots:
        comparison(slots, a.epochs)
    if a.sweep:
        for prune in (False, True):
            sweep_time(a.sweep, prune, max(a.slots))


if __name__ == "__main__":
    main()
