"""Stroke digits: the ways of writing a digit that MNIST has few of, drawn like the pad's, half of them held out."""

import numpy as np
import pytest

from digitlab.datasets import strokes, synth
from digitlab.drawing import preprocess

VARIANTS = strokes.variants()
TRAINING_FACES = [f for f in synth.typefaces() if not f.held_out]


def test_every_digit_has_variants_that_train_and_variants_that_only_measure():
    for digit in range(10):
        mine = [v for v in VARIANTS if v.digit == digit]
        assert [v.held_out for v in mine] == [k % 2 == 1 for k in range(len(mine))]  # every other, from the second
        assert any(v.held_out for v in mine) and not all(v.held_out for v in mine)
    names = [(v.digit, v.name) for v in VARIANTS]
    assert len(names) == len(set(names))
    assert {"flag and foot", "long flag"} <= {v.name for v in VARIANTS if v.digit == 1}


def test_a_stroke_digit_is_drawn_like_the_pads_whole_and_read_through_the_apps_preprocessing():
    rng = np.random.default_rng(0)
    for v in VARIANTS:
        img = strokes.render(v, rng)
        assert img.shape == (280, 280) and img.dtype == np.uint8 and img.max() == 255
        assert 0.005 < (img > 128).mean() < 0.5
        edge = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
        assert edge.max() == 0, f"{v.digit} {v.name} runs off the canvas"
        assert preprocess.to_mnist(img) is not None


def test_the_same_seed_draws_the_same_digits_and_another_draws_others():
    one = [img for _, img in strokes.drawings(per_variant=2, seed=3)]
    again = [img for _, img in strokes.drawings(per_variant=2, seed=3)]
    other = [img for _, img in strokes.drawings(per_variant=2, seed=4)]
    assert all(np.array_equal(a, b) for a, b in zip(one, again))
    assert not any(np.array_equal(a, b) for a, b in zip(one, other))
    assert {v.held_out for v, _ in strokes.drawings(held_out=False, per_variant=1)} == {False}


@pytest.mark.skipif(not TRAINING_FACES, reason="no training typeface installed (Debian's fonts-liberation has one)")
def test_the_font_bank_draws_only_training_stroke_variants_and_every_digit_alike(tmp_path, monkeypatch):
    drawn = []
    real = strokes.render
    monkeypatch.setattr(strokes, "render", lambda v, rng: drawn.append(v) or real(v, rng))
    one = TRAINING_FACES[0]
    monkeypatch.setattr(synth, "typefaces", lambda: [synth.Typeface(one.style, one.name, one.files[:1], False)])
    x, y = synth.bank(tmp_path, per_font=1, strokes_per_digit=6)  # one font file: a digit each, then 6 drawn
    assert drawn and not any(v.held_out for v in drawn)
    assert {v.name for v in drawn if v.digit == 1} == {v.name for v in VARIANTS if v.digit == 1 and not v.held_out}
    assert np.bincount(y, minlength=10).tolist() == [7] * 10 and x.shape == (70, 28, 28)


def test_non_digits_are_drawn_like_digits_and_dots_are_too_small_to_read():
    seen = {}
    for kind, name, img in strokes.non_digits(per_shape=2, seed=0):
        assert img.shape == (280, 280) and img.dtype == np.uint8 and img.max() == 255
        seen.setdefault(kind, []).append((name, img))
    assert set(seen) == {"letter", "cross", "shape", "scribble", "dot"}
    assert len(seen["scribble"]) == len(seen["dot"]) == 2 * len(strokes.NON_DIGITS["shape"])
    assert all(preprocess.too_small(img) for _, img in seen["dot"])
    assert not any(preprocess.too_small(img) for _, img in seen["letter"] + seen["cross"])
    assert not set(strokes.NON_DIGITS["letter"]) & set("OoIlSZBGqT")  # letters a digit could be are left out
