"""Pricing a run from its config alone: exact parameters, estimates of memory and time, limits named."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitlab import UserError
from digitlab.learn import cost
from digitlab.learn.config import TrainConfig, validate
from digitlab.learn.models import build
from digitlab.learn.presets import PRESETS, preset
from digitlab.settings import Limits

configs = st.builds(
    TrainConfig, model=st.sampled_from(["mlp", "cnn"]), hidden=st.lists(st.integers(1, 64), min_size=1, max_size=3),
    channels=st.lists(st.integers(1, 8), min_size=1, max_size=2), kernel=st.sampled_from([1, 3, 5, 7]),
    convs=st.integers(1, 3), norm_layer=st.sampled_from(["none", "batch", "layer"]),
    dropout=st.sampled_from([0.0, 0.3]))


@settings(max_examples=60, deadline=None)
@given(configs)
def test_parameters_are_exact_for_any_architecture(config):
    assert cost.params(config) == build(config).num_params()


def test_course_and_shipped_models():
    assert cost.params(TrainConfig(hidden=[512, 128])) == 468_874
    assert cost.params(preset("best-mlp")) == 1_333_770 and cost.params(preset("cnn")) == 455_018
    # best-cnn: 3x3 convs 1-32, 32-32 (no biases: batch norm's), 32-64, 64-64, then 64x7x7-128-10
    convs = 9 * (32 + 32 * 32 + 32 * 64 + 64 * 64) + 2 * (32 + 32 + 64 + 64)
    assert cost.params(preset("best-cnn")) == convs + 64 * 7 * 7 * 128 + 128 + 128 * 10 + 10


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_fits_the_default_limits(name):
    e = cost.check(validate(preset(name)), Limits())
    assert e.params > 0 and e.memory_mb > 0 and e.minutes > 0


def test_estimates_grow_with_the_run():
    small, wide = cost.estimate(TrainConfig(hidden=[64])), cost.estimate(TrainConfig(hidden=[4096, 4096]))
    assert wide.params > 100 * small.params and wide.memory_mb > small.memory_mb
    assert wide.minutes > small.minutes and wide.gflop_per_epoch > small.gflop_per_epoch
    long = cost.estimate(TrainConfig(hidden=[64], epochs=20))
    assert long.steps == 20 * 750 and long.minutes == pytest.approx(2 * small.minutes, rel=1e-6)  # default 10
    assert cost.estimate(TrainConfig(), "cuda").minutes < cost.estimate(TrainConfig(), "cpu").minutes
    taught = cost.estimate(TrainConfig(hidden=[64]), teacher=TrainConfig(model="cnn", hidden=[128]))
    assert taught.minutes > 2 * small.minutes and taught.memory_mb > small.memory_mb and taught.params == small.params
    more = cost.estimate(TrainConfig(hidden=[64], val_size=2_000))  # 58,000 images train, 12,000 fewer scored
    assert more.steps == 10 * 907 and more.minutes > small.minutes
    assert "parameters · about" in small.describe()


@pytest.mark.parametrize("config,limit", [
    (TrainConfig(hidden=[60_000, 100]), "limits.max_params"),
    (TrainConfig(hidden=[65_536, 65_536]), "limits.max_params"),
    (TrainConfig(hidden=[2000, 2000], batch_size=48_000), "limits.max_memory_mb"),
    (TrainConfig(batch_size=1, epochs=10), "limits.max_steps"),
    (TrainConfig(hidden=[2048, 2048], batch_size=256, epochs=1000), "limits.max_run_minutes"),
])
def test_a_run_over_a_limit_is_refused_naming_the_setting(config, limit):
    with pytest.raises(UserError, match=limit) as e:
        cost.check(validate(config), Limits(max_params=10_000_000))
    assert "\n" not in str(e.value) and "over the limit of" in str(e.value)


def test_an_mlp_estimate_is_the_hand_computed_one():
    """784-64-10 with Adam, batch 64, 10 epochs on the CPU, the course's split (48,000 train, 12,000 val, 10,000 test)."""
    e = cost.estimate(TrainConfig(hidden=[64], device="cpu"))
    params = (784 * 64 + 64) + (64 * 10 + 10)
    steps = 10 * 750  # 48,000 / 64 a epoch
    flops = 2 * 784 * 64 + 2 * 64 * 10  # forward, per image
    images = 3 * 48_000 + 12_000 + 10_000  # a training image counts 3: forward, backward, update
    seconds = 10 * images * flops / 150e9 + steps * 0.8e-3
    weights = 4 * params * (3 + 2)  # weights, gradients, best copy, Adam's two states
    data = 70_000 * 784 * 5  # every image as a byte and a float
    activations = 4 * max(2 * (3 * 64 + 10) * 64, 2 * 64 * 8192)  # a training step, or scoring 8,192 at once
    assert (e.params, e.steps) == (params, steps)
    assert e.gflop_per_epoch == pytest.approx(flops * images / 1e9, rel=1e-12)
    assert e.minutes == pytest.approx(seconds / 60, rel=1e-12)
    assert e.memory_mb == pytest.approx(150 + (weights + data + activations) / 2**20, rel=1e-12)
    sgd = cost.estimate(TrainConfig(hidden=[64], optimizer="sgd", device="cpu"))
    assert e.memory_mb - sgd.memory_mb == pytest.approx(4 * params * 2 / 2**20, rel=1e-12)  # no states for SGD


def test_a_teacher_adds_its_forward_pass_of_every_training_image():
    alone = cost.estimate(TrainConfig(hidden=[64], device="cpu"))
    taught = cost.estimate(TrainConfig(hidden=[64], device="cpu"), teacher=TrainConfig(hidden=[32]))
    teacher_params, teacher_flops = (784 * 32 + 32) + (32 * 10 + 10), 2 * 784 * 32 + 2 * 32 * 10
    assert taught.minutes - alone.minutes == pytest.approx(10 * 48_000 * teacher_flops / 150e9 / 60, rel=1e-9)
    more = 4 * teacher_params + 4 * (3 * 32 + 10) / 3 * 64  # its weights, and its activations for a batch of 64
    assert taught.memory_mb - alone.memory_mb == pytest.approx(more / 2**20, rel=1e-9)


def test_a_cnns_layers_and_augmentation_are_priced_by_hand():
    cnn = TrainConfig(model="cnn", channels=[8], hidden=[16], norm_layer="batch")
    assert cost._layers(cnn) == [(25 * 8 + 2 * 8, 2 * 25 * 8 * 28 * 28, 3 * 8 * 28 * 28, True),  # conv + batch norm
                                 (8 * 14 * 14 * 16 + 16, 2 * 8 * 14 * 14 * 16, 3 * 16, False),  # after a 2x2 pool
                                 (16 * 10 + 10, 2 * 16 * 10, 10, False)]
    two = TrainConfig(model="cnn", channels=[8, 12], hidden=[16], norm_layer="none")  # conv biases, no batch norm
    assert cost._layers(two)[:2] == [(25 * 8 + 8, 2 * 25 * 8 * 28 * 28, 3 * 8 * 28 * 28, True),
                                     (25 * 8 * 12 + 12, 2 * 25 * 8 * 12 * 14 * 14, 3 * 12 * 14 * 14, True)]
    assert cost.params(two) == build(two).num_params()
    plain, distorted = cost.estimate(TrainConfig(hidden=[64])), cost.estimate(TrainConfig(hidden=[64], rotate=10))
    assert distorted.minutes - plain.minutes == pytest.approx(10 * 48_000 * 2e-5 / 60, rel=1e-9)


@pytest.mark.parametrize("minutes, said", [(0.001, "1 s"), (0.5, "30 s"), (3.2, "3 min"), (119.4, "119 min"),
                                           (150, "2.5 h"), (600, "10.0 h")])
def test_durations_read_as_a_person_says_them(minutes, said):
    assert cost.duration(minutes) == said


def test_bf16_is_priced_faster_only_where_the_device_has_it(monkeypatch):
    fp32, bf16 = TrainConfig(model="cnn", channels=[8], hidden=[16]), TrainConfig(model="cnn", channels=[8], hidden=[16],
                                                                                  precision="bf16")
    monkeypatch.setattr(cost.devices, "bf16_native", lambda device: True)
    work = cost.estimate(fp32).minutes - cost.estimate(fp32, "cpu").steps * cost.SPEED["cpu"][2] / 60
    assert cost.estimate(bf16).minutes == pytest.approx(cost.estimate(fp32).minutes - work * (1 - 1 / cost.BF16_SPEEDUP))
    monkeypatch.setattr(cost.devices, "bf16_native", lambda device: False)  # emulated: it trains in fp32
    assert cost.estimate(bf16).minutes == cost.estimate(fp32).minutes


def test_a_teacher_is_priced_at_the_students_precision(monkeypatch):
    monkeypatch.setattr(cost.devices, "bf16_native", lambda device: True)
    student, teacher = TrainConfig(hidden=[64]), TrainConfig(model="cnn", channels=[8], hidden=[16], precision="bf16")
    alone = cost.estimate(student).minutes
    as_fp32 = cost.estimate(student, teacher=replace(teacher, precision="fp32")).minutes
    assert cost.estimate(student, teacher=teacher).minutes == as_fp32 > alone  # it reads batches in the student's step
