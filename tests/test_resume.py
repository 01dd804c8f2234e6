"""A run whose worker dies goes on from its last finished epoch and ends where a run never stopped ends."""

import os
import signal

import pytest
import torch

from digitlab.learn import checkpoint
from digitlab.learn.config import TrainConfig
from digitlab.learn.train import train
from digitlab.runs.runner import execution, workers
from digitlab.runs.store import Status, Store
from digitlab.runs.store.runs import MAX_RESUMES, RESUME
from testkit.fixtures import wait_for

RECIPES = {
    "adam, averaged, cosine, shuffled": dict(optimizer="adam", ema=0.9, schedule="cosine"),
    "momentum, dropout, step, norms": dict(optimizer="momentum", lr=0.05, dropout=0.3, norm_layer="batch", schedule="step",
                                           step_size=2, gamma=0.5),
    "onecycle, augmented, label smoothing": dict(optimizer="adamw", schedule="onecycle", rotate=10, elastic=2,
                                                 thickness=0.3, label_smoothing=0.1),
    "cnn": dict(model="cnn", optimizer="adam", dropout=0.2),
}


def _without_seconds(epochs: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "seconds"} for m in epochs]


def _equal_states(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, torch.Tensor):
            if not (x.dtype == y.dtype and torch.equal(x, y)):
                return False
        elif isinstance(x, dict):
            if not _equal_states(x, y):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize("recipe", [*RECIPES, "bf16 [hardware]", "bf16 [no hardware]"])
def test_a_loop_resumed_from_an_epoch_ends_exactly_where_one_never_stopped(tiny, recipe, monkeypatch):
    if recipe.startswith("bf16"):  # both sides of the processor's path, whichever this machine is
        native = recipe == "bf16 [hardware]"
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)
    settings = RECIPES.get(recipe, dict(optimizer="adam", precision="bf16", ema=0.9))
    config = TrainConfig(hidden=(32, 16), epochs=5, batch_size=64, device="cpu", seed=3, **settings)
    whole: dict[int, dict] = {}
    full = train(config, tiny, lambda e, info: whole.__setitem__(info["epoch"], info) if e == "resume" else None)
    assert sorted(whole) == [1, 2, 3, 4]  # after each epoch but the last

    again: dict[int, dict] = {}
    rest = train(config, tiny, lambda e, info: again.__setitem__(info["epoch"], info) if e == "resume" else None,
                 resume=whole[2])
    assert sorted(again) == [3, 4]
    for key in ("model", "optimizer", "averaged", "generator", "rng"):
        assert _equal_states({key: whole[4][key]}, {key: again[4][key]}), key
    assert _without_seconds(rest.epochs) == _without_seconds(full.epochs)
    assert (rest.best_epoch, rest.best_val_acc, rest.test_acc) == (full.best_epoch, full.best_val_acc, full.test_acc)
    if recipe.startswith("bf16"):
        assert full.precision == rest.precision == ("bf16" if recipe == "bf16 [hardware]" else "fp32")
    assert _equal_states(rest.best_state, full.best_state)


def _store_run(root, config) -> tuple[Store, int]:
    s = Store(root)
    return s, s.create(config)


def test_a_worker_killed_in_epoch_3_of_5_is_taken_up_again_and_ends_as_if_never_killed(tmp_path, tiny_root):
    config = TrainConfig(hidden=(1024, 1024), epochs=5, batch_size=4, device="cpu", seed=5, optimizer="adam",
                         dropout=0.2, schedule="cosine", ema=0.99)
    calm, calm_id = _store_run(tmp_path / "calm", config)
    assert workers.work(calm, tiny_root) == 1 and calm.get(calm_id).status is Status.COMPLETED

    s, rid = _store_run(tmp_path / "killed", config)
    assert s.claim_next(0) == rid  # held while the worker starts: a worker claims it below
    s.update(rid, status=Status.QUEUED)
    worker = workers.start_worker(s, tiny_root)
    resume = s.run_dir(rid) / RESUME
    wait_for(lambda: resume.exists() and torch.load(resume, weights_only=True)["epoch"] == 2, 180,
             "the end of epoch 2")
    os.kill(worker.pid, signal.SIGKILL)  # the OOM killer, the power: no handler runs
    worker.wait(10)
    assert len(s.epochs(rid)) == 2 and s.get(rid).status is Status.RUNNING  # killed in epoch 3
    assert s.reap() == 1
    assert (s.get(rid).status, s.get(rid).resumed) == (Status.QUEUED, 1)
    assert workers.work(s, tiny_root) == 1

    done = s.get(rid)
    assert done.status is Status.COMPLETED and not resume.exists()
    assert _without_seconds(s.epochs(rid)) == [{**m, "run_id": rid} for m in _without_seconds(calm.epochs(calm_id))]
    assert [m["step"] for m in s.steps(rid)] == [m["step"] for m in calm.steps(calm_id)]  # the killed epoch's steps
    assert [m["loss"] for m in s.steps(rid)] == [m["loss"] for m in calm.steps(calm_id)]  # once, as recomputed
    ours, theirs = checkpoint.load(done.checkpoint), checkpoint.load(calm.get(calm_id).checkpoint)
    assert _equal_states(ours.model.state_dict(), theirs.model.state_dict())
    assert (done.best_epoch, done.best_val_acc, done.test_acc) == (calm.get(calm_id).best_epoch,
                                                                   calm.get(calm_id).best_val_acc,
                                                                   calm.get(calm_id).test_acc)


def test_a_run_whose_worker_keeps_dying_fails_after_a_few_tries(tmp_path):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(), pid=99999999)  # no such process
    s.run_dir(rid).mkdir(parents=True)
    for k in range(MAX_RESUMES):
        (s.run_dir(rid) / RESUME).write_bytes(b"kept")
        assert s.reap() == 1 and s.get(rid).status is Status.QUEUED
        s.update(rid, status=Status.RUNNING, pid=99999999)
    assert s.reap() == 1
    run = s.get(rid)
    assert run.status is Status.FAILED and f"went on from its last epoch {MAX_RESUMES} times" in run.error
    assert not (s.run_dir(rid) / RESUME).exists()


def test_a_run_being_cancelled_when_its_worker_died_stays_cancelled(tmp_path):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(), pid=99999999)
    s.run_dir(rid).mkdir(parents=True)
    (s.run_dir(rid) / RESUME).write_bytes(b"kept")
    s.request_cancel(rid)
    assert s.reap() == 1 and s.get(rid).status is Status.CANCELLED and not (s.run_dir(rid) / RESUME).exists()


def test_a_finished_run_keeps_no_resume_state(tmp_path, tiny_root):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(hidden=(16,), epochs=3, device="cpu"), pid=os.getpid())
    execution.execute(s, rid, tiny_root)
    assert s.get(rid).status is Status.COMPLETED and not (s.run_dir(rid) / RESUME).exists()


def test_a_damaged_resume_file_starts_the_run_afresh(tmp_path, tiny_root):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(hidden=(16,), epochs=2, device="cpu"), pid=os.getpid())
    s.run_dir(rid).mkdir(parents=True)
    (s.run_dir(rid) / RESUME).write_bytes(b"cut short by the power")
    execution.execute(s, rid, tiny_root)
    assert s.get(rid).status is Status.COMPLETED and [m["epoch"] for m in s.epochs(rid)] == [1, 2]
