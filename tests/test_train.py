import pytest
import torch

from digitlab import UserError
from digitlab.learn import devices
from digitlab.learn.config import TrainConfig, spec, validate
from digitlab.datasets.data import normalize
from digitlab.learn.models import build
from digitlab.learn.train import loss_and_accuracy, train


def cfg(**kw):
    base = dict(hidden=[32], epochs=3, batch_size=32, lr=3e-3, device="cpu")
    return validate(TrainConfig(**{**base, **kw}))


def test_a_tiny_run_measurably_learns(tiny):
    torch.manual_seed(0)
    untrained = loss_and_accuracy(build(cfg()), normalize(tiny.val_x, "mnist"), tiny.val_y)[1]
    events = []
    r = train(cfg(), tiny, callback=lambda e, i: events.append((e, i)))
    assert untrained < 0.3 and r.epochs[-1]["val_acc"] > 0.9 and r.epochs[-1]["test_acc"] > 0.9  # chance is 0.1
    assert r.epochs[-1]["train_loss"] < r.epochs[0]["train_loss"]
    kinds = [e for e, _ in events]
    assert kinds[0] == "start" and kinds.count("epoch") == 3
    steps = [l for e, i in events if e == "steps" for l in i["losses"]]
    assert len(steps) == 3 * 13  # 400 training images in batches of 32, every step's loss reported
    assert r.best_state is not None and r.train_seconds > 0
    best = max(r.epochs, key=lambda m: m["val_acc"])
    assert r.best_val_acc == best["val_acc"] and r.test_acc == r.epochs[r.best_epoch - 1]["test_acc"]


def test_same_seed_same_numbers(tiny):
    a = train(cfg(epochs=2, dropout=0.3), tiny)
    b = train(cfg(epochs=2, dropout=0.3), tiny)
    c = train(cfg(epochs=2, dropout=0.3, seed=1), tiny)
    assert a.epochs[-1]["train_loss"] == b.epochs[-1]["train_loss"]
    assert all(torch.equal(a.best_state[k], b.best_state[k]) for k in a.best_state)
    assert a.epochs[-1]["train_loss"] != c.epochs[-1]["train_loss"]


@pytest.mark.parametrize("optimizer", spec("optimizer").choices)
def test_every_optimizer_trains(tiny, optimizer):
    lr = {"sgd": 0.1, "momentum": 0.05}.get(optimizer, 3e-3)
    r = train(cfg(optimizer=optimizer, lr=lr, nesterov=optimizer == "momentum"), tiny)
    assert r.epochs[-1]["val_acc"] > 0.5


@pytest.mark.parametrize("schedule", spec("schedule").choices)
def test_every_schedule_sets_the_learning_rate_it_promises(tiny, schedule):
    r = train(cfg(schedule=schedule, step_size=1, gamma=0.5, norm_layer="batch", label_smoothing=0.1), tiny)
    lrs = [m["lr"] for m in r.epochs]  # the rate after each epoch
    expected = {"none": [3e-3] * 3, "step": [1.5e-3, 7.5e-4, 3.75e-4]}
    if schedule in expected:
        assert lrs == pytest.approx(expected[schedule])
    elif schedule == "cosine":
        assert lrs[0] == pytest.approx(3e-3 * (1 + torch.cos(torch.tensor(torch.pi / 3)).item()) / 2, rel=1e-3)
        assert lrs[-1] == pytest.approx(0, abs=1e-9)
    else:  # onecycle: warms up to the peak in the first 30% of steps, then anneals far below the start
        assert lrs[0] > 3e-3 * 0.9 and lrs[-1] < 3e-3 / 25 / 10  # the start is the peak / 25


def test_cancel_between_steps(tiny):
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] >= 5

    r = train(cfg(epochs=5), tiny, should_stop=stop)
    assert r.cancelled and r.epochs == [] and r.best_state is None


def test_loss_and_accuracy_counts_right():
    model = torch.nn.Linear(784, 10)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.arange(10.0))  # always predicts 9
    x = torch.zeros(4, 784)
    loss, acc = loss_and_accuracy(model, x, torch.tensor([9, 9, 1, 2]))
    assert acc == 0.5
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(model(x), torch.tensor([9, 9, 1, 2])).item())


def test_devices_are_discovered_in_one_place(monkeypatch):
    assert devices.available()[-1] == "cpu" and devices.resolve("cpu").type == "cpu"
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: None)
    assert devices.available() == ["cpu"] and devices.resolve("auto").type == "cpu"
    with pytest.raises(UserError, match="'cuda' is not available on this machine"):
        devices.resolve("cuda")
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: torch.device("cuda"))
    assert devices.available() == ["cuda", "cpu"] and devices.resolve("auto").type == "cuda"


def test_bf16_mixed_precision_learns_and_bad_precision_is_refused(tiny):
    r = train(cfg(precision="bf16"), tiny)
    assert r.epochs[-1]["val_acc"] > 0.9
    assert all(v.dtype == torch.float32 for v in r.best_state.values())  # weights stay fp32
    with pytest.raises(UserError, match="Unknown precision 'fp16'"):
        cfg(precision="fp16")


def test_bf16_trains_in_fp32_where_the_device_only_emulates_it(tiny, monkeypatch):
    used = []
    real = torch.autocast
    def spy(*a, **k):  # each step's autocast: what it was asked for, when enabled
        used.append(k["dtype"] if k.get("enabled", True) else None)
        return real(*a, **k)

    monkeypatch.setattr(torch, "autocast", spy)
    monkeypatch.setattr(devices, "bf16_native", lambda device: False)
    events = []
    r = train(cfg(precision="bf16", epochs=1), tiny, callback=lambda e, i: events.append((e, i)))
    assert r.precision == "fp32" and used == [None] * 13 and events[0][1]["precision"] == "fp32"
    used.clear()
    monkeypatch.setattr(devices, "bf16_native", lambda device: True)
    assert train(cfg(precision="bf16", epochs=1), tiny).precision == "bf16" and used == [torch.bfloat16] * 13


def test_a_deep_cnn_trains_in_channels_last_and_keeps_plain_weights(tiny):
    r = train(cfg(model="cnn", channels=[4, 8], kernel=3, convs=2, hidden=[16], norm_layer="batch", epochs=2), tiny)
    assert r.epochs[-1]["val_acc"] > 0.5
    model = build(cfg(model="cnn", channels=[4, 8], kernel=3, convs=2, hidden=[16], norm_layer="batch"))
    model.load_state_dict(r.best_state)
    assert all(v.is_contiguous() for v in r.best_state.values())  # saved as any CNN is, whatever it trained in


def test_a_diverging_run_stops_at_once_with_the_step(tiny):
    events = []
    with pytest.raises(UserError, match=r"Training diverged at epoch 1, step \d+: the loss became (nan|inf); lower the "
                                        r"learning rate\.") as e:
        train(cfg(optimizer="sgd", lr=10.0, hidden=[512, 512, 512], epochs=5), tiny, lambda ev, i: events.append(ev))
    step = int(str(e.value).split("step ")[1].split(":")[0])
    assert 1 <= step <= 13 and "epoch" not in events  # within the first epoch, before any epoch was recorded


def test_training_flushes_denormals_and_puts_the_flag_back(tiny):
    from digitlab.learn import train as train_module

    seen = []
    original = train_module._train

    def spy(*args):
        seen.append(float(torch.tensor([1e-40]) * 1.0))  # inside: a subnormal float becomes 0
        return original(*args)

    train_module._train = spy
    try:
        train_module.train(TrainConfig(hidden=[8], epochs=1, device="cpu"), tiny)
    finally:
        train_module._train = original
    assert seen == [0.0]
    assert float(torch.tensor([1e-40]) * 1.0) > 0  # after: back to IEEE subnormals (hypothesis checks this too)


def _always_three() -> tuple[TrainConfig, dict]:
    """A teacher that answers 3 to everything, sure of it."""
    config = cfg(hidden=[8], input_norm="symmetric")
    model = build(config)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.net[-1].bias[3] = 10.0
    return config, model.state_dict()


def test_a_teacher_is_what_a_run_learns_at_share_one_and_changes_nothing_at_share_zero(tiny):
    alone = train(cfg(epochs=2), tiny)
    ignored = train(cfg(epochs=2, distill=0.0), tiny, teacher=_always_three())
    assert [e["train_loss"] for e in ignored.epochs] == [e["train_loss"] for e in alone.epochs]
    taught = train(cfg(epochs=2, distill=1.0), tiny, teacher=_always_three())  # the labels have no say
    model = build(cfg())
    model.load_state_dict(taught.best_state)
    model.eval()
    read = model(normalize(tiny.test_x, "mnist")).argmax(1)
    assert (read == 3).float().mean() > 0.95 and alone.test_acc > 0.8


def test_a_teacher_sees_the_pixels_in_its_own_normalization(tiny):
    from digitlab.learn.train import teacher_logits

    config, state = _always_three()
    model = build(config)
    with torch.no_grad():
        model.net[0].weight.normal_()  # answers that depend on the pixels
        model.net[-1].weight.normal_()
    state = model.state_dict()
    logits = teacher_logits((config, state), "mnist", torch.device("cpu"))(normalize(tiny.test_x[:20], "mnist"))
    expected = model(normalize(tiny.test_x[:20], "symmetric"))
    assert torch.allclose(logits, expected, atol=1e-4) and expected.std(0).mean() > 0.1


def test_the_kept_checkpoint_is_the_best_validation_epoch_never_the_best_test_one(tiny, monkeypatch):
    """A test-set leak nothing else would notice: validation and test disagree on purpose, epoch by epoch."""
    import digitlab.learn.train as train_module

    val = [0.50, 0.90, 0.70, 0.90]   # best validation: epoch 2 (a later tie is no better)
    test = [0.95, 0.60, 0.99, 0.97]  # best test: epoch 3
    calls = []

    def scripted(model, x, y, batch=8192):  # each epoch scores validation, then test
        calls.append(len(x))
        epoch, which = divmod(len(calls) - 1, 2)
        assert len(x) == (len(tiny.test_x) if which else len(tiny.val_x))
        return 0.0, (test if which else val)[epoch]

    monkeypatch.setattr(train_module, "loss_and_accuracy", scripted)
    best = []
    r = train(cfg(epochs=4), tiny, callback=lambda e, i: best.append(i["epoch"]) if e == "best" else None)
    assert (r.best_epoch, r.best_val_acc, r.test_acc) == (2, 0.90, 0.60)
    assert best == [1, 2]  # a checkpoint written at each new best validation accuracy, and only then


def test_weight_averaging_scores_and_keeps_the_average_not_the_last_weights(tiny):
    plain, averaged = train(cfg(epochs=2), tiny), train(cfg(epochs=2, ema=0.9), tiny)
    assert averaged.epochs[-1]["val_acc"] > 0.9  # it learns as well
    assert averaged.epochs[-1]["train_loss"] == plain.epochs[-1]["train_loss"]  # the same steps, the same model...
    assert averaged.epochs[-1]["val_loss"] != plain.epochs[-1]["val_loss"]  # ... but the average is what is scored
    model = build(cfg(ema=0.9))
    model.load_state_dict(averaged.best_state)  # kept as a plain model's weights, whatever was averaged
    x, y = normalize(tiny.val_x, "mnist"), tiny.val_y
    best = averaged.epochs[averaged.best_epoch - 1]
    assert loss_and_accuracy(model, x, y) == pytest.approx((best["val_loss"], best["val_acc"]))
