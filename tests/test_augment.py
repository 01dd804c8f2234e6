import pytest
import torch

from digitlab import UserError
from digitlab.datasets import data
from digitlab.learn import augment
from digitlab.learn.config import AUGMENT, NAMES, TrainConfig, spec, validate
from digitlab.learn.models import CNN, build
from digitlab.learn.train import train

BLANK = data.blank_pixel("mnist")


def bar_batch(n=8):
    x = torch.zeros(n, 28, 28, dtype=torch.uint8)
    x[:, 10:18, 12:16] = 255
    return data.normalize(x, "mnist")  # (n, 784)


def test_nothing_asked_changes_nothing():
    x = bar_batch()
    assert not augment.enabled(TrainConfig())
    assert torch.allclose(augment.augment(x, TrainConfig(translate=0.0), BLANK), x, atol=1e-5)


def test_shift_moves_ink_and_keeps_the_background_blank():
    x = bar_batch(64)
    torch.manual_seed(0)
    out = augment.augment(x, TrainConfig(translate=4), BLANK).view(64, 28, 28)
    assert out.min() >= BLANK - 1e-4 and out.max() <= x.max() + 1e-4
    assert torch.allclose(out[:, 0, :], torch.full((64, 28), BLANK), atol=1e-4)  # row 0 stays blank
    ink = (out - BLANK).clamp_min(0)
    cols = (ink.sum(1) * torch.arange(28)).sum(1) / ink.sum((1, 2))
    assert cols.std() > 0.5 and (cols - 13.5).abs().max() <= 4.6  # moved, by at most the 4 pixels asked


@pytest.mark.parametrize("kind,lo,hi", [(dict(rotate=30), 0.98, 1.02), (dict(shear=10), 0.98, 1.02),
                                         (dict(scale=0.1), 0.78, 1.25), (dict(elastic=1.5), 0.6, 1.4)])
def test_distortions_keep_the_ink_mass_in_bounds(kind, lo, hi):
    x = bar_batch(32)
    out = augment.augment(x, TrainConfig(**kind), BLANK)
    mass = lambda t: (t - BLANK).clamp_min(0).sum(1)  # noqa: E731
    ratio = mass(out) / mass(x)
    assert lo <= ratio.min() and ratio.max() <= hi
    assert not torch.allclose(out, x, atol=1e-3)  # something did move


def test_thickness_makes_strokes_bolder_or_thinner():
    x = bar_batch(400)
    torch.manual_seed(0)
    out = augment.augment(x, TrainConfig(thickness=1.0), BLANK)
    ink = (out - BLANK).sum(1)
    base = (x - BLANK).sum(1)[0]
    assert (ink > base * 1.1).sum() > 100 and (ink < base * 0.9).sum() > 100  # about half each way


def test_same_seed_same_distortions():
    x = bar_batch()
    c = TrainConfig(rotate=15, elastic=2, thickness=0.5)
    torch.manual_seed(3)
    a = augment.augment(x, c, BLANK)
    torch.manual_seed(3)
    assert torch.equal(a, augment.augment(x, c, BLANK))


@pytest.mark.parametrize("bad", [dict(rotate=-1), dict(thickness=1.5), dict(elastic=20)])
def test_out_of_range_augmentation_is_refused(bad):
    with pytest.raises(UserError, match="must be between 0 and"):
        validate(TrainConfig(**bad))


def test_cnn_shapes_and_training(tiny):
    m = build(TrainConfig(model="cnn", channels=[8, 16], hidden=[32], norm_layer="batch", dropout=0.2))
    assert isinstance(m, CNN) and m(torch.rand(5, 784)).shape == (5, 10)
    assert m.num_params() == sum(p.numel() for p in m.parameters())
    r = train(validate(TrainConfig(model="cnn", channels=[8], hidden=[16], epochs=2, batch_size=32, lr=3e-3,
                                   rotate=5, thickness=0.2, device="cpu")), tiny)
    assert r.epochs[-1]["val_acc"] > 0.8


def test_augmented_epoch_learns(tiny):
    r = train(validate(TrainConfig(hidden=[32], epochs=3, batch_size=32, lr=3e-3, rotate=8, translate=1, scale=0.1,
                                   elastic=1, thickness=0.3, device="cpu")), tiny)
    assert r.epochs[-1]["val_acc"] > 0.8


def test_previews_are_the_same_for_a_seed_and_leave_trainings_random_state_alone():
    x = torch.rand(2, 28, 28)
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    a = augment.examples(x, TrainConfig(rotate=15), copies=7, seed=1)
    assert torch.equal(torch.rand(3), expected_next)  # as if no preview had been drawn
    assert a.shape == (2, 7, 28, 28) and torch.equal(a, augment.examples(x, TrainConfig(rotate=15), seed=1))
    assert not torch.equal(a, augment.examples(x, TrainConfig(rotate=15), seed=2))
    assert torch.allclose(augment.examples(x, TrainConfig(), copies=3)[:, 0], x, atol=1e-5)
    assert set(augment.SHOWN) == {n for n in NAMES if spec(n).group == AUGMENT}  # a preview for every setting
