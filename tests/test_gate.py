"""The gate that says "not a digit?": what it trains on, its threshold, its file, and the shipped one on drawings of
strokes.NON_DIGITS (which it never trained on) against held-out digits."""

import numpy as np
import pytest
import torch

from digitlab import UserError
from digitlab.datasets import strokes, synth
from digitlab.drawing import answers, gate, preprocess
from digitlab.learn import checkpoint
from testkit.fixtures import synthetic_digits


@pytest.mark.parametrize("kind", gate.SHAPES)
def test_every_kind_of_shape_draws_ink_the_preprocessing_keeps(kind):
    rng = np.random.default_rng(0)
    for _ in range(5):
        drawing = strokes.draw(tuple(tuple(s) for s in gate._shape(kind, rng)), rng)
        assert gate._seen(drawing) is not None, kind


def test_letters_that_read_as_digits_are_never_negatives():
    assert not set(gate.LETTERS) & set("OoIliSsZzBGbgqT/|!$0123456789")


def test_mnist_negatives_mirror_or_turn_only_digits_that_stop_being_digits():
    x, y = synthetic_digits(200)
    made = gate._mnist_negatives(x, y, 30, np.random.default_rng(0))
    assert len(made) >= 20 and all(m.shape == (28, 28) and m.dtype == np.uint8 for m in made)
    flipped_pool = {x[i].tobytes() for i in np.flatnonzero(np.isin(y, gate.FLIPPED))}
    for m in made[: len(made) // 2 : 3]:  # the mirrored ones not re-drawn: each a mirrored digit of FLIPPED
        assert np.ascontiguousarray(m[:, ::-1]).tobytes() in flipped_pool


def test_negatives_are_made_once_and_kept(tmp_path, monkeypatch):
    x, y = synthetic_digits(200)
    made = gate.negatives(tmp_path, x, y, per_kind=3, seed=0)
    assert made.dtype == np.uint8 and made.shape[1:] == (28, 28)
    assert len(made) >= 3 * len(gate.SHAPES)  # shapes, letters where fonts are installed, MNIST turned
    monkeypatch.setattr(gate, "_shape", lambda *a: pytest.fail("drawn again"))
    assert np.array_equal(gate.negatives(tmp_path, x, y, per_kind=3, seed=0), made)


def _tiny_gate():
    x, y = synthetic_digits(300)
    rng = np.random.default_rng(1)
    noise = (rng.random((300, 28, 28)) < 0.3).astype(np.uint8) * 255  # "not a digit": salt
    xs, ys = np.concatenate([x, noise]), np.concatenate([y, np.full(300, gate.OTHER)])
    return gate.train(xs, ys, epochs=2, batch=64), x, noise


def test_the_threshold_lets_through_all_but_the_quantile_of_digits_and_round_trips(tmp_path):
    net, digits, noise = _tiny_gate()
    threshold = gate.calibrate(net, digits, quantile=0.05)
    made = gate.Gate(net, threshold, {"calibrated_on": "test"})
    assert made.flags(digits).mean() == pytest.approx(0.05, abs=0.01)
    assert made.flags(noise).mean() > 0.9  # it learned what it was shown
    path = gate.save(made, tmp_path / "g.pt")
    back = gate.load(path)
    assert back.threshold == threshold and back.card == {"calibrated_on": "test"}
    assert np.allclose(back.other(digits), made.other(digits), atol=1e-6)


def test_a_file_that_is_not_a_gate_is_one_sentence(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    torch.save({"format": checkpoint.FORMAT, "state_dict": {}}, tmp_path / "model.pt")
    for name in ("junk.pt", "model.pt", "missing.pt"):
        with pytest.raises(UserError, match=r"is not a gate file digitlab wrote .*digitlab gate --save"):
            gate.load(tmp_path / name)


def test_reading_says_not_a_digit_and_still_names_the_model_s_guess():
    r = answers.reading([0.02] * 8 + [0.84, 0.0], other=True)
    assert r["headline"] == "not a digit?" and not r["sure"] and "none of 0-9" in r["detail"] and "8" in r["detail"]
    assert r["digit"] == 8 and r["guess"] is None  # the pad's Save offers no label for it
    assert answers.reading([0.02] * 8 + [0.84, 0.0])["guess"] == 8
    assert answers.reading([0.02] * 8 + [0.84, 0.0], digits=2, other=True)["headline"] == "one digit?"
    assert answers.reading([0.02] * 8 + [0.84, 0.0], small=True, other=True)["headline"] == "too small"


@pytest.fixture(scope="module")
def shipped():
    made = gate.shipped()
    assert made is not None, "checkpoints/gate/gate.pt is missing: make it with `digitlab gate`"
    return made


def _seen(drawings):
    return np.stack([preprocess.to_mnist(d) for d in drawings])


def test_the_shipped_gate_flags_most_non_digits_it_never_saw(shipped):
    flagged = {}
    for kind, name, drawing in strokes.non_digits(per_shape=4, seed=3):
        if kind != "dot":  # dots are "too small"
            flagged.setdefault(kind, []).append(bool(shipped.flags(_seen([drawing]))[0]))
    share = {kind: np.mean(f) for kind, f in flagged.items()}
    assert np.mean(sum(flagged.values(), [])) > 0.8, share


def test_the_shipped_gate_lets_held_out_digits_through(shipped):
    rng = np.random.default_rng(3)
    drawn = [strokes.render(v, rng) for v in strokes.variants() if v.held_out for _ in range(6)]
    faces = [f for f in synth.typefaces() if f.held_out]
    drawn += [synth.render(f.files[0], d, rng) for f in faces for d in range(10)]
    assert shipped.flags(_seen(drawn)).mean() < 0.03
