import pytest
import torch

from digitlab import UserError
from digitlab.config import OPTIMIZERS, SCHEDULES, TrainConfig, validate
from digitlab.train import evaluate, resolve_device, train


def cfg(**kw):
    base = dict(hidden=[32], epochs=3, batch_size=32, lr=3e-3, device="cpu")
    return validate(TrainConfig(**{**base, **kw}))


def test_a_tiny_run_measurably_learns(tiny):
    events = []
    r = train(cfg(), tiny, callback=lambda e, i: events.append((e, i)))
    assert r.epochs[0]["val_acc"] < r.epochs[-1]["val_acc"] or r.epochs[0]["val_acc"] > 0.95
    assert r.epochs[-1]["val_acc"] > 0.9 and r.epochs[-1]["test_acc"] > 0.9  # chance is 0.1
    assert r.epochs[-1]["train_loss"] < r.epochs[0]["train_loss"]
    kinds = [e for e, _ in events]
    assert kinds[0] == "start" and kinds.count("epoch") == 3
    steps = [l for e, i in events if e == "steps" for l in i["losses"]]
    assert len(steps) == 3 * 13  # 400 training images in batches of 32, every step's loss reported
    assert r.best_state is not None and r.last_state is not None and r.train_seconds > 0
    best = max(r.epochs, key=lambda m: m["val_acc"])
    assert r.best_val_acc == best["val_acc"] and r.test_acc == r.epochs[r.best_epoch - 1]["test_acc"]


def test_same_seed_same_numbers(tiny):
    a = train(cfg(epochs=2, dropout=0.3), tiny)
    b = train(cfg(epochs=2, dropout=0.3), tiny)
    c = train(cfg(epochs=2, dropout=0.3, seed=1), tiny)
    assert a.epochs[-1]["train_loss"] == b.epochs[-1]["train_loss"]
    assert all(torch.equal(a.last_state[k], b.last_state[k]) for k in a.last_state)
    assert a.epochs[-1]["train_loss"] != c.epochs[-1]["train_loss"]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains(tiny, optimizer):
    lr = {"sgd": 0.1, "momentum": 0.05}.get(optimizer, 3e-3)
    r = train(cfg(optimizer=optimizer, lr=lr, nesterov=optimizer == "momentum"), tiny)
    assert r.epochs[-1]["val_acc"] > 0.5


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_schedule_runs(tiny, schedule):
    r = train(cfg(schedule=schedule, step_size=1, gamma=0.5, norm="batch", label_smoothing=0.1), tiny)
    lrs = [m["lr"] for m in r.epochs]
    if schedule == "none":
        assert lrs == [3e-3] * 3
    else:
        assert lrs[-1] < lrs[0] or schedule == "onecycle"


def test_cancel_between_steps(tiny):
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] >= 5

    r = train(cfg(epochs=5), tiny, should_stop=stop)
    assert r.cancelled and r.epochs == [] and r.best_state is None


def test_evaluate_counts_right():
    model = torch.nn.Linear(784, 10)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.arange(10.0))  # always predicts 9
    x = torch.zeros(4, 784)
    loss, acc = evaluate(model, x, torch.tensor([9, 9, 1, 2]))
    assert acc == 0.5
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(model(x), torch.tensor([9, 9, 1, 2])).item())


def test_unavailable_device_is_a_clear_error():
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="not available"):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"


def test_bf16_mixed_precision_learns_and_bad_precision_is_refused(tiny):
    r = train(cfg(precision="bf16"), tiny)
    assert r.epochs[-1]["val_acc"] > 0.9
    assert all(v.dtype == torch.float32 for v in r.best_state.values())  # weights stay fp32
    with pytest.raises(UserError, match="Unknown precision 'fp16'"):
        cfg(precision="fp16")
