"""What the Train page's queue promises against what a queued group takes: each waiting run's estimate, from the
model alone and scaled by this machine's measured pace, beside its measured time.

Run: .venv/bin/python benchmarks/queue_estimates.py [--epochs 3] [--warmup 1]
In a fresh store: `--warmup` runs of compare-adam first (so that the pace has runs to measure), then the course's
optimizer comparison (compare-sgd, compare-momentum, compare-adam, for --epochs each) queued together, as one
click of the Train page queues it, and trained by the workers' slots. Prints figures; asserts nothing.
"""

import argparse
import tempfile
import time

from digitlab.datasets import data
from digitlab.learn import cost
from digitlab.runs import admission, progress
from digitlab.learn.presets import COMPARISON, preset
from digitlab.runs.runner import workers
from digitlab.runs.store import Store


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1, help="runs trained first, that the pace measures")
    a = p.parse_args()
    root = data.data_root()
    slots = workers.slot_count()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        if a.warmup:
            admission.queue(store, [preset("compare-adam", epochs=a.epochs, device="cpu", seed=k)
                                    for k in range(a.warmup)], root)
            workers.work(store, root)
        pace, measured = progress.pace(store.runs())
        ids = admission.queue(store, [preset(n, epochs=a.epochs, device="cpu") for n in COMPARISON], root)
        promised = {i: progress.estimated_seconds(store.get(i)) for i in ids}
        t0 = time.time()
        workers.work(store, root)
        wall = time.time() - t0
        print(f"{slots} training slot{'s' * (slots != 1)}; pace {pace:.2f}x the model's, from {measured} run(s)")
        print(f"{'run':<18} {'model alone':>12} {'with pace':>10} {'took':>8} {'error alone':>12} {'with pace':>10}")
        for i in ids:
            run = store.get(i)
            took = run.train_seconds
            alone, paced = promised[i], promised[i] * pace
            print(f"{run.name:<18} {alone:>11.1f}s {paced:>9.1f}s {took:>7.1f}s {alone / took - 1:>+11.0%} "
                  f"{paced / took - 1:>+9.0%}")
        total_alone, total_paced = sum(promised.values()) / slots, sum(promised.values()) * pace / slots
        print(f"{'the group':<18} {total_alone:>11.1f}s {total_paced:>9.1f}s {wall:>7.1f}s "
              f"{total_alone / wall - 1:>+11.0%} {total_paced / wall - 1:>+9.0%}  (wall clock, loading included)")
        print(f"(the queue shows these as 'about {cost.duration(total_paced / 60)}')")


if __name__ == "__main__":
    main()
