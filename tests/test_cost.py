"""Pricing a run from its config alone: exact parameters, estimates of memory and time, limits named."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitlab import UserError, cost
from digitlab.config import TrainConfig, validate
from digitlab.models import build
from digitlab.presets import PRESETS, preset
from digitlab.settings import Limits

configs = st.builds(
    TrainConfig, model=st.sampled_from(["mlp", "cnn"]), hidden=st.lists(st.integers(1, 64), min_size=1, max_size=3),
    channels=st.lists(st.integers(1, 8), min_size=1, max_size=2), norm_layer=st.sampled_from(["none", "batch", "layer"]),
    dropout=st.sampled_from([0.0, 0.3]))


@settings(max_examples=60, deadline=None)
@given(configs)
def test_parameters_are_exact_for_any_architecture(config):
    assert cost.params(config) == build(config).num_params()


def test_course_and_shipped_models():
    assert cost.params(TrainConfig(hidden=[512, 128])) == 468_874
    assert cost.params(preset("best-mlp")) == 1_333_770 and cost.params(preset("cnn")) == 455_018


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
