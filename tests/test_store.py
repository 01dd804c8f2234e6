import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from digitlab import UserError, jobs
from digitlab.config import TrainConfig
from digitlab.store import Store


def test_round_trip(tmp_path):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(hidden=[64, 32], lr=0.01, name="mine"))
    run = s.get(rid)
    assert run["status"] == "queued" and run["name"] == "mine" and run["config"]["hidden"] == [64, 32]
    assert s.claim_next(os.getpid()) == rid and s.claim_next(os.getpid()) is None
    s.add_steps(rid, 1, 1, [2.3, 2.1, 1.9], 3)
    s.add_epoch(rid, dict(epoch=1, train_loss=1.0, train_acc=0.5, val_loss=1.1, val_acc=0.6, test_loss=1.2,
                          test_acc=0.55, seconds=0.1, lr=0.01))
    s.finish(rid, "completed", best_val_acc=0.6, test_acc=0.55)
    assert [r["loss"] for r in s.steps(rid)] == [2.3, 2.1, 1.9]
    assert s.epochs(rid)[0]["val_acc"] == 0.6
    run = Store(tmp_path).get(rid)  # a second handle sees the same data
    assert run["status"] == "completed" and run["test_acc"] == 0.55 and run["step"] == 3
    s.run_dir(rid).mkdir()
    (s.run_dir(rid) / "best.pt").write_bytes(b"x")
    s.delete(rid)
    assert s.runs() == [] and s.steps(rid) == [] and not s.run_dir(rid).exists()
    with pytest.raises(UserError, match="no run"):
        s.get(rid)


def test_cancel_queued_and_running(tmp_path):
    s = Store(tmp_path)
    a, b = s.create(TrainConfig()), s.create(TrainConfig())
    s.claim_next(os.getpid())
    s.request_cancel(a)
    s.request_cancel(b)
    assert s.get(a)["status"] == "running" and s.cancel_requested(a)
    assert s.get(b)["status"] == "cancelled"
    with pytest.raises(UserError, match="cancel it before deleting"):
        s.delete(a)


def test_killed_worker_run_is_marked_failed(tmp_path, tiny_root):
    """A real worker process training a long run is killed; the store must not say 'running' forever."""
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(hidden=[256], epochs=500, batch_size=8, device="cpu"))
    code = textwrap.dedent(f"""
        import os
        from digitlab import jobs
        from digitlab.store import Store
        s = Store({str(s.root)!r})
        s.start({rid}, os.getpid())
        jobs.execute(s, {rid}, {str(tiny_root)!r}, verify=False)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], cwd=os.getcwd())
    try:
        deadline = time.time() + 60
        while not s.steps(rid):
            assert time.time() < deadline and p.poll() is None, "the worker never started training"
            time.sleep(0.1)
        assert s.get(rid)["status"] == "running" and s.reap() == 0
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert s.reap() == 1
    run = s.get(rid)
    assert run["status"] == "failed" and "stopped unexpectedly" in run["error"]


def test_worker_drains_the_queue_in_order_and_honours_cancel(tmp_path, tiny_root, unverified):
    s = Store(tmp_path / "runs")
    ids = [s.create(TrainConfig(hidden=[16], epochs=1, device="cpu", seed=i)) for i in range(3)]
    s.request_cancel(ids[1])
    assert jobs.work(s, tiny_root) == 2
    runs = {r["id"]: r for r in s.runs()}
    assert [runs[i]["status"] for i in ids] == ["completed", "cancelled", "completed"]
    assert runs[ids[0]]["finished"] <= runs[ids[2]]["started"]
    assert (s.run_dir(ids[0]) / "best.pt").exists() and not s.run_dir(ids[1]).exists()
    assert len(s.epochs(ids[2])) == 1 and runs[ids[2]]["best_val_acc"] > 0


def test_a_failing_run_records_one_sentence(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(epochs=1))
    s.start(rid, os.getpid())
    with pytest.raises(UserError):
        jobs.execute(s, rid, tmp_path / "no-data")
    run = s.get(rid)
    assert run["status"] == "failed" and "python -m digitlab data" in run["error"] and "\n" not in run["error"]


def test_a_run_created_by_its_trainer_is_never_reaped(tmp_path):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(), pid=os.getpid())
    run = s.get(rid)
    assert run["status"] == "running" and run["pid"] == os.getpid() and run["started"]
    assert s.reap() == 0 and s.get(rid)["status"] == "running"
