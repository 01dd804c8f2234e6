"""Runs that do not learn: a loss that blows up without becoming NaN, accuracy stuck at chance, a loss that climbs;
and a run that is merely slow, never flagged."""

import json

import pytest

from digitlab import cli
from digitlab.learn import health
from digitlab.runs import admission, catalog, tables
from digitlab.learn.config import TrainConfig, validate
from digitlab.runs.runner import workers
from digitlab.runs.store import Status, Store
from digitlab.learn.train import train


def epochs(*accs):
    return [{"epoch": k, "val_acc": a} for k, a in enumerate(accs, 1)]


def test_a_loss_ten_times_a_guess_is_diverged_and_stops_at_once():
    v = health.during([2.3, 1.9, 40.0], epoch=2)
    assert v.flag == health.DIVERGED and v.stop and "reached 40 in epoch 2" in v.reason and "learning rate" in v.hint
    assert health.during([2.3, 1.9, 20.0], epoch=2) is None  # high, but not yet clear
    guess10 = 10 * health.GUESS  # 23.03: ten times a uniform guess's loss is the line
    assert health.during([2.3, guess10 - 1], epoch=1) is None and health.during([2.3, guess10 + 1], epoch=1).stop


@pytest.mark.parametrize("accs, last, flagged", [
    ((0.11, 0.115), False, True),   # two epochs at chance, no gain: stopped
    ((0.11, 0.16), False, False),   # slow, but climbing: never flagged
    ((0.11, 0.12, 0.35), True, False),
    ((0.25, 0.25), False, True),    # stuck under half, the loss flat too
    ((0.95, 0.955), True, False),   # a fine-tune that starts high gains little: learning all the same
])
def test_accuracy_at_chance_without_gain_is_not_learning(accs, last, flagged):
    v = health.after_epoch([2.3, 2.3], epochs(*accs), last)
    assert (v is not None and v.flag == health.NOT_LEARNING and v.stop) == flagged
    assert health.after_epoch([2.3, 1.2], epochs(0.25, 0.25), last) is None  # its loss falls: slow, not stuck


def test_a_single_epoch_at_chance_is_judged_by_its_loss():
    assert health.after_epoch([2.31, 2.30, 2.32], epochs(0.1), last=True).flag == health.NOT_LEARNING
    assert health.after_epoch([2.31, 2.0, 1.5], epochs(0.1), last=True) is None  # falling: it was about to learn
    assert health.after_epoch([2.31, 2.30, 2.32], epochs(0.1), last=False) is None  # more epochs to come


def test_a_one_epoch_fine_tune_that_starts_high_with_a_flat_loss_is_learning():
    assert health.after_epoch([0.31, 0.30, 0.31], epochs(0.9), last=True) is None  # flat because it is already good
    assert health.after_epoch([0.31, 0.30, 0.31], epochs(0.2), last=True).flag == health.NOT_LEARNING  # the edge


def test_not_learning_says_its_figures_the_gain_since_epoch_1_and_the_loss():
    v = health.after_epoch([2.3, 2.28, 2.31], epochs(0.11, 0.115), last=False)
    assert v.reason == ("validation accuracy 11.5% after epoch 2, +0.5% since epoch 1, its training loss 2.3 then 2.31 "
                        "(a guess gets 10%).")  # the first window's and the last's
    assert "since epoch 1" not in health.after_epoch([2.3, 2.31], epochs(0.1), last=True).reason


def test_three_or_four_rising_windows_are_not_yet_diverging():
    for rises in (3, 4):
        windows = [2.3, 0.2] + [0.2 * 1.5 ** k for k in range(1, rises + 1)]  # each higher, the last over twice 0.2
        assert windows[-1] > health.RISEN * 0.2 and health.rising(windows) is None, rises
    assert health.rising([2.3, 0.2] + [0.2 * 1.5 ** k for k in range(1, 6)]).flag == health.DIVERGED  # five


def test_a_loss_that_climbs_window_after_window_is_diverging_but_kept():
    climbing = [2.3, 0.5, 0.4, 0.45, 0.5, 0.6, 0.7, 0.9]
    v = health.after_epoch(climbing, epochs(0.9, 0.8), last=True)
    assert v.flag == health.DIVERGED and not v.stop and "rose 5 times in a row to 0.9" in v.reason
    assert health.after_epoch([2.3, 0.5, 0.4, 0.45, 0.42, 0.6, 0.7, 0.9], epochs(0.9, 0.8), last=True) is None
    assert health.after_epoch([2.3, 0.5, 0.51, 0.52, 0.53, 0.54, 0.55], epochs(0.9, 0.9), last=True) is None  # < 2x


def cfg(**kw):
    return validate(TrainConfig(**{"hidden": [32], "epochs": 5, "batch_size": 32, "device": "cpu", **kw}))


def test_a_run_that_blows_up_without_nan_is_stopped_in_its_first_epoch(tiny):
    r = train(cfg(optimizer="adam", lr=9.0), tiny)
    assert r.health.flag == health.DIVERGED and r.health.stop and r.epochs == [] and not r.cancelled


def test_a_run_stuck_at_chance_is_stopped_after_its_second_epoch(tiny):
    r = train(cfg(optimizer="sgd", lr=1e-9), tiny)
    assert r.health.flag == health.NOT_LEARNING and len(r.epochs) == 2
    assert r.epochs[-1]["val_acc"] < health.HALF and "training loss" in r.health.reason


def test_a_slow_run_is_not_flagged(tiny):
    r = train(cfg(optimizer="sgd", lr=2e-3, epochs=3), tiny)
    assert r.health is None and len(r.epochs) == 3 and r.epochs[-1]["val_acc"] > r.epochs[0]["val_acc"]
    assert r.epochs[0]["val_acc"] < 0.9  # slow indeed: a normal run of these is above 0.9 after one epoch


def test_a_run_that_did_not_learn_is_stored_flagged_and_kept_out_of_the_pickers(tmp_path, tiny_root):
    store = Store(tmp_path / "runs")
    good = admission.launch(store, cfg(epochs=2, lr=3e-3), tiny_root)
    bad = admission.launch(store, cfg(optimizer="sgd", lr=1e-9, epochs=3), tiny_root)
    workers.work(store, tiny_root)
    run = store.get(bad)
    assert run.status is Status.COMPLETED and run.health["flag"] == health.NOT_LEARNING
    assert run.health["reason"].startswith("validation accuracy") and "learning rate" in run.health["hint"]
    assert len(store.epochs(bad)) == 2 and store.get(good).health is None  # stopped after two of three epochs
    assert [r.id for r in catalog.finished_runs(store)] == [good]
    assert {r.id for r in catalog.finished_runs(store, flagged=True)} == {good, bad}
    labels = catalog.model_choices(store, flagged=True)
    assert any(label.endswith("⚠ not learning") for label in labels)
    assert len(catalog.model_choices(store)) + 1 == len(labels)
    assert f"run:{bad}" not in catalog.start_choices(store) and catalog.default_comparison(store.runs()) == [good]
    assert [r["learned"] for r in tables.board_rows(store, flagged=True)] == ["yes", "not learning"]
    assert len(tables.board_rows(store)) == 1 and tables.run_row(run)["status"] == "not learning ⚠"


def test_the_cli_says_a_run_diverged_in_its_json_and_does_not_ship_it(tiny_root, runs, tmp_path, capsys):
    save = tmp_path / "mine.pt"
    assert cli.main(["--data", str(tiny_root), "train", "--hidden", "32", "--epochs", "2", "--optimizer", "adam",
                     "--lr", "9", "--device", "cpu", "--save", str(save), "--json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["health"]["flag"] == health.DIVERGED and "too high" in summary["health"]["hint"]
    assert "diverged: the training loss reached" in err and f"Not saved to {save}." in err and not save.exists()
    cli.main(["runs"])
    assert "diverged" in capsys.readouterr().out
    stuck = tmp_path / "stuck.pt"  # stopped after two epochs: it has a checkpoint, and still is not shipped
    assert cli.main(["--data", str(tiny_root), "train", "--hidden", "32", "--epochs", "4", "--optimizer", "sgd",
                     "--lr", "1e-9", "--device", "cpu", "--save", str(stuck), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["health"]["flag"] == health.NOT_LEARNING and summary["checkpoint"] and not stuck.exists()
