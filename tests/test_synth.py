"""Font digits: drawn like the pad's, the held-out typefaces never in training, and mixed into a run's epochs."""

import numpy as np
import pytest
import torch

from digitlab import UserError
from digitlab.datasets import synth
from digitlab.drawing import preprocess
from digitlab.runs import admission
from digitlab.learn.config import TrainConfig
from digitlab.runs.runner import workers
from digitlab.runs.store import Status, Store

FACES = synth.typefaces()
needs_fonts = pytest.mark.skipif(not any(f.held_out for f in FACES) or all(f.held_out for f in FACES),
                                 reason="no held-out and training typefaces installed (Debian's fonts-dejavu-core "
                                        "and fonts-liberation give both)")


def test_every_other_typeface_of_a_style_is_held_out():
    for style in {s for s, _, _ in synth.TYPEFACES}:
        names = [name for s, name, _ in synth.TYPEFACES if s == style]
        held = {f.name for f in FACES if f.style == style and f.held_out}
        assert held <= set(names[0::2]) and not held & set(names[1::2])


@needs_fonts
def test_a_font_digit_is_drawn_like_the_pads_and_read_through_the_apps_preprocessing():
    rng = np.random.default_rng(0)
    face = FACES[0]
    for digit in range(10):
        img = synth.render(face.files[0], digit, rng)
        assert img.shape == (280, 280) and img.dtype == np.uint8 and img.max() > 200  # white ink on black
        assert (img > 128).mean() < 0.5
        assert preprocess.to_mnist(img) is not None


@needs_fonts
def test_the_font_bank_holds_only_training_typefaces_and_is_kept(tmp_path, monkeypatch):
    held = {p for f in FACES if f.held_out for p in f.files}
    drawn = []
    real = synth.render
    monkeypatch.setattr(synth, "render", lambda path, digit, rng: drawn.append(path) or real(path, digit, rng))
    x, y = synth.bank(tmp_path, per_font=1, strokes_per_digit=2)
    assert drawn and not set(drawn) & held
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and set(y) == set(range(10))
    again = synth.bank(tmp_path, per_font=1, strokes_per_digit=2)  # kept: nothing drawn the second time
    assert len(drawn) == len(set(drawn)) * 10 and np.array_equal(again[0], x)


def test_a_run_with_font_digits_has_a_longer_epoch_of_them(tmp_path, tiny_root, monkeypatch):
    fake = (np.full((30, 28, 28), 255, np.uint8), np.arange(30) % 10)
    monkeypatch.setattr(synth, "bank", lambda root, **k: fake)
    s = Store(tmp_path / "runs")
    plain = admission.launch(s, TrainConfig(hidden=[8], epochs=1, device="cpu", batch_size=10), tiny_root)
    with_fonts = admission.launch(s, TrainConfig(hidden=[8], epochs=1, device="cpu", batch_size=10, fonts=0.5), tiny_root)
    workers.work(s, tiny_root)
    assert s.get(with_fonts).status is Status.COMPLETED
    assert s.get(with_fonts).steps_per_epoch == s.get(plain).steps_per_epoch * 3 // 2  # 400 + 200 images


def test_font_digits_without_any_training_typeface_are_refused_at_launch(tmp_path, tiny_root, monkeypatch):
    monkeypatch.setattr(synth, "typefaces", lambda: [f for f in FACES if f.held_out])
    with pytest.raises(UserError, match="Font digits need Debian's font packages: apt-get install"):
        admission.launch(Store(tmp_path), TrainConfig(hidden=[8], device="cpu", fonts=0.1), tiny_root)


def test_mixed_in_repeats_a_small_set_and_samples_a_large_one():
    from digitlab.learn.train import _mixed_in

    x, y = torch.arange(4), torch.arange(4)
    assert _mixed_in(x, y, 10, torch.Generator())[0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    part = _mixed_in(x, y, 2, torch.Generator().manual_seed(0))[0].tolist()
    assert len(set(part)) == 2
