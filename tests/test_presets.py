import pytest

from digitlab.learn.config import validate
from digitlab.learn.presets import COMPARISON, COURSE as REACHED, GROUPS, PRESETS, preset
from digitlab.learn.train import train

COURSE = {"seed-ann": [512, 128], "seed-assignment": [128, 128], "compare-sgd": [128, 64],
          "compare-momentum": [128, 64], "compare-adam": [128, 64], "trial-100-50": [100, 50],
          "trial-30-5": [30, 5], "nmlp-30-5": [30, 5]}


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_is_valid(name):
    c = validate(preset(name))
    assert c.name == name
    if name in COURSE:
        assert c.hidden == COURSE[name]


def test_overrides_win_and_comparison_differs_only_in_optimizer():
    assert preset("seed-ann", epochs=1, lr=0.5).epochs == 1
    cs = [preset(n) for n in COMPARISON]
    assert [c.optimizer for c in cs] == ["sgd", "momentum", "adam"]
    assert len({(tuple(c.hidden), c.epochs, c.batch_size, c.input_norm) for c in cs}) == 1
    n = preset("nmlp-30-5")
    assert (n.norm_layer, n.dropout, n.lr, n.epochs) == ("layer", 0.5, 0.01, 3)
    assert [preset(f"dropout-{d}").lr for d in ("0.2", "0.4", "0.6")] == [1e-3, 5e-4, 1e-4]


def test_every_group_and_course_reference_names_presets():
    assert all(n in PRESETS for names, _ in GROUPS.values() for n in names) and set(REACHED) <= set(PRESETS)
    assert [preset(f"epochs-{n}").epochs for n in (10, 3, 1)] == [10, 3, 1]


def test_unknown_preset():
    from digitlab import UserError

    with pytest.raises(UserError, match="Unknown preset 'nope'"):
        preset("nope")


def test_fast_preset_on_the_real_set(real_mnist):
    r = train(validate(preset("fast", device="cpu")), real_mnist)
    assert r.test_acc >= 0.978 and r.best_val_acc >= 0.975
