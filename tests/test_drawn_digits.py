"""Preprocessing end to end: MNIST test digits re-drawn on a 280x280 canvas are read as well as the originals."""

import numpy as np

from digitlab import checkpoint, preprocess
from digitlab.checkpoint import SHIPPED
from testkit import redraw
from testkit.fixtures import official_test_digits as digits

MLP = SHIPPED / "mlp-default.pt"


def test_redrawn_digits_are_read_within_one_point_of_the_originals(monkeypatch):
    ck = checkpoint.load(MLP)
    x, y = digits()
    original = (ck.predict_proba(x).argmax(1) == y).mean()
    monkeypatch.setattr(redraw, "VARIANTS", [(120, 0), (200, -2), (200, 6), (260, 10)])
    hits = {}
    for v, i, drawing in redraw.redraw_set(x, seed=1):
        seen = preprocess.to_mnist(drawing)
        hits.setdefault(v, []).append(seen is not None and ck.predict_proba(seen[None])[0].argmax() == y[i])
    per_variant = {v: float(np.mean(h)) for v, h in hits.items()}
    redrawn = float(np.mean([h for hs in hits.values() for h in hs]))
    print(f"original {original:.4f}, redrawn {redrawn:.4f}, per variant {per_variant}")
    assert redrawn >= original - 0.01
    assert min(per_variant.values()) >= original - 0.03


def test_naive_resize_is_much_worse_than_mnist_style_preprocessing():
    """The reason the preprocessing exists (DESIGN.md): a plain 280->28 resize of an off-centre digit fails."""
    from PIL import Image

    ck = checkpoint.load(MLP)
    x, y = digits(100)
    naive, ours = [], []
    rng = np.random.default_rng(0)
    for img, label in zip(x, y):
        d = redraw.redraw(img, 120, rng.integers(0, 150), rng.integers(0, 150), 4)
        small = np.asarray(Image.fromarray(d).resize((28, 28), Image.BILINEAR), dtype=np.float32) / 255
        naive.append(ck.predict_proba(small[None])[0].argmax() == label)
        ours.append(ck.predict_proba(preprocess.to_mnist(d)[None])[0].argmax() == label)
    assert np.mean(ours) > np.mean(naive) + 0.3
