"""How often the Draw page says "not a digit?" of things that are not digits, and wrongly of digits.

Run: .venv/bin/python benchmarks/non_digits.py [--per-shape 10] [--models checkpoints/mlp-default.pt ...]
Non-digits: digitlab.strokes.NON_DIGITS (letters that look like no digit, crosses, shapes) and random scribbles and
dots, drawn like the pad's. Digits: the held-out styles set (held-out typefaces and stroke variants, MNIST test
digits re-drawn), none of which ever trains. Every drawing goes through the app's preprocessing. For each model,
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

from digitlab import answers, checkpoint, data, preprocess, strokes, synth
from digitlab.checkpoint import SHIPPED, Checkpoint
from digitlab.data import MNIST, normalize
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
    a = p.parse_args()
    others = [(kind, img) for kind, _, img in strokes.non_digits(a.per_shape, a.seed)]
    digits = list(digit_set(a.per_font, a.seed))
    print(f"{len(others)} non-digits, {len(digits)} held-out digits")
    for group, items in (("non-digits", others), ("digits", digits)):
        small = [preprocess.too_small(img) for _, img in items]
        print(f"  'too small: draw bigger' (ink under {preprocess.SMALL * strokes.CANVAS:.0f} of the pad's "
              f"{strokes.CANVAS} px): {np.mean(small):.1%} of {group}")
    for path in a.models:
        ck = checkpoint.load(path)
        known = fit(ck, data.load(val_size=ck.config.val_size))
        print(f"\n== {path}: Mahalanobis threshold {known.threshold:.1f} (from {known.calibrated_on})")
        results = {}
        for group, items in (("non-digits", others), ("digits", digits)):
            kept = [(k, preprocess.to_mnist(img)) for k, img in items if not preprocess.too_small(img)]
            x = np.stack([m for _, m in kept if m is not None])
            with torch.no_grad():
                logits, feats = logits_and_features(ck, x)
            probs = logits.softmax(-1).numpy()
            results[group] = dict(kinds=[k for k, m in kept if m is not None],
                                  unsure=probs.max(1) < answers.SURE,
                                  energy=-torch.logsumexp(logits, -1).numpy(),
                                  far=known.distance(feats) > known.threshold)
        for way in ("unsure", "far", "either"):
            shares = {}
            for group, r in results.items():
                flagged = r["unsure"] | r["far"] if way == "either" else r[way]
                per = collections.defaultdict(list)
                for k, f in zip(r["kinds"], flagged):
                    per[k].append(f)
                shares[group] = (flagged.mean(), {k: np.mean(v) for k, v in per.items()})
            (nd, nd_per), (dg, dg_per) = shares["non-digits"], shares["digits"]
            print(f"  {way:7s}: non-digits flagged {nd:6.1%} ({', '.join(f'{k} {v:.0%}' for k, v in nd_per.items())})"
                  f"; digits wrongly flagged {dg:5.2%} ({', '.join(f'{k} {v:.1%}' for k, v in dg_per.items())})")
        e_nd, e_dg = results["non-digits"]["energy"], results["digits"]["energy"]
        cut = np.quantile(e_dg, 0.99)  # the energy that flags 1% of these digits (an oracle: tuned on the test)
        print(f"  energy at the 1%-of-digits cut (tuned on these digits, so optimistic): non-digits flagged "
              f"{np.mean(e_nd > cut):.1%}")


if __name__ == "__main__":
    main()
