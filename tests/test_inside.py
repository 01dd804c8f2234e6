"""Inside the network: saliency, activations, first-layer snapshots, pinned drawings, adversarial steps, the
learning-rate range test, and configurations as commands and addresses."""

import os
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

from digitlab import UserError, addresses, cli
from digitlab.drawing import inside, pictures
from digitlab.learn import checkpoint, devices, lrfind, train
from digitlab.runs import admission
from digitlab.learn.checkpoint import Checkpoint
from digitlab.learn.config import NAMES, TrainConfig, from_query, to_argv, to_query
from digitlab.learn.models import CNN, MLP
from digitlab.learn.presets import PRESETS, preset
from digitlab.runs.runner import execution
from digitlab.runs.store import MAX_PINS, Store


def linear(seed: int = 0) -> Checkpoint:
    """A network that is one Linear layer on raw pixels: its logit for class t is W[t] . x + b[t]."""
    torch.manual_seed(seed)
    model = MLP(hidden=()).eval()
    return Checkpoint(model, TrainConfig(input_norm="none"), {}, Path("linear.pt"))


def drawing(seed: int = 0, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, (28, 28)).astype(np.float32)


def test_gradient_saliency_of_a_linear_model_is_its_weight_row():
    ck, x = linear(), drawing()
    w = ck.model.net[0].weight.detach().numpy()  # (10, 784)
    for target in (0, 3, 9):
        np.testing.assert_allclose(inside.saliency(ck, x, target, "gradient"), np.abs(w[target]).reshape(28, 28),
                                   rtol=1e-6)


def test_integrated_gradients_of_a_linear_model_are_weight_times_input():
    ck, x = linear(), drawing(1)
    w = ck.model.net[0].weight.detach().numpy()
    attr = inside.saliency(ck, x, 4, "integrated")  # from a blank (all-zero) image: exact for a linear model
    np.testing.assert_allclose(attr, (w[4] * x.ravel()).reshape(28, 28), rtol=1e-4, atol=1e-6)
    logits = ck.model(torch.from_numpy(x).reshape(1, -1))[0].detach().numpy()
    blank = ck.model(torch.zeros(1, 784))[0].detach().numpy()
    assert attr.sum() == pytest.approx(logits[4] - blank[4], rel=1e-4)  # completeness


@pytest.mark.parametrize("target", [-1, 10, 2.5, "7", True, None])
def test_explaining_anything_but_a_digit_is_one_sentence(target):
    with pytest.raises(UserError, match="from 0 to 9"):
        inside.saliency(linear(), drawing(), target)


def test_an_unknown_attribution_method_is_one_sentence():
    with pytest.raises(UserError, match="choose one of gradient, integrated"):
        inside.saliency(linear(), drawing(), 1, "occlusion")


def wrap(net, **config) -> Checkpoint:
    return Checkpoint(net.eval(), TrainConfig(**config), {}, Path("m.pt"))


def test_activations_have_one_entry_a_hidden_layer_of_its_shape():
    mlp = inside.activations(wrap(MLP([32, 16], dropout=0.2, norm_layer="layer")), drawing())
    assert [(name, a.shape) for name, a in mlp] == [("hidden layer 1", (32,)), ("hidden layer 2", (16,))]
    assert all((a >= 0).all() for _, a in mlp)  # after the ReLU
    cnn = inside.activations(wrap(CNN([4, 8], [12]), model="cnn", channels=[4, 8], hidden=[12]), drawing())
    assert [(name, a.shape) for name, a in cnn] == [("conv block 1 feature maps", (4, 28, 28)),
                                                     ("conv block 2 feature maps", (8, 14, 14)),
                                                     ("head hidden layer 1", (12,))]
    deep = inside.activations(wrap(CNN([4, 8], [12], kernel=3, convs=2), model="cnn", channels=[4, 8], hidden=[12],
                                   kernel=3, convs=2), drawing())
    assert [(name, a.shape) for name, a in deep][:4] == [("conv block 1, conv 1 feature maps", (4, 28, 28)),
                                                          ("conv block 1, conv 2 feature maps", (4, 28, 28)),
                                                          ("conv block 2, conv 1 feature maps", (8, 14, 14)),
                                                          ("conv block 2, conv 2 feature maps", (8, 14, 14))]


def test_first_weights_are_images_of_the_first_layer():
    mlp = MLP([100, 10])
    w = inside.first_weights(mlp)
    assert w.shape == (100, 28, 28)
    np.testing.assert_array_equal(w[7].ravel(), mlp.net[0].weight[7].detach().numpy())
    assert inside.snapshot(mlp).shape == (inside.SNAPSHOT_UNITS, 28, 28) and inside.snapshot(mlp).dtype == np.float16
    assert inside.first_weights(CNN([6, 8], [10])).shape == (6, 5, 5)
    assert inside.first_weights(CNN([6, 8], [10], kernel=3, convs=2)).shape == (6, 3, 3)
    shown, order = inside.by_norm(np.stack([np.full((2, 2), v) for v in (1.0, -3.0, 2.0)]))
    assert list(order) == [1, 2, 0] and shown[0][0, 0] == -3.0


def test_a_targeted_step_provably_raises_the_target_logit_of_a_linear_model():
    """One signed step of size eps on a linear model's target log-probability, away from the pixel range's edges, moves
    the target's logit by eps * sum |W_t - sum_k p_k W_k| in the direction of that gradient: here, up."""
    ck = linear(3)
    for seed in range(5):
        x = drawing(seed, 0.2, 0.8)  # inside [0, 1]: no clamping
        before = ck.model(torch.from_numpy(x).reshape(1, -1))[0].detach()
        target = int(before.argmin())  # the least likely digit
        changed = inside.fool(ck, x, target, 0.05, steps=1)
        after = ck.model(torch.from_numpy(changed).reshape(1, -1))[0].detach()
        assert np.abs(changed - x).max() <= 0.05 + 1e-6
        assert after.log_softmax(-1)[target] > before.log_softmax(-1)[target]
        assert (after[target] - after.max()) > (before[target] - before.max())  # closer to being the answer


def test_pgd_stays_in_its_ball_and_the_smallest_flip_is_read_as_the_target():
    torch.manual_seed(0)
    ck = wrap(MLP([64]), input_norm="mnist")
    x = drawing(2)
    changed = inside.fool(ck, x, 5, 0.1, steps=20)
    assert np.abs(changed - x).max() <= 0.1 + 1e-6 and changed.min() >= 0 and changed.max() <= 1
    answer = int(ck.predict_proba(x[None])[0].argmax())
    target = (answer + 1) % 10
    found = inside.smallest_flip(ck, x, target)
    assert found is not None
    eps, image = found
    assert 0 < eps <= 1 and np.abs(image - x).max() <= eps + 1e-6
    assert int(ck.predict_proba(image[None])[0].argmax()) == target
    if eps > 2 / 256:  # a bisection: half a step less does not flip it
        smaller = inside.fool(ck, x, target, eps - 1 / 256, 10)
        assert int(ck.predict_proba(smaller[None])[0].argmax()) != target or eps <= 1 / 256


@pytest.mark.parametrize("eps, steps", [(-0.1, 1), (1.5, 1), ("a", 1), (0.1, 0), (0.1, 10_000), (0.1, 2.5)])
def test_fooling_with_bad_settings_is_one_sentence(eps, steps):
    with pytest.raises(UserError):
        inside.fool(linear(), drawing(), 3, eps, steps)


def test_snapshots_and_pinned_drawings_are_recorded_every_epoch(tmp_path, tiny_root, tiny):
    s = Store(tmp_path / "runs")
    pins = [admission.pin(tiny.test_x[k].numpy(), int(tiny.test_y[k])) for k in range(3)]
    rid = s.create(TrainConfig(hidden=[80], epochs=3, batch_size=4, device="cpu"), pid=os.getpid(), pins=pins)
    run = execution.execute(s, rid, tiny_root)
    kept = s.snapshots(rid)
    assert sorted(kept) == [0, 1, 2, 3] and all(w.shape == (64, 28, 28) and w.dtype == np.float16 for w in kept.values())
    assert not np.array_equal(kept[0], kept[3])  # it learned
    ck = checkpoint.load(run.checkpoint)
    np.testing.assert_array_equal(kept[run.best_epoch], inside.snapshot(ck.model))  # the best epoch's own weights

    assert [(p["slot"], p["label"]) for p in s.pins(rid)] == [(k, int(tiny.test_y[k])) for k in range(3)]
    np.testing.assert_array_equal(s.pins(rid)[1]["image"], tiny.test_x[1].numpy())
    scores = s.pin_scores(rid)
    per_epoch = run.steps_per_epoch
    assert per_epoch > jobs_log_every()  # so that there are scores inside an epoch too
    steps = [r["step"] for r in scores]
    assert steps == sorted(steps) and {e * per_epoch for e in (1, 2, 3)} <= set(steps)
    assert any(st % per_epoch for st in steps)  # every 50 steps, between the epochs' ends
    for row in scores:
        assert np.array(row["probs"]).shape == (3, 10) and np.allclose(np.sum(row["probs"], 1), 1, atol=1e-3)
    at_best = next(r for r in scores if r["step"] == run.best_epoch * per_epoch)
    expected = ck.predict_proba(np.stack([p["image"] for p in s.pins(rid)]))
    np.testing.assert_allclose(at_best["probs"], expected, atol=2e-5)  # the model's own probabilities, that epoch


def jobs_log_every() -> int:
    from digitlab.learn.train import LOG_EVERY

    return LOG_EVERY


def test_pins_are_checked_all_or_none(tmp_path):
    s = Store(tmp_path / "runs")
    good = admission.pin(np.zeros((28, 28), np.uint8), 3)
    with pytest.raises(UserError, match=f"at most {MAX_PINS}"):
        s.create_batch([TrainConfig(), TrainConfig()], pins=[good] * (MAX_PINS + 1))
    with pytest.raises(UserError, match="28x28"):
        s.create(TrainConfig(), pins=[(1, b"\0" * 10)])
    with pytest.raises(UserError, match="label"):
        s.create(TrainConfig(), pins=[(12, good[1])])
    with pytest.raises(UserError, match="28x28"):
        admission.pin(np.zeros((280, 280)))
    assert s.runs() == []  # nothing half-queued
    assert admission.pin(np.full((28, 28), np.nan))[1] == bytes(784)  # junk pixels become black, not an error


def test_the_range_test_sweeps_up_and_suggests_a_rate_before_the_loss_blows_up(tiny):
    found = lrfind.lr_find(TrainConfig(hidden=[32], batch_size=16, device="cpu"), tiny, steps=60)
    lrs = np.array(found.lrs)
    assert lrs[0] == pytest.approx(lrfind.LOW) and np.allclose(lrs[1:] / lrs[:-1], lrs[1] / lrs[0])
    assert len(found.lrs) == len(found.losses) == len(found.smoothed) <= 60
    assert lrs[0] <= found.suggestion <= found.lowest
    assert min(found.smoothed) < found.smoothed[0]  # it learned somewhere in the range


@pytest.mark.parametrize("native", [True, False])
def test_the_range_test_takes_the_step_the_run_will_train_with(tiny, monkeypatch, native):
    """The same train.step, in the run's precision (bf16 where the processor has it) and a CNN's channels_last."""
    seen = []

    def step(model, optimizer, loss_fn, x, y, bf16=False):
        seen.append((bf16, model.features[0].weight.is_contiguous(memory_format=torch.channels_last)))
        return train.step(model, optimizer, loss_fn, x, y, bf16)

    monkeypatch.setattr(lrfind, "step", step)
    monkeypatch.setattr(devices, "bf16_native", lambda device: native)
    config = TrainConfig(model="cnn", channels=[4, 8], hidden=[16], batch_size=16, precision="bf16", device="cpu")
    lrfind.lr_find(config, tiny, steps=10)
    assert seen == [(native, True)] * 10


def test_the_suggestion_is_the_steepest_fall_before_the_lowest_point():
    lrs = list(np.logspace(-6, 1, 71))
    x = np.log10(lrs)
    smoothed = list(2.3 - 2 / (1 + np.exp(-3 * (x + 3))) + np.where(x > -1, (x + 1) ** 2 * 5, 0))  # falls around 1e-3
    assert lrfind.suggest(lrs, smoothed) == pytest.approx(1e-3, rel=0.25)


@pytest.mark.parametrize("steps", [0, 9, 1001, 2.5, True])
def test_the_range_test_refuses_a_bad_length(tiny, steps):
    with pytest.raises(UserError, match="10 to 1000 steps"):
        lrfind.lr_find(TrainConfig(hidden=[8]), tiny, steps=steps)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_comes_back_from_its_command_and_its_address(name):
    config = preset(name)
    a = cli.build_parser().parse_args(["train", *shlex.split(shlex.join(to_argv(config)))])
    a.preset = None
    assert cli.config_from_args(a) == config
    assert from_query(to_query(config)) == config


def test_every_setting_comes_back_from_an_address():
    """Each setting off its default, alone: what the Train page writes into its address reads back the same."""
    changed = dict(name="my run", model="cnn", hidden=[100, 20], channels=[8, 16], kernel=3, convs=2,
                   optimizer="momentum", batch_size=32, epochs=7, lr=0.0125, device="cpu", dropout=0.3,
                   norm_layer="batch",
                   input_norm="symmetric", weight_decay=1e-4, label_smoothing=0.05, rotate=10.0, shear=5.0, scale=0.1,
                   translate=2.0, elastic=1.5, thickness=0.3, momentum=0.8, nesterov=True, ema=0.99,
                   schedule="step",
                   step_size=3, gamma=0.3, precision="bf16", seed=42, shuffle=False, start_from="mlp-default",
                   my_digits=0.5, fonts=0.1, val_size=5_000, teacher="cnn-default", distill=0.3)
    assert set(changed) == set(NAMES)  # a new setting must be added here
    for name, value in changed.items():
        extra = {"optimizer": "momentum"} if name == "nesterov" else {}
        config = TrainConfig(**{name: value, **extra})
        assert from_query(to_query(config)) == config, name
        assert to_query(config)[name]


@pytest.mark.parametrize("params, says", [
    ({"lr": "fast"}, "Learning rate in the address must be a number"),
    ({"lr": "1e9"}, "Learning rate must be"),
    ({"hidden": "512,<b>"}, "Hidden layer sizes must be whole numbers"),
    ({"shuffle": "yes"}, "must be true or false"),
    ({"optimizer": "magic"}, "Unknown optimizer"),
    ({"__class__": "x"}, "unknown setting"),
    ({"name": "x" * 5000}, "more than 2000 characters"),
    ({"epochs": "nan"}, "Epochs in the address must be a whole number"),
    ({"epochs": "2.5"}, "Epochs in the address must be a whole number"),
])
def test_a_bad_address_is_one_sentence(params, says):
    with pytest.raises(UserError, match=says):
        from_query(params)


def test_run_ids_in_an_address_keep_only_plain_numbers():
    assert addresses.ids_in("3,4,x,-1,12,٣,9999999999,") == [3, 4, 12]
    assert len(addresses.ids_in(",".join(["1"] * 500))) == 50


def test_pictures_show_sign_and_keep_their_size():
    rgb = pictures.heat(np.array([[1.0, -1.0], [0.0, 0.5]]), scale=3)
    assert rgb.shape == (6, 6, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] > rgb[0, 0, 2] and rgb[0, 3, 2] > rgb[0, 3, 0] and rgb[3, 0].sum() == 0  # red, blue, black
    assert pictures.overlay(drawing(), np.zeros((28, 28))).shape == (224, 224, 3)  # no attribution: no division by 0
    assert pictures.tile(np.ones((5, 4, 4)), cols=2).shape == (3 * 5 - 1, 2 * 5 - 1)
    assert pictures.units(np.arange(70), cols=32).shape == (3, 32)


def test_cli_lr_find_prints_a_suggestion_and_train_pins_images(tiny_root, tmp_path, capsys):
    from PIL import Image

    assert cli.main(["lr-find", "--hidden", "16", "--steps", "30", "--device", "cpu", "--json",
                     "--data", str(tiny_root)]) == 0
    out = __import__("json").loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 1e-6 <= out["suggestion"] <= 10 and len(out["lrs"]) <= 30
    png = tmp_path / "seven.png"
    Image.fromarray((drawing(0, 0, 1) > 0.8).astype(np.uint8) * 255).resize((280, 280)).save(png)
    runs = tmp_path / "runs"
    assert cli.main(["train", "--hidden", "16", "--epochs", "1", "--device", "cpu", "--pin", str(png),
                     "--data", str(tiny_root), "--runs", str(runs)]) == 0
    s = Store(runs)
    assert len(s.pins(1)) == 1 and s.pin_scores(1)
    assert cli.main(["train", "--hidden", "16", "--pin", str(tmp_path / "nothing.png"), "--data", str(tiny_root),
                     "--runs", str(runs)]) == 2  # an unreadable pin: one sentence, no run
    assert cli.main(["train", "--hidden", "16", *["--pin", str(png)] * 9, "--data", str(tiny_root),
                     "--runs", str(runs)]) == 2
    assert len(s.runs()) == 1
