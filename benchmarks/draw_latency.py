"""Server-side cost of one drawing (canvas image -> 28x28 -> probabilities) and accuracy on re-drawn digits.

Run: .venv/bin/python benchmarks/draw_latency.py [--checkpoint checkpoints/mlp-default.pt] [--n 500]
The re-drawn set is MNIST test digits drawn again large, off-centre, with thinner and thicker strokes on a
280x280 canvas (testkit.redraw): a held-out set that never enters training, read through the app's own
preprocessing. Prints figures; asserts nothing.
"""

import argparse
import time

import numpy as np
import torch

from digitlab.datasets import data
from digitlab.drawing import preprocess
from digitlab.learn import checkpoint
from digitlab.learn.checkpoint import SHIPPED
from testkit import redraw


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", nargs="+", default=[str(SHIPPED / "mlp-default.pt")])
    p.add_argument("--n", type=int, default=500, help="test digits per variant (the last n of the test set)")
    a = p.parse_args()
    torch.set_num_threads(1)  # the app serves a drawing on one thread
    mnist = data.load()
    x, y = mnist.test_x[-a.n :].numpy(), mnist.test_y[-a.n :].numpy()
    drawings = list(redraw.redraw_set(x, seed=0))
    for path in a.checkpoint:
        ck = checkpoint.load(path)
        for _, _, d in drawings[:20]:  # warm-up
            ck.predict_proba(preprocess.to_mnist(d)[None])
        times, pre_times, hits = [], [], {}
        for v, i, d in drawings:
            rgba = np.dstack([d, d, d, np.full_like(d, 255)])  # what the canvas sends
            t0 = time.perf_counter()
            seen = preprocess.to_mnist(rgba)
            t1 = time.perf_counter()
            probs = ck.predict_proba(seen[None])[0]
            t2 = time.perf_counter()
            times.append(t2 - t0)
            pre_times.append(t1 - t0)
            hits.setdefault(v, []).append(probs.argmax() == y[i])
        ms = np.array(times) * 1000
        original = (ck.predict_proba(x).argmax(1) == y).mean()
        redrawn = np.mean([h for hs in hits.values() for h in hs])
        print(f"{path}: {ck.num_params:,} parameters")
        print(f"  one drawing, preprocessing + prediction on 1 CPU thread: median {np.median(ms):.2f} ms, "
              f"p95 {np.percentile(ms, 95):.2f} ms (preprocessing alone median {np.median(pre_times) * 1000:.2f} ms)")
        print(f"  {len(drawings)} re-drawn digits ({len(redraw.VARIANTS)} size/stroke variants x {a.n}): "
              f"{redrawn:.2%} right; the same {a.n} originals: {original:.2%}")
        print("  per variant (size px, stroke change px): " +
              ", ".join(f"{v}: {np.mean(h):.1%}" for v, h in hits.items()))


if __name__ == "__main__":
    main()
