"""Whether a drawing is a digit at all: a small CNN that reads eleven classes, the ten digits and "not a digit",
trained with outlier exposure (Hendrycks et al. 2019) on drawings that are no digit, made here:

- letters and signs of the training typefaces (synth.py), but none that looks like a digit (O, I, S, Z, B, G, q, ...);
- crosses, polygons and stars, zigzags, waves, spirals, hatching, scattered strokes, rings with marks inside and
  random tangles, drawn the way the pad draws (strokes.draw);
- MNIST's own digits mirrored, turned a quarter or overlaid two at a time (none of which is a digit any more: 0, 1
  and 8, which survive a mirror or a turn, are left out).

None of strokes.NON_DIGITS, what benchmarks/non_digits.py measures, ever trains it. Its digits are MNIST's training
split, as it is and re-drawn the way the pad draws (synth.redraw, then the app's preprocessing), and the font and
stroke digits of the training typefaces and variants (synth.bank). Half the MNIST negatives are re-drawn too: what
went through the preprocessing and what did not are on both sides, so that the gate cannot tell a digit by its
texture. Its threshold on the probability of "not a digit" is set on digits it never trained on (MNIST's validation
split, as it is and re-drawn, and a share of the bank held back), so that at most QUANTILE of them are flagged.
The Draw page asks it of every drawing, whatever model reads the digit: a model of one's own, trained for a minute,
has no sense of what is not a digit.
"""

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from digitlab import UserError
from digitlab.datasets import data, strokes, synth
from digitlab.drawing import pictures, preprocess
from digitlab.learn.train import step as learn_step
from digitlab.files import write_atomically

FORMAT = "digitlab-gate"
SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "gate" / "gate.pt"  # a folder of its own: not a model
OTHER = 10                # the class "not a digit"
QUANTILE = 0.005          # of held-back digits that the threshold lets be flagged
NEGATIVES_VERSION = 2     # bump when what negatives() makes changes
LETTERS = "ACEFHKLMNPRUVWXYacefhkmnprtuvwxy#%&*+=@<>~^"  # no letter or sign that a digit could be read as
SHAPES = ("cross", "polygon", "zigzag", "wave", "spiral", "hatching", "scattered", "ring", "tangle")
FLIPPED = (2, 3, 4, 5, 6, 7, 9)  # digits that are no digit mirrored or turned a quarter
REDRAWN = 18_000          # MNIST training digits also re-drawn the way the pad draws


class Net(nn.Module):
    """(B, 28, 28) in [0, 1] -> (B, 11) logits: two conv blocks and a small head."""

    def __init__(self):
        super().__init__()
        block = lambda i, o: [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),  # noqa: E731
                              nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]
        self.layers = nn.Sequential(*block(1, 24), *block(24, 48), nn.Flatten(), nn.Linear(48 * 7 * 7, 128),
                                    nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 11))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = data.NORMALIZE["mnist"]
        return self.layers((x.reshape(len(x), 1, 28, 28) - mean) / std)


@dataclass
class Gate:
    net: Net
    threshold: float   # a probability of "not a digit" above it flags the drawing
    card: dict         # how it was made and what it measured

    @torch.no_grad()
    def other(self, images) -> np.ndarray:
        """(N, 28, 28) uint8, or floats in [0, 1] -> (N,) probability that each is not a digit."""
        x = torch.as_tensor(np.asarray(images))
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        return self.net.eval()(x).softmax(-1)[:, OTHER].numpy()

    def flags(self, images) -> np.ndarray:
        return self.other(images) > self.threshold


# --- drawings that are no digit -------------------------------------------------------------------------------


def _shape(kind: str, rng: np.random.Generator) -> list:
    """Strokes in a unit box of one kind of SHAPES."""
    u = rng.uniform
    if kind == "cross":  # 2-4 lines through a point near the middle
        c, out = u(0.35, 0.65, 2), []
        first = u(0, np.pi)
        for k in range(int(rng.integers(2, 5))):
            a = first + k * np.pi / 4 + u(-0.3, 0.3) if k else first
            d = np.array([np.cos(a), np.sin(a)]) * u(0.3, 0.5)
            out.append([tuple(c - d), tuple(c + d)])
        return out
    if kind == "polygon":  # 3-7 corners, closed, sometimes a star
        n, star = int(rng.integers(3, 8)), u() < 0.3
        step = 2 * np.pi / n * ((n // 2) if star and n >= 5 else 1)
        a = u(0, 2 * np.pi) + np.arange(n + 1) * step + u(-0.15, 0.15, n + 1) * (not star)
        a[-1] = a[0]
        r = u(0.35, 0.48)
        return [list(zip(0.5 + r * np.cos(a), 0.5 + r * np.sin(a)))]
    if kind == "zigzag":  # 4-9 legs, across or down
        n = int(rng.integers(4, 10))
        t = np.linspace(0.05, 0.95, n + 1)
        w = np.where(np.arange(n + 1) % 2, u(0.6, 0.95), u(0.05, 0.4))
        pts = list(zip(t, w)) if u() < 0.6 else list(zip(w, t))
        return [pts]
    if kind == "wave":  # 1.5-4 periods, any slope
        t = np.linspace(0, 1, 60)
        y = 0.5 + u(0.1, 0.3) * np.sin(2 * np.pi * u(1.5, 4) * t + u(0, np.pi)) + u(-0.2, 0.2) * (t - 0.5)
        return [list(zip(0.02 + 0.96 * t, y))] if u() < 0.7 else [list(zip(y, 0.02 + 0.96 * t))]
    if kind == "spiral":  # 1.5-4 turns, either way
        t = np.linspace(0, 1, 80)
        a = t * 2 * np.pi * u(1.5, 4) * rng.choice([-1, 1])
        r = 0.05 + u(0.35, 0.45) * t
        return [list(zip(0.5 + r * np.cos(a), 0.5 + r * np.sin(a)))]
    if kind == "hatching":  # 3-6 parallel lines, sometimes crossed by as many
        a = u(0, np.pi)
        along, across = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
        out = []
        for dirs in ((along, across), (across, along))[: 1 + (u() < 0.4)]:
            for o in np.linspace(-0.35, 0.35, int(rng.integers(3, 7))):
                c = 0.5 + dirs[1] * o
                out.append([tuple(c - dirs[0] * 0.42), tuple(c + dirs[0] * 0.42)])
        return out
    if kind == "scattered":  # 3-7 short strokes apart
        out = []
        for _ in range(int(rng.integers(3, 8))):
            c, a, r = u(0.1, 0.9, 2), u(0, np.pi), u(0.05, 0.15)
            d = np.array([np.cos(a), np.sin(a)]) * r
            out.append([tuple(c - d), tuple(c + d)] if u() < 0.6 else strokes.arc(*c, r, r, 0, u(90, 360)))
        return out
    if kind == "ring":  # a ring with 1-4 marks inside, or two rings side by side
        if u() < 0.25:
            return [strokes.arc(0.27, 0.5, 0.22, 0.22, 0, 360), strokes.arc(0.73, 0.5, 0.22, 0.22, 0, 360)]
        out = [strokes.arc(0.5, 0.5, 0.45, 0.45, 0, 360)]
        for _ in range(int(rng.integers(1, 5))):
            c, a = u(0.3, 0.7, 2), u(0, np.pi)
            d = np.array([np.cos(a), np.sin(a)]) * u(0.03, 0.18)
            out.append([tuple(c - d), tuple(c + d)])
        return out
    # a tangle: a random walk that turns often
    p, v, pts = u(0.3, 0.7, 2), u(-1, 1, 2), []
    for _ in range(int(rng.integers(25, 60))):
        v = 0.7 * v + rng.normal(0, 0.6, 2)
        p = np.clip(p + 0.04 * v, 0.02, 0.98)
        pts.append(tuple(p))
    return [pts]


def _seen(drawing: np.ndarray) -> np.ndarray | None:
    img = preprocess.to_mnist(drawing)
    return pictures.to_bytes(img) if img is not None and not preprocess.too_small(drawing) else None


def redrawn(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """28x28 images (N, 28, 28) re-drawn as the pad would send them (synth.redraw at a random size, position and pen)
    and preprocessed as the app does: uint8 (M, 28, 28), and the index in x of each (M <= N: none that came out
    empty)."""
    out, kept = [], []
    for i, img in enumerate(x):
        size, thicken = int(rng.integers(100, 251)), int(rng.integers(-2, 9))
        room = synth.CANVAS - size - 2 * max(thicken, 0)
        seen = _seen(synth.redraw(img, size, *rng.integers(0, room + 1, 2), thicken))
        if seen is not None:
            out.append(seen)
            kept.append(i)
    return np.stack(out).reshape(-1, 28, 28), np.array(kept, np.int64)


def _mnist_negatives(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """MNIST digits mirrored, turned a quarter, or two overlaid: (28, 28) uint8 each, half of them re-drawn."""
    flippable = np.flatnonzero(np.isin(y, FLIPPED))
    out = []
    for k in range(n):
        way = k % 3
        if way == 2:  # two different digits, one on the other, a little apart
            i = rng.integers(len(x))
            j = rng.choice(np.flatnonzero(y != y[i]))
            b = np.roll(x[j], tuple(rng.integers(-4, 5, 2)), axis=(0, 1))
            out.append(np.maximum(x[i], b))
        else:
            img = x[rng.choice(flippable)]
            out.append(np.ascontiguousarray(img[:, ::-1] if way == 0 else np.rot90(img, rng.choice([1, 3]))))
    half = len(out) // 2
    return out[:half] + list(redrawn(np.stack(out[half:]), rng)[0])


def negatives(root, mnist_x: np.ndarray, mnist_y: np.ndarray, per_kind: int = 2500, seed: int = 0,
              report=None) -> np.ndarray:
    """Drawings that are no digit, as the gate sees them: uint8 (N, 28, 28). Made once (a few minutes) and kept in the
    data folder beside synth's bank, named by what it was made from."""
    files = [path for face in synth.typefaces() if not face.held_out for path in face.files]
    key = hashlib.sha256(repr((NEGATIVES_VERSION, per_kind, seed, files, LETTERS, SHAPES)).encode()).hexdigest()[:16]
    path = Path(root) / "synth" / f"non-digits-{key}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["x"]
    (report or (lambda line: None))(f"drawing {per_kind * (len(SHAPES) + 2):,} things that are no digit once, "
                                    f"into {path}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(per_kind * 2 if files else 0):  # letters and signs of the training typefaces
        try:
            seen = _seen(synth.render(files[rng.integers(len(files))], LETTERS[rng.integers(len(LETTERS))], rng))
        except OSError:  # a typeface without that sign
            continue
        if seen is not None:
            out.append(seen)
    for kind in SHAPES:
        for _ in range(per_kind):
            seen = _seen(strokes.draw(tuple(tuple(s) for s in _shape(kind, rng)), rng))
            if seen is not None:
                out.append(seen)
    out += _mnist_negatives(mnist_x, mnist_y, per_kind * 3, rng)
    x = np.stack(out)
    write_atomically(path, lambda f: np.savez_compressed(f, x=x))
    return x


# --- training, calibration, files ------------------------------------------------------------------------------


def _shifted(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Each image moved by up to 2 pixels each way (B, 28, 28)."""
    pad = nn.functional.pad(x, (2, 2, 2, 2))
    dx, dy = torch.randint(0, 5, (2,), generator=g).tolist()
    return pad[:, dy : dy + 28, dx : dx + 28]


def train(x: np.ndarray, y: np.ndarray, epochs: int = 6, batch: int = 256, seed: int = 0, report=None) -> Net:
    """The gate fit to images x (N, 28, 28) uint8 with labels y (N,) in 0..10 (10: not a digit)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = Net()
    xs, ys = torch.from_numpy(x).float() / 255, torch.from_numpy(y).long()
    steps = epochs * (len(xs) // batch)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=max(1, steps))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(xs), generator=g)
        for i in range(0, len(xs) - batch + 1, batch):
            idx = perm[i : i + batch]
            _, loss = learn_step(net, opt, loss_fn, _shifted(xs[idx], g), ys[idx])
            sched.step()
        if report:
            report(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}")
    return net.eval()


def calibrate(net: Net, digits: np.ndarray, quantile: float = QUANTILE) -> float:
    """The probability of "not a digit" that only `quantile` of these digits (N, 28, 28) rise above."""
    return float(np.quantile(Gate(net, 0.0, {}).other(digits), 1 - quantile))


def build(root=None, per_kind: int = 2500, epochs: int = 5, seed: int = 0, report=None) -> Gate:
    """The gate as the app ships it, from MNIST (its training split, as it is and re-drawn), synth's bank and
    negatives(); its threshold from digits it never trained on."""
    mnist = data.load(root)
    root = data.data_root(root)
    rng = np.random.default_rng(seed)
    tx, ty = mnist.train_x.numpy(), mnist.train_y.numpy()
    vx = mnist.val_x.numpy()
    bx, by = synth.bank(root, report=report)
    held = rng.random(len(bx)) < 0.1  # a tenth of the bank only calibrates
    nx = negatives(root, tx, ty, per_kind, seed, report)
    (report or (lambda line: None))(f"re-drawing {REDRAWN:,} MNIST training digits and {REDRAWN // 6:,} validation ones")
    pick = rng.choice(len(tx), REDRAWN, replace=False)
    rx, kept = redrawn(tx[pick], rng)
    ry = ty[pick][kept]
    x = np.concatenate([tx, rx, bx[~held], nx])
    y = np.concatenate([ty, ry, by[~held], np.full(len(nx), OTHER)])
    net = train(x, y, epochs, seed=seed, report=report)
    digits = np.concatenate([vx, redrawn(vx[: REDRAWN // 6], rng)[0], bx[held]])
    threshold = calibrate(net, digits)
    card = {"trained_on": {"mnist": len(tx), "mnist re-drawn": len(rx), "font and stroke digits": int((~held).sum()),
                           "non-digits": len(nx)},
            "calibrated_on": f"{QUANTILE:.1%} of {len(digits):,} digits it never trained on (MNIST validation, as it "
                             "is and re-drawn, and a tenth of the font and stroke digits)",
            "epochs": epochs, "seed": seed, "per_kind": per_kind}
    return Gate(net, threshold, card)


def save(gate: Gate, path) -> Path:
    """The gate written whole or not at all, with its card beside it (PATH.json) for people to read."""
    blob = {"format": FORMAT, "version": 1, "threshold": gate.threshold, "card": gate.card,
            "state_dict": gate.net.state_dict()}
    path = write_atomically(Path(path), lambda f: torch.save(blob, f))
    card = json.dumps({"threshold": gate.threshold, **gate.card}, indent=2) + "\n"
    write_atomically(path.with_suffix(".json"), lambda f: f.write(card.encode()))
    return path


def load(path=SHIPPED) -> Gate:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise ValueError
        net = Net()
        net.load_state_dict(blob["state_dict"])
        return Gate(net.eval(), float(blob["threshold"]), dict(blob["card"]))
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-sentence answer
        raise UserError(f"{path} is not a gate file digitlab wrote ({type(e).__name__}): make it again with "
                        "`digitlab gate --save checkpoints/gate/gate.pt`.") from None


@lru_cache(maxsize=1)
def shipped() -> Gate | None:
    """The gate the app ships, or None where the checkout has none (the Draw page then never says "not a digit?")."""
    return load(SHIPPED) if SHIPPED.exists() else None


def not_a_digit(seen: np.ndarray) -> bool:
    """Whether the shipped gate flags one 28x28 image as no digit (False where there is no gate)."""
    g = shipped()
    return g is not None and bool(g.flags(seen[None])[0])
