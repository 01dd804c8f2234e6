"""Sweeps: the file and flags checked as an attacker would send them, trials as runs, pruning, the supervisor
driving a sweep, the CLI and the page."""

import os

import pytest

from digitlab import UserError, cli
from digitlab.runs import sweep
from digitlab.runs.runner import workers
from digitlab.runs.store import Status, Store, Sweep, SweepStatus
from testkit.supervise import supervising, until_sweep_ends


def base(top: str = "") -> str:
    """BASE with more top-level keys (TOML puts any key after a [table] into that table)."""
    return top + BASE


BASE = """
name = "tiny"
trials = 4
sampler = "random"
prune = false
[fixed]
hidden = "8"
epochs = 2
batch_size = 32
device = "cpu"
[search.lr]
low = 1e-4
high = 0.1
log = true
"""


def test_a_sweep_file_becomes_a_checked_spec():
    spec = sweep.parse(BASE + '[search.optimizer]\nvalues = ["sgd", "adam", "adam"]\n'
                              '[search.hidden]\nvalues = ["32", "64, 16"]\n')
    assert spec.trials == 4 and spec.sampler == "random" and spec.base["hidden"] == [8] and spec.base["epochs"] == 2
    assert [(p.name, p.values, p.low, p.high, p.log) for p in spec.params] == [
        ("lr", [], 1e-4, 0.1, True), ("optimizer", ["sgd", "adam"], None, None, False),
        ("hidden", ["32", "64,16"], None, None, False)]
    assert sweep.Plan.from_dict(spec.to_dict()) == spec


def test_a_grid_is_capped_at_its_size_and_needs_values():
    grid = sweep.parse('trials = 50\nsampler = "grid"\n[search.optimizer]\nvalues = ["sgd", "adam"]\n'
                       '[search.batch_size]\nvalues = [32, 64, 128]\n')
    assert grid.trials == 6
    with pytest.raises(UserError, match="A grid needs values"):
        sweep.parse('sampler = "grid"\n[search.lr]\nlow = 0.1\nhigh = 1.0\n')


@pytest.mark.parametrize("text, says", [
    ("trials = 1000\n[search.lr]\nlow = 0.1\nhigh = 1.0", "trials must be a whole number from 1 to 64"),
    ("trials = true\n[search.lr]\nlow = 0.1\nhigh = 1.0", "trials must be a whole number"),
    ("parallel = 99\n[search.lr]\nlow = 0.1\nhigh = 1.0", "parallel must be a whole number from 1 to 8"),
    ("[search.lr]\nlow = 1.0\nhigh = 0.1", "needs low < high"),
    ("[search.lr]\nlow = 0\nhigh = 0.1\nlog = true", "Learning rate must be greater than 0"),
    ("[search.lr]\nlow = 1e-9\nhigh = 1e9", "Learning rate must be"),
    ("[search.hidden]\nvalues = [\"100000000\"]", "Hidden layer sizes must be"),
    ("[search.optimizer]\nvalues = [\"magic\"]", "Unknown optimizer"),
    ("[search.optimizer]\nlow = 1\nhigh = 2", "is not a number"),
    ("[search.device]\nvalues = [\"cpu\"]", "cannot search 'device'"),
    ("[search.__class__]\nvalues = [1]", "cannot search '__class__'"),
    ("[search.lr]\nvalues = []", "a list of 1 to 32 values"),
    ("[search.lr]\nvalues = " + str(list(range(1, 40))), "a list of 1 to 32 values"),
    ("[search.lr]\nlow = 0.1\nhigh = 1.0\nstep = 2", "unknown key 'step'"),
    ("[search.lr]\nhigh = 1.0", "needs values = \\[...\\] or low and high"),
    ("", "at least one setting to search"),
    ("sampler = \"bayes\"\n[search.lr]\nlow = 0.1\nhigh = 1.0", "Unknown sampler"),
    ("preset = \"nope\"\n[search.lr]\nlow = 0.1\nhigh = 1.0", "Unknown preset"),
    ("cmd = \"rm -rf /\"\n[search.lr]\nlow = 0.1\nhigh = 1.0", "has no setting 'cmd'"),
    ("[fixed]\nepochs = 0\n[search.lr]\nlow = 0.1\nhigh = 1.0", "Epochs must be"),
    ("[fixed]\nwhat = 1\n[search.lr]\nlow = 0.1\nhigh = 1.0", "unknown setting 'what'"),
    ("name = \"" + "x" * 100 + "\"\n[search.lr]\nlow = 0.1\nhigh = 1.0", "at most 80 characters"),
    ("[search.lr\nlow = 1", "not valid TOML"),
    ("# " + "x" * 20_000, "at most 16 KB"),
])
def test_a_bad_sweep_is_one_sentence(text, says):
    with pytest.raises(UserError, match=says):
        sweep.parse(text)


@pytest.mark.parametrize("flag, says", [("lr", "NAME=a,b,c"), ("lr=1:2:3", "LOW:HIGH or LOW:HIGH:log"),
                                        ("lr=a:b", "must be numbers"), ("epochs=x", "takes numbers")])
def test_a_bad_param_flag_is_one_sentence(flag, says):
    with pytest.raises(UserError, match=says):
        sweep.parse_flag(flag)


def test_param_flags_read_as_a_sweep_file_does():
    assert sweep.parse_flag("lr=1e-4:0.1:log") == ("lr", {"low": 1e-4, "high": 0.1, "log": True})
    assert sweep.parse_flag("epochs=1:5") == ("epochs", {"low": 1, "high": 5, "log": False})
    assert sweep.parse_flag("optimizer=sgd,adam") == ("optimizer", {"values": ["sgd", "adam"]})
    assert sweep.parse_flag("hidden=512,128/64") == ("hidden", {"values": ["512,128", "64"]})
    assert sweep.parse_flag("nesterov=true,false") == ("nesterov", {"values": [True, False]})


def test_a_sweep_over_the_limits_is_refused_before_it_starts(tmp_path):
    s = Store(tmp_path / "runs")
    spec = sweep.parse(BASE + '[search.hidden]\nvalues = ["8", "60000, 60000"]\n')
    with pytest.raises(UserError, match="limits.max_params"):
        sweep.start(s, spec)
    assert s.sweeps() == [] and s.runs() == []


def drive(s: Store, sweep_id: int, data_root) -> None:
    while s.get_sweep(sweep_id).status == "running":
        sweep.advance(s, sweep_id)
        workers.work(s, data_root)


def test_every_trial_is_a_run_told_back_to_the_study(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    spec = sweep.parse(base("parallel = 2\n"))
    sweep_id = sweep.start(s, spec)
    assert len(sweep.advance(s, sweep_id)) == 2 and sweep.advance(s, sweep_id) == []  # parallel: two at a time
    drive(s, sweep_id, tiny_root)
    runs = s.sweep_runs(sweep_id)
    assert [r.trial for r in runs] == [0, 1, 2, 3] and all(r.status is Status.COMPLETED for r in runs)
    lrs = [r.config["lr"] for r in runs]
    assert len(set(lrs)) == 4 and all(1e-4 <= lr <= 0.1 for lr in lrs)  # four different trials, in the range
    assert all(r.config["hidden"] == [8] and r.config["epochs"] == 2 for r in runs)
    spec, rows, study = sweep.results(s, sweep_id)
    assert [r["state"] for r in rows] == ["complete"] * 4
    assert {r["run"]: r["val acc"] for r in rows} == {r.id: r.best_val_acc for r in runs}
    assert rows[0]["val acc"] == max(r.best_val_acc for r in runs)  # best first
    assert study.best_trial.params["lr"] == pytest.approx(next(r.config["lr"] for r in runs
                                                               if r.id == rows[0]["run"]))
    assert s.get_sweep(sweep_id).status is SweepStatus.DONE and isinstance(s.get_sweep(sweep_id), Sweep)  # typed


def test_a_trailing_trial_is_pruned_after_an_epoch_and_told_so(tmp_path, tiny_root, monkeypatch):
    monkeypatch.setattr(sweep, "STARTUP_TRIALS", 2)
    s = Store(tmp_path / "runs")
    spec = sweep.parse(BASE.replace("prune = false", "prune = true").replace("epochs = 2", "epochs = 4")
                       .replace("trials = 4", "trials = 3"))
    sweep_id = sweep.start(s, spec)
    study = sweep.study(sweep.journal(s, sweep_id), spec)
    for lr in (0.01, 0.003, 1e-4 * 1.0001):  # two that learn, then one that barely moves: asked in this order
        study.enqueue_trial({"lr": lr})
    for _ in range(3):
        sweep.advance(s, sweep_id)
        workers.work(s, tiny_root)
    sweep.advance(s, sweep_id)
    runs = s.sweep_runs(sweep_id)
    assert [r.config["lr"] for r in runs] == [0.01, 0.003, 1e-4 * 1.0001]
    slow = runs[2]
    assert slow.status is Status.CANCELLED and slow.error.startswith(sweep.PRUNED + " after epoch 1")
    assert len(s.epochs(slow.id)) == 1 < len(s.epochs(runs[0].id)) == 4
    states = {r["run"]: r["state"] for r in sweep.results(s, sweep_id)[1]}
    assert [states[r.id] for r in runs] == ["complete", "complete", "pruned"]


def test_cancelling_a_sweep_cancels_its_trials_and_asks_no_more(tmp_path):
    s = Store(tmp_path / "runs")
    sweep_id = sweep.start(s, sweep.parse(base("parallel = 2\n")))
    queued = sweep.advance(s, sweep_id)
    sweep.cancel(s, sweep_id)
    assert all(s.get(i).status is Status.CANCELLED for i in queued)
    assert sweep.advance(s, sweep_id) == [] and s.get_sweep(sweep_id).status is SweepStatus.CANCELLED


def test_the_supervisor_drives_a_sweep_with_no_page_open(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    sweep_id = sweep.start(s, sweep.parse(BASE.replace("trials = 4", "trials = 2")))
    with supervising(s, tiny_root, slots=1, every=0.2):
        assert until_sweep_ends(s, sweep_id, 120) == "done"
    assert [r.status for r in s.sweep_runs(sweep_id)] == [Status.COMPLETED] * 2


def test_cli_sweep_runs_its_trials_and_prints_the_best(tmp_path, tiny_root, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text(BASE)
    runs = tmp_path / "runs"
    assert cli.main(["sweep", str(path), "--trials", "2", "--param", "optimizer=sgd,adam", "--epochs", "1",
                     "--data", str(tiny_root), "--runs", str(runs)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("sweep 1: best trial ") and "trial  1 (run 2): completed" in out.err
    s = Store(runs)
    assert len(s.sweep_runs(1)) == 2 and all(r.config["epochs"] == 1 for r in s.sweep_runs(1))  # a flag is fixed
    assert cli.main(["sweep", str(tmp_path / "missing.toml"), "--runs", str(runs)]) == 2
    assert cli.main(["sweep", "--param", "lr", "--runs", str(runs)]) == 2
    assert cli.main(["sweeps", "--runs", str(runs)]) == 0
    assert "2 of  2 trials" in capsys.readouterr().out
    assert len(s.runs()) == 2 and os.path.exists(runs / "sweeps" / "1.journal")


def test_the_train_forms_sweep_fixes_every_setting_it_does_not_search():
    from digitlab.learn.config import TrainConfig
    from digitlab.learn.presets import PRESETS, preset

    searched = ("name", "lr", "optimizer", "nesterov")
    for name in PRESETS:
        config = TrainConfig.from_dict(preset(name, name='a "quoted" name \\ too').to_dict())
        spec = sweep.parse(sweep.template(config))
        base = TrainConfig.from_dict(spec.base).to_dict()
        assert {k: v for k, v in base.items() if k not in searched} == \
            {k: v for k, v in config.to_dict().items() if k not in searched}, name
        assert spec.params[0].low == pytest.approx(max(config.lr / 10, 1e-7), rel=1e-2)


def test_a_damaged_sweep_does_not_stall_the_others(tmp_path, capsys):
    s = Store(tmp_path / "runs")
    broken = sweep.start(s, sweep.parse(BASE))
    sweep.journal(s, broken).write_text("not a journal\n")
    good = sweep.start(s, sweep.parse(BASE))
    queued = sweep.advance_all(s)
    assert [s.get(i).sweep for i in queued] == [good]
    assert f"sweep {broken}:" in capsys.readouterr().err


def test_one_person_runs_no_more_sweeps_than_they_may_queue_runs(tmp_path, monkeypatch):
    from digitlab import settings

    f = tmp_path / "s.toml"
    f.write_text("[limits]\nqueued_per_person = 2\n")
    monkeypatch.setenv(settings.ENV, str(f))
    s = Store(tmp_path / "runs")
    for _ in range(2):
        sweep.start(s, sweep.parse(BASE), owner="bob")
    with pytest.raises(UserError, match="You have 2 sweeps running"):
        sweep.start(s, sweep.parse(BASE), owner="bob")
    sweep.start(s, sweep.parse(BASE), owner="ada")  # each person's own
    with pytest.raises(UserError, match="parallel = 3 is over the 2 runs"):
        sweep.start(s, sweep.parse(base("parallel = 3\n")), owner="ada")
    assert len(s.sweeps(owner="bob")) == 2


def test_waiting_for_a_sweep_that_never_ends_fails_saying_so(app_env):
    s = Store(app_env)
    sweep_id = s.create_sweep("stuck", sweep.parse(BASE).to_dict())
    with pytest.raises(TimeoutError, match="sweep 1 still running after 0.5 s: no trial queued"):
        until_sweep_ends(s, sweep_id, 0.5)


@pytest.mark.parametrize("nested", ["a = " + "[" * 5000 + "]" * 5000, "a = " + "{b=" * 2500 + "1" + "}" * 2500])
def test_a_sweep_nested_past_what_the_parser_follows_is_one_sentence(nested):
    assert len(nested.encode()) <= sweep.MAX_BYTES  # small: the limit on bytes does not catch it
    with pytest.raises(UserError, match=r"^The sweep is not valid TOML \(its arrays or tables nest too deep to read\)"):
        sweep.read(nested)
