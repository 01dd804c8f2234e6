import os

import pytest

from digitlab import UserError
from digitlab.config import TrainConfig
from digitlab.store import Status, Store


def test_round_trip(tmp_path):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(hidden=[64, 32], lr=0.01, name="mine"))
    run = s.get(rid)
    assert run["status"] is Status.QUEUED and run["name"] == "mine" and run["config"]["hidden"] == [64, 32]
    assert s.claim_next(os.getpid()) == rid and s.claim_next(os.getpid()) is None
    assert s.get(rid)["status"] is Status.RUNNING and s.get(rid)["pid"] == os.getpid()
    s.add_steps(rid, 1, 1, [2.3, 2.1, 1.9], 3)
    s.add_epoch(rid, dict(epoch=1, train_loss=1.0, train_acc=0.5, val_loss=1.1, val_acc=0.6, test_loss=1.2,
                          test_acc=0.55, seconds=0.1, lr=0.01))
    s.finish(rid, Status.COMPLETED, best_val_acc=0.6, test_acc=0.55)
    assert [r["loss"] for r in s.steps(rid)] == [2.3, 2.1, 1.9]
    assert s.epochs(rid)[0]["val_acc"] == 0.6
    run = Store(tmp_path).get(rid)  # a second handle sees the same data
    assert run["status"] is Status.COMPLETED and run["test_acc"] == 0.55 and run["step"] == 3
    s.run_dir(rid).mkdir()
    (s.run_dir(rid) / "best.pt").write_bytes(b"x")
    s.delete(rid)
    assert s.runs() == [] and s.steps(rid) == [] and not s.run_dir(rid).exists()
    with pytest.raises(UserError, match="no run"):
        s.get(rid)


def test_runs_filtered_by_status(tmp_path):
    s = Store(tmp_path)
    a, b, c = (s.create(TrainConfig()) for _ in range(3))
    s.claim_next(os.getpid())
    s.request_cancel(c)
    assert [r["id"] for r in s.runs()] == [c, b, a]
    assert [r["id"] for r in s.runs(Status.QUEUED)] == [b]
    assert [r["id"] for r in s.runs(Status.RUNNING, Status.CANCELLED)] == [c, a]
    assert [st.active for st in Status] == [True, True, False, False, False]


def test_cancel_queued_and_running(tmp_path):
    s = Store(tmp_path)
    a, b = s.create(TrainConfig()), s.create(TrainConfig())
    s.claim_next(os.getpid())
    s.request_cancel(a)
    s.request_cancel(b)
    assert s.get(a)["status"] is Status.RUNNING and s.cancel_requested(a)
    assert s.get(b)["status"] is Status.CANCELLED
    with pytest.raises(UserError, match="cancel it before deleting"):
        s.delete(a)


def test_a_run_created_by_its_trainer_is_never_reaped(tmp_path):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(), pid=os.getpid())
    run = s.get(rid)
    assert run["status"] is Status.RUNNING and run["pid"] == os.getpid() and run["started"]
    assert s.reap() == 0 and s.get(rid)["status"] is Status.RUNNING


def test_runs_stored_before_the_renames_read_with_the_new_names(tmp_path):
    s = Store(tmp_path)
    with s._db() as db:
        db.execute("INSERT INTO runs (name, config, status, created) VALUES ('old', ?, 'completed', 0)",
                   ('{"norm": "layer", "normalize": "symmetric", "hidden": [30, 5]}',))
    run = s.runs()[0]
    assert run["config"]["norm_layer"] == "layer" and run["config"]["input_norm"] == "symmetric"
