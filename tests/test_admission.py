"""One admission path: the same request gets the same refusal whichever way it comes (the app's launch, a group,
`digitlab train`, a sweep's start and a sweep's trial), and nothing is queued, recorded or trained when it is refused."""

import re
from dataclasses import replace

import numpy as np
import pytest

from digitlab import UserError, cli
from digitlab.runs import admission, sweep
from digitlab.learn.config import TrainConfig, changed, to_argv
from digitlab.settings import Limits
from digitlab.runs.store import Status, Store

SMALL = dict(hidden=[8], epochs=1, batch_size=32, device="cpu")

# (config, the refusal it gets on every path)
REFUSED = {
    "a teacher's work over the time limit": (
        TrainConfig(hidden=[64], epochs=660, batch_size=128, teacher="cnn-default", device="cpu"),
        "minutes of training \\(estimated\\), over the limit of 180"),
    "a start model of another shape": (TrainConfig(**SMALL, start_from="mlp-default"), "to start from mlp-default"),
    "a teacher that is not there": (TrainConfig(**SMALL, teacher="nosuch"), "no shipped model 'nosuch' to learn from"),
    "a run teacher that is not there": (TrainConfig(**SMALL, teacher="run:999"), "There is no run 999"),
    "too few saved digits": (TrainConfig(**SMALL, my_digits=0.5), "needs at least 10 saved digits"),
    "too many parameters": (TrainConfig(hidden=[65_536, 65_536], epochs=1, device="cpu"), "parameters, over the limit"),
}


def via_launch(store, config, root, capsys):
    admission.launch(store, config, root)


def via_group(store, config, root, capsys):
    admission.queue(store, [TrainConfig(**SMALL), config], root)


def via_cli(store, config, root, capsys):
    capsys.readouterr()
    if cli.main(["train", *to_argv(config), "--runs", str(store.root), "--data", str(root)]) == 2:
        raise UserError(capsys.readouterr().err)


def via_sweep_start(store, config, root, capsys):
    plan = sweep.from_parts({"fixed": changed(config), "search": {"seed": {"values": [0, 1]}}, "trials": 2})
    sweep.start(store, plan, data_root=root)


def via_sweep_trial(store, config, root, capsys):
    """A sweep recorded without its start's check (as an older digitlab would have): each trial is admitted."""
    plan = sweep.Plan("t", config.to_dict(), [sweep.Param("seed", values=[0, 1])], trials=2, sampler="grid",
                      prune=False)
    sweep_id = store.create_sweep(plan.name, plan.to_dict())
    sweep.journal(store, sweep_id).parent.mkdir(exist_ok=True)
    sweep.study(sweep.journal(store, sweep_id), plan)
    if not sweep.advance(store, sweep_id, root):
        states = {t.state.name for t in sweep.study(sweep.journal(store, sweep_id), plan).trials}
        raise UserError(f"every trial refused: {states}")


PATHS = [via_launch, via_group, via_cli, via_sweep_start, via_sweep_trial]


@pytest.mark.parametrize("case", REFUSED)
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.__name__)
def test_every_path_gives_the_same_refusal_and_keeps_nothing(case, path, app_env, tiny_root, capsys):
    config, says = REFUSED[case]
    store = Store(app_env)
    with pytest.raises(UserError) as refused:
        path(store, config, tiny_root, capsys)
    if path is via_sweep_trial:
        assert "FAIL" in str(refused.value) and "COMPLETE" not in str(refused.value)
    else:
        assert refused.match(says)
    assert store.runs() == []  # nothing queued, nothing left running
    if path is via_sweep_start:
        assert store.sweeps() == []


def test_the_teacher_is_what_tips_the_price_over(app_env):
    config, _ = REFUSED["a teacher's work over the time limit"]
    limits = Limits()
    alone = admission.price(Store(app_env), replace(config, teacher=""), limits)
    assert alone.minutes < limits.max_run_minutes  # the student alone fits: the refusals above are its teacher's share


def test_a_full_queue_is_refused_on_every_path(app_env, tiny_root, tmp_path, monkeypatch, capsys):
    (tmp_path / "s.toml").write_text("[limits]\nqueued_per_person = 1\n")
    monkeypatch.setenv("DIGITLAB_SETTINGS", str(tmp_path / "s.toml"))
    store = Store(app_env)
    first = admission.launch(store, TrainConfig(**SMALL), tiny_root)
    for path, says in ((via_launch, "running, the limit of 1"), (via_group, "running, and these 2 would pass the limit of 1"),
                       (via_cli, "running, the limit of 1")):
        with pytest.raises(UserError, match=f"You have 1 runs waiting or {says} \\(limits.queued_per_person"):
            path(store, TrainConfig(**SMALL), tiny_root, capsys)
    plan = sweep.Plan("t", TrainConfig(**SMALL).to_dict(), [sweep.Param("seed", values=[0, 1])], trials=2,
                      sampler="grid", prune=False)
    sweep_id = store.create_sweep(plan.name, plan.to_dict())
    sweep.journal(store, sweep_id).parent.mkdir(exist_ok=True)
    assert sweep.advance(store, sweep_id, tiny_root) == []  # no room: the sweep waits, it does not overflow
    assert [r.id for r in store.runs()] == [first]


def test_a_group_larger_than_the_limit_is_refused_whole_from_an_empty_queue(app_env, tiny_root, tmp_path,
                                                                            monkeypatch):
    (tmp_path / "s.toml").write_text("[limits]\nqueued_per_person = 2\n")
    monkeypatch.setenv("DIGITLAB_SETTINGS", str(tmp_path / "s.toml"))
    store = Store(app_env)
    with pytest.raises(UserError, match=r"^You have 0 runs waiting or running, and these 3 would pass the limit of 2 "):
        admission.queue(store, [TrainConfig(**SMALL)] * 3, tiny_root)
    assert store.runs() == []  # nothing of the group queued
    assert len(admission.queue(store, [TrainConfig(**SMALL)] * 2, tiny_root)) == 2  # at the limit: admitted


def test_pins_and_mnist_are_checked_before_anything_is_queued(app_env, tmp_path):
    store = Store(app_env)
    good = admission.pin([[0.5] * 28] * 28, 3)
    assert good == (3, bytes([128]) * 784)  # floats in [0, 1] as the bytes the model reads
    assert admission.pin(np.full((28, 28), 200, np.uint8)) == (None, bytes([200]) * 784)  # bytes as they are
    assert admission.pin(np.ones((28, 28), bool))[1] == bytes([255]) * 784  # a mask: ink is white, not 1 of 255
    for shape in ((28, 29), (29, 28), (27, 28), (28, 28, 3), (784,)):
        with pytest.raises(UserError, match=re.escape(f"must be a 28x28 image, got shape {shape}")):
            admission.pin(np.zeros(shape))
    with pytest.raises(UserError, match="at most 8 drawings"):
        admission.queue(store, [TrainConfig(**SMALL)], tmp_path, pins=[good] * 9)
    with pytest.raises(UserError, match="label must be a digit"):
        admission.queue(store, [TrainConfig(**SMALL)], tmp_path, pins=[(10, good[1])])
    with pytest.raises(UserError, match="MNIST is not prepared"):
        admission.queue(store, [TrainConfig(**SMALL)], tmp_path / "nowhere", pins=[good])
    assert store.runs() == []


def test_an_admitted_group_is_queued_whole_with_its_price(app_env, tiny_root):
    store = Store(app_env)
    admitted = admission.admit(store, [TrainConfig(**SMALL), TrainConfig(**{**SMALL, "hidden": [16]})],
                               data_root=tiny_root)
    assert [a.estimate.params for a in admitted] == [784 * 8 + 8 + 8 * 10 + 10, 784 * 16 + 16 + 16 * 10 + 10]
    ids = admission.queue(store, [a.config for a in admitted], tiny_root)
    assert [store.get(i).status for i in ids] == [Status.QUEUED, Status.QUEUED]
    assert store.get(ids[1]).batch == ids[0]


def test_in_class_mode_a_run_starts_from_or_learns_from_only_its_owners_runs(classroom, tiny_root):
    from digitlab.learn import checkpoint
    from digitlab.learn.models import build

    store = classroom
    small = TrainConfig(**SMALL)
    runs = {}
    for owner in ("bob", "cy"):
        runs[owner] = store.create(small, owner=owner)
        path = checkpoint.save(store.run_dir(runs[owner]) / "best.pt", build(small).state_dict(), small, {})
        store.finish(runs[owner], Status.COMPLETED, checkpoint=str(path))
    for field, use in (("teacher", "learn from"), ("start_from", "start from")):
        theirs = TrainConfig(**{**SMALL, field: f"run:{runs['cy']}"})
        with pytest.raises(UserError, match=f"Run {runs['cy']} is not yours to {use}"):
            admission.launch(store, theirs, tiny_root, owner="bob")
        with pytest.raises(UserError, match="is not yours"):  # a sweep file names it: the same refusal
            sweep.start(store, sweep.from_parts({"fixed": changed(theirs), "search": {"seed": {"values": [0, 1]}}}),
                        owner="bob", data_root=tiny_root)
        assert admission.launch(store, TrainConfig(**{**SMALL, field: f"run:{runs['bob']}"}), tiny_root, owner="bob")
        assert admission.launch(store, theirs, tiny_root, owner="ada")  # a teacher may use anyone's
        assert admission.launch(store, theirs, tiny_root)  # so may the machine's own CLI (no owner)
    assert store.sweeps() == []


def test_a_person_at_their_byte_quota_starts_no_run(app_env, tiny_root, tmp_path, monkeypatch):
    (tmp_path / "s.toml").write_text("[limits]\nstored_mb_per_person = 1\n")
    monkeypatch.setenv("DIGITLAB_SETTINGS", str(tmp_path / "s.toml"))
    store = Store(app_env)
    first = admission.launch(store, TrainConfig(**SMALL), tiny_root, owner="bob")
    store.run_dir(first).mkdir(parents=True, exist_ok=True)
    (store.run_dir(first) / "best.pt").write_bytes(bytes(2**20))
    with pytest.raises(UserError, match=r"^You keep 1\.0 MB \(drawings 0\.0 MB, runs 1\.0 MB\), over your 1\.0 MB "):
        admission.launch(store, TrainConfig(**SMALL), tiny_root, owner="bob")
    assert admission.launch(store, TrainConfig(**SMALL), tiny_root, owner="cy")  # the quota is each person's
    assert admission.launch(store, TrainConfig(**SMALL), tiny_root)  # and a single user has none
