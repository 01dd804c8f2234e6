"""What looking inside the network costs: saliency, activations and fooling for one drawing (as the Draw page does
it, on one CPU thread), the learning-rate range test, and what first-layer snapshots and 8 pinned drawings add to a
training epoch.

Run: .venv/bin/python benchmarks/inside_cost.py [--epochs 2] [--repeats 3]   (needs the real MNIST: digitlab data)
Prints figures; asserts nothing.
"""

import argparse
import statistics
import tempfile
import time

import torch

from digitlab.datasets import data
from digitlab.drawing import inside
from digitlab.learn import checkpoint, lrfind, train
from digitlab.runs import admission
from digitlab.learn.checkpoint import SHIPPED
from digitlab.learn.presets import preset
from digitlab.runs.runner import execution
from digitlab.runs.store import MAX_PINS, Store


def ms(f, n: int = 20) -> float:
    f()  # warm-up
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n * 1000


def per_drawing(mnist: data.MNIST) -> None:
    torch.set_num_threads(1)  # the app answers a drawing on one thread
    image = mnist.test_x[0].numpy() / 255
    for name in ("mlp-default", "cnn-default"):
        ck = checkpoint.load(SHIPPED / f"{name}.pt")
        figures = {"predict": ms(lambda: ck.predict_proba(image[None])),
                   "gradient saliency": ms(lambda: inside.saliency(ck, image, 7, "gradient")),
                   "integrated gradients": ms(lambda: inside.saliency(ck, image, 7, "integrated")),
                   "activations": ms(lambda: inside.activations(ck, image)),
                   "FGSM": ms(lambda: inside.fool(ck, image, 3, 0.1, 1)),
                   "PGD, 20 steps": ms(lambda: inside.fool(ck, image, 3, 0.1, 20), 5),
                   "smallest flip (10 PGD steps x 10 rounds)": ms(lambda: inside.smallest_flip(ck, image, 3), 3)}
        print(f"{name}, one drawing on 1 CPU thread: " + ", ".join(f"{k} {v:.1f} ms" for k, v in figures.items()))
    torch.set_num_threads(torch.get_num_threads())


def range_tests(mnist: data.MNIST) -> None:
    torch.set_num_threads(2)
    lrfind.lr_find(preset("compare-sgd", device="cpu"), mnist, steps=20)  # warm-up: threads, allocator
    for name in ("compare-sgd", "compare-adam", "seed-assignment", "best-mlp", "cnn"):
        config = preset(name, device="cpu")
        t0 = time.perf_counter()
        found = lrfind.lr_find(config, mnist)
        print(f"range test {name}: {time.perf_counter() - t0:.2f} s for {len(found.lrs)} steps (estimated "
              f"{lrfind.check_time(config, most_seconds=1e9):.1f} s), suggests lr {found.suggestion:.2g} "
              f"(the preset's is {config.lr:g})")


def timed(owner, name: str, spent: list) -> None:
    """Replace owner.name by the same function that adds the seconds it takes to spent."""
    f = getattr(owner, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    setattr(owner, name, wrapper)


def epoch_cost(epochs: int, repeats: int) -> None:
    """What watching costs a run: the seconds spent in the snapshots, the pinned drawings' scoring and their store
    writes (counted exactly), against the epoch's seconds; and the same run with nothing watched (noisy on 2 cores)."""
    mnist = data.load()
    pins = [admission.pin(mnist.test_x[k].numpy(), int(mnist.test_y[k])) for k in range(MAX_PINS)]
    config = preset("compare-adam", epochs=epochs, hidden=[512, 128], device="cpu")  # the course's 784-512-128-10
    spent: list[float] = []
    for owner, name in ((inside, "snapshot"), (train, "probabilities"), (Store, "add_pin_scores"),
                        (Store, "save_snapshot")):
        timed(owner, name, spent)
    seconds, extra, paired = {"with": [], "without": []}, [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        for k in range(repeats):
            for way in ("without", "with")[:: 1 if k % 2 == 0 else -1]:  # each first in turn: the machine drifts
                spent.clear()
                rid = store.create(config, pid=1, pins=pins if way == "with" else ())
                execution.execute(store, rid, None)
                epochs_run = store.epochs(rid)
                seconds[way] += [e["seconds"] for e in epochs_run]
                if way == "with":
                    extra.append(sum(spent) / sum(e["seconds"] for e in epochs_run))
            paired.append(sum(seconds["with"][-epochs:]) / sum(seconds["without"][-epochs:]))  # run next to run
    with_, without = statistics.median(seconds["with"]), statistics.median(seconds["without"])
    print(f"784-512-128-10, batch 64, Adam, {torch.get_num_threads()} CPU threads, {len(seconds['with'])} epochs each "
          f"way: snapshots and {MAX_PINS} pinned drawings scored every {train.LOG_EVERY} steps, with their store "
          f"writes, take {statistics.median(extra):.2%} of the run's training time (counted); median epoch "
          f"{without:.2f} s with nothing watched, {with_:.2f} s watched; a watched run against the unwatched one "
          f"beside it: {', '.join(f'{r - 1:+.1%}' for r in paired)} (median {statistics.median(paired) - 1:+.1%}; "
          "this machine's own speed drifts by 10-20% within seconds)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--only", choices=("drawing", "range", "epoch"), help="one of the three measurements")
    a = p.parse_args()
    mnist = data.load()
    if a.only in (None, "drawing"):
        per_drawing(mnist)
    if a.only in (None, "range"):
        range_tests(mnist)
    if a.only in (None, "epoch"):
        epoch_cost(a.epochs, a.repeats)


if __name__ == "__main__":
    main()
