"""How often the Draw page says "not a digit?" of things that are not digits, and wrongly of digits.

Run: .venv/bin/python benchmarks/non_digits.py [--per-shape 10] [--models checkpoints/mlp-default.pt ...] [--gate F]
Non-digits: digitlab.datasets.strokes.NON_DIGITS (letters that look like no digit, crosses, shapes) and random scribbles and
dots, drawn like the pad's. Digits: the held-out styles set (held-out typefaces and stroke variants, MNIST test
digits re-drawn), none of which ever trains. Every drawing goes through the app's preprocessing. What the Draw page
uses is the gate (digitlab/drawing/gate.py, checkpoints/gate/gate.pt), whatever model reads the digit. Beside it, for each model,
each way of telling (the top probability under answers.SURE; the Mahalanobis distance of the penultimate layer
to the nearest digit's mean, with one covariance shared by the ten, fit on MNIST's training images, Lee et al. 2018,
its threshold the distance 99.9% of MNIST's validation digits stay under; the energy of the logits) it prints
the share of non-digits flagged, per kind, and the share of digits wrongly flagged, per style. Asserts nothing.
"""

import argparse
import collections
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from digitlab.datasets import data, strokes, synth
from digitlab.drawing import answers, gate, preprocess
from digitlab.learn import checkpoint
from digitlab.learn.checkpoint import SHIPPED, Checkpoint
from digitlab.datasets.data import MNIST, normalize
from testkit import redraw
from testkit.fixtures import official_test_digits

QUANTILE = 0.999  # of MNIST's validation digits that stay under the Mahalanobis threshold
SHRINK = 1e-3     # added to the covariance's diagonal, relative to its mean variance: a stable inverse


@dataclass(frozen=True)
class Known:
    means: np.ndarray       # (10, D) float32: each digit's mean penultimate features
    precision: np.ndarray   # (D, D) float32: the inverse of their shared covariance
    threshold: float        # distances above it are "far from every digit"
    calibrated_on: str      # where the threshold came from, for people

    def distance(self, feats: np.ndarray) -> np.ndarray:
        """(N,) distance of each row of feats (N, D) to the nearest digit's mean."""
        d = np.asarray(feats, np.float32)[:, None, :] - self.means[None]  # (N, 10, D)
        return np.sqrt(np.einsum("ncd,de,nce->nc", d, self.precision, d).min(1).clip(min=0))


def _last_linear(model: nn.Module) -> nn.Linear:
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


@torch.no_grad()
def logits_and_features(ck: Checkpoint, images, batch: int = 4096) -> tuple[torch.Tensor, np.ndarray]:
    """Logits (N, 10) and penultimate features (N, D) of 28x28 images in [0, 1] (N, 28, 28) (or uint8)."""
    x = torch.as_tensor(np.asarray(images))
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    model = ck.model.eval()
    seen: list[torch.Tensor] = []
    hook = _last_linear(model).register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0].detach()))
    try:
        logits = torch.cat([model(normalize(x[i : i + batch], ck.config.input_norm)) for i in range(0, len(x), batch)])
    finally:
        hook.remove()
    return logits, torch.cat(seen).float().numpy()


def fit(ck: Checkpoint, mnist: MNIST) -> Known:
    """The ten means and shared covariance on MNIST's training images, the threshold on its validation ones."""
    _, feats = logits_and_features(ck, mnist.train_x)
    y = mnist.train_y.numpy()
    means = np.stack([feats[y == k].mean(0) for k in range(10)]).astype(np.float32)
    centred = feats - means[y]
    cov = centred.T @ centred / len(feats)
    cov += np.eye(len(cov), dtype=cov.dtype) * SHRINK * np.trace(cov) / len(cov)
    precision = np.linalg.inv(cov).astype(np.float32)
    _, val = logits_and_features(ck, mnist.val_x)
    known = Known(means, precision, 0.0, "")
    threshold = float(np.quantile(known.distance(val), QUANTILE))
    return Known(means, precision, threshold, f"{QUANTILE:.1%} of MNIST's {len(val):,} validation digits")


def digit_set(per_font: int, seed: int):
    for style, _, _, digit, img in synth.style_set(held_out=True, per_font=per_font, seed=seed):
        yield style, img
    for v, img in strokes.drawings(held_out=True, per_variant=10 * per_font, seed=seed):
        yield "strokes", img
    x, _ = official_test_digits(500)
    for _, _, img in redraw.redraw_set(x[:250], seed=seed):
        yield "MNIST re-drawn", img


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-shape", type=int, default=10)
    p.add_argument("--per-font", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--models", nargs="+", default=[str(SHIPPED / "mlp-default.pt"), str(SHIPPED / "cnn-default.pt")])
    p.add_argument("--gate", default=str(gate.SHIPPED), help="the gate file to measure (default: the shipped one)")
    a = p.parse_args()
    named = list(strokes.non_digits(a.per_shape, a.seed))
    others = [(kind, img) for kind, _, img in named]
    digits = list(digit_set(a.per_font, a.seed))
    the_gate = gate.load(a.gate)
    print(f"{len(others)} non-digits, {len(digits)} held-out digits; gate {a.gate} (threshold {the_gate.threshold:.3f}, "
          f"{the_gate.card.get('calibrated_on')})")
    seen = {}
    for group, items in (("non-digits", others), ("digits", digits)):
        small = np.array([preprocess.too_small(img) for _, img in items])
        images = [None if s else preprocess.to_mnist(img) for s, (_, img) in zip(small, items)]
        kept = np.array([m is not None for m in images])
        x = np.stack([m for m in images if m is not None])
        seen[group] = dict(kinds=[k for k, _ in items], small=small, kept=kept, x=x)
        print(f"  'too small: draw bigger' (ink under {preprocess.SMALL * strokes.CANVAS:.0f} of the pad's "
              f"{strokes.CANVAS} px): {small.mean():.1%} of {group}")

    def report(way: str, flags: dict) -> None:
        """flags: per group, a flag per kept (not too small) drawing; too small ones count as flagged."""
        line = []
        for group, r in seen.items():
            flagged = r["small"].copy()
            flagged[r["kept"]] |= flags[group]
            per = collections.defaultdict(list)
            for k, f in zip(r["kinds"], flagged):
                per[k].append(f)
            digits_ = group == "digits"
            line.append(f"{group} {'wrongly ' * digits_}flagged {flagged.mean():6.2%} ("
                        + ", ".join(f"{k} {np.mean(v):.1%}" for k, v in per.items()) + ")")
        print(f"  {way:14s}: " + "; ".join(line))

    gated = {group: the_gate.flags(r["x"]) for group, r in seen.items()}
    print("\n== the gate alone (whatever model reads the digit), too small counted as flagged")
    report("gate", gated)
    r = seen["non-digits"]
    flagged = r["small"].copy()
    flagged[r["kept"]] |= gated["non-digits"]
    per = collections.defaultdict(list)
    for (kind, name, _), f in zip(named, flagged):
        per[name].append(f)
    print("  per drawing: " + ", ".join(f"{name} {np.mean(v):.0%}" for name, v in per.items()))
    for path in a.models:
        ck = checkpoint.load(path)
        known = fit(ck, data.load(val_size=ck.config.val_size))
        print(f"\n== {path}: Mahalanobis threshold {known.threshold:.1f} (from {known.calibrated_on})")
        ways = collections.defaultdict(dict)
        energy = {}
        for group, r in seen.items():
            logits, feats = logits_and_features(ck, r["x"])
            unsure = logits.softmax(-1).numpy().max(1) < answers.SURE
            ways["unsure"][group] = unsure
            ways["far"][group] = known.distance(feats) > known.threshold
            ways["gate or unsure"][group] = gated[group] | unsure
            energy[group] = -torch.logsumexp(logits, -1).numpy()
        for way, flags in ways.items():
            report(way, flags)
        cut = np.quantile(energy["digits"], 0.99)  # the energy that flags 1% of these digits (an oracle: tuned on the test)
        print(f"  energy at the 1%-of-digits cut (tuned on these digits, so optimistic): non-digits flagged "
              f"{np.mean(energy['non-digits'] > cut):.1%} of those not too small")


if __name__ == "__main__":
    main()
