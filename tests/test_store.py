import json
import os
import subprocess
import time

import numpy as np
import pytest

from digitlab import UserError
from digitlab.learn.config import TrainConfig
from digitlab.runs.store import Status, Store


def test_round_trip(tmp_path):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(hidden=[64, 32], lr=0.01, name="mine"))
    run = s.get(rid)
    assert run.status is Status.QUEUED and run.name == "mine" and run.config["hidden"] == [64, 32]
    assert s.claim_next(os.getpid()) == rid and s.claim_next(os.getpid()) is None
    assert s.get(rid).status is Status.RUNNING and s.get(rid).pid == os.getpid()
    s.add_steps(rid, 1, 1, [2.3, 2.1, 1.9], 3)
    s.add_epoch(rid, dict(epoch=1, train_loss=1.0, train_acc=0.5, val_loss=1.1, val_acc=0.6, test_loss=1.2,
                          test_acc=0.55, seconds=0.1, lr=0.01))
    s.finish(rid, Status.COMPLETED, best_val_acc=0.6, test_acc=0.55)
    assert [r["loss"] for r in s.steps(rid)] == [2.3, 2.1, 1.9]
    assert s.epochs(rid)[0]["val_acc"] == 0.6
    run = Store(tmp_path).get(rid)  # a second handle sees the same data
    assert run.status is Status.COMPLETED and run.test_acc == 0.55 and run.step == 3
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
    assert [r.id for r in s.runs()] == [c, b, a]
    assert [r.id for r in s.runs(Status.QUEUED)] == [b]
    assert [r.id for r in s.runs(Status.RUNNING, Status.CANCELLED)] == [c, a]
    assert [st.active for st in Status] == [True, True, False, False, False]


def test_cancel_queued_and_running(tmp_path):
    s = Store(tmp_path)
    a, b = s.create(TrainConfig()), s.create(TrainConfig())
    s.claim_next(os.getpid())
    s.request_cancel(a)
    s.request_cancel(b)
    assert s.get(a).status is Status.RUNNING and s.cancel_requested(a)
    assert s.get(b).status is Status.CANCELLED


def test_deleting_a_running_run_cancels_it_and_removes_it_when_it_stops(tmp_path):
    s = Store(tmp_path)
    running, queued = s.create(TrainConfig()), s.create(TrainConfig())
    s.claim_next(os.getpid())
    s.run_dir(running).mkdir()
    s.delete(queued)
    s.delete(running)
    assert s.runs() == [] and s.cancel_requested(running)  # gone from every list at once
    assert s.run_dir(running).exists()  # its worker still holds it
    s.finish(running, Status.CANCELLED)  # what the worker does when it sees the cancel
    assert not s.run_dir(running).exists()
    with s._db() as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0  # nothing orphaned
    with pytest.raises(UserError, match="There is no run"):
        s.delete(running)


def test_the_queue_is_fair_across_owners(tmp_path):
    s = Store(tmp_path)
    ada = [s.create(TrainConfig(), owner="ada") for _ in range(3)]
    bob = [s.create(TrainConfig(), owner="bob") for _ in range(2)]
    cy = s.create(TrainConfig(), owner="cy")
    assert s.queue_order() == [ada[0], bob[0], cy, ada[1], bob[1], ada[2]]
    assert s.claim_next(os.getpid()) == ada[0]
    assert s.queue_order() == [bob[0], cy, ada[1], bob[1], ada[2]]  # ada has one running: the others go first
    assert [r.id for r in s.runs(owner="bob")] == bob[::-1]


def test_one_with_runs_training_waits_for_those_with_fewer(tmp_path):
    """Each pick counts as one more running for the picks after it: ada, with none running, gets two turns before
    cy, who has two training already."""
    s = Store(tmp_path)
    for _ in range(2):
        s.create(TrainConfig(), owner="cy", pid=os.getpid())  # two of cy's runs training
    cy = s.create(TrainConfig(), owner="cy")
    ada = [s.create(TrainConfig(), owner="ada") for _ in range(2)]
    assert s.queue_order() == [ada[0], ada[1], cy]


def test_a_process_is_alive_until_it_is_gone(monkeypatch):
    from digitlab.runs.store import base

    assert base.pid_alive(os.getpid()) and not base.pid_alive(None) and not base.pid_alive(0)
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert not base.pid_alive(gone.pid)

    def kill(pid, sig, error):
        raise error

    monkeypatch.setattr(os, "kill", lambda pid, sig: kill(pid, sig, PermissionError()))
    assert base.pid_alive(12345)  # another user's process: there, only not ours to signal
    monkeypatch.setattr(os, "kill", lambda pid, sig: kill(pid, sig, ProcessLookupError()))
    assert not base.pid_alive(12345)


def test_backup_and_restore(tmp_path):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(name="kept"))
    first = s.backup()
    assert s.latest_backup() == first and first.parent == tmp_path / "backups"
    for _ in range(7):
        s.backup()
    assert len(list(s.backups.glob("runs-*.db"))) == 5  # the newest five
    s.path.write_bytes(b"this is no database" * 100)  # overwritten
    with pytest.raises(UserError, match=r"is damaged .*restore the latest automatic backup with `digitlab restore"):
        s.runs()
    Store.restore(tmp_path)
    assert Store(tmp_path).get(rid).name == "kept"
    assert list(tmp_path.glob("runs.db.damaged-*"))  # the damaged file is kept, not lost


def test_an_emptied_store_gets_its_tables_back(tmp_path):
    s = Store(tmp_path)
    s.create(TrainConfig())
    s.path.write_bytes(b"")
    (tmp_path / "runs.db-wal").unlink(missing_ok=True)
    assert s.runs() == []  # no traceback; the backup holds what was lost
    assert s.create(TrainConfig()) >= 1


def test_a_store_from_before_owners_is_upgraded(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "runs.db") as db:
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, config TEXT NOT NULL, "
                   "status TEXT NOT NULL, created REAL NOT NULL, started REAL, finished REAL, error TEXT, device TEXT, "
                   "pid INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0, epoch INTEGER NOT NULL DEFAULT 0, "
                   "step INTEGER NOT NULL DEFAULT 0, steps_per_epoch INTEGER, best_epoch INTEGER, best_val_acc REAL, "
                   "test_acc REAL, train_seconds REAL, num_params INTEGER, checkpoint TEXT)")
        db.execute("INSERT INTO runs (name, config, status, created) VALUES ('old', '{}', 'completed', 0)")
    run = Store(tmp_path).runs()[0]
    assert run.name == "old" and run.owner == "" and run.delete_requested == 0 and run.batch is None


def test_runs_queued_together_share_a_batch_and_are_queued_whole(tmp_path):
    s = Store(tmp_path)
    alone = s.create(TrainConfig())
    ids = s.create_batch([TrainConfig(name=f"r{k}") for k in range(3)], owner="ada")
    assert [s.get(i).batch for i in ids] == [ids[0]] * 3 and s.get(alone).batch is None
    assert s.get(s.create_batch([TrainConfig()])[0]).batch is None  # a batch of one is a run alone
    with pytest.raises(AttributeError):  # a config that cannot be stored stops the batch before any of it lands
        s.create_batch([TrainConfig(name="ok"), object()])
    assert len(s.runs()) == 5


def test_an_unusable_runs_folder_is_one_sentence(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="Cannot keep runs in .*file .*point --runs or \\$DIGITLAB_RUNS"):
        Store(tmp_path / "file")


def test_a_run_created_by_its_trainer_is_never_reaped(tmp_path):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(), pid=os.getpid())
    run = s.get(rid)
    assert run.status is Status.RUNNING and run.pid == os.getpid() and run.started
    assert s.reap() == 0 and s.get(rid).status is Status.RUNNING


def test_runs_stored_before_the_renames_read_with_the_new_names(tmp_path):
    s = Store(tmp_path)
    with s._db() as db:
        db.execute("INSERT INTO runs (name, config, status, created) VALUES ('old', ?, 'completed', 0)",
                   ('{"norm": "layer", "normalize": "symmetric", "hidden": [30, 5]}',))
    run = s.runs()[0]
    assert run.config["norm_layer"] == "layer" and run.config["input_norm"] == "symmetric"


def test_concurrent_writers_never_see_a_lock_error(tmp_path):
    """Four processes create runs and write progress at once while this one reads: every write lands."""
    import subprocess
    import sys
    import textwrap

    Store(tmp_path)
    code = textwrap.dedent(f"""
        import sys
        from digitlab.learn.config import TrainConfig
        from digitlab.runs.store import Store, Status
        s = Store({str(tmp_path)!r})
        for i in range(15):
            rid = s.create(TrainConfig(name=f"w{{sys.argv[1]}}-{{i}}"))
            s.add_steps(rid, 1, 1, [0.5] * 50, 50)
            s.finish(rid, Status.COMPLETED, best_val_acc=0.5)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(k)], stderr=subprocess.PIPE) for k in range(4)]
    reader = Store(tmp_path)
    while any(p.poll() is None for p in procs):
        reader.runs()
    errors = [p.stderr.read().decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    runs = reader.runs()
    assert len(runs) == 60 and all(r.status is Status.COMPLETED for r in runs)
    assert all(len(reader.steps(r.id)) == 50 for r in runs[:5])


def test_my_digits_are_kept_within_the_limit_per_person_all_or_none(tmp_path):
    s = Store(tmp_path / "runs")
    item = (3, b"png", bytes(784))
    assert len(s.add_digits([item] * 2, "bob", limit=3)) == 2
    with pytest.raises(UserError, match="You keep 2 digits, and these 2 would pass the limit of 3"):
        s.add_digits([item] * 2, "bob", limit=3)
    assert len(s.add_digits([item], "bob", limit=3)) == 1  # exactly at the limit
    with pytest.raises(UserError, match="You keep 3 digits, the limit of 3"):
        s.add_digits([item], "bob", limit=3)
    assert len(s.add_digits([item] * 3, "cy", limit=3)) == 3  # the limit is each person's
    assert [len(s.digits(o)) for o in ("bob", "cy")] == [3, 3]


def test_first_layer_snapshots_round_trip_and_a_damaged_one_is_left_out(tmp_path):
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(hidden=[4]))
    for epoch in (0, 1, 2):
        s.save_snapshot(rid, epoch, np.full((4, 784), epoch, np.float32))
    (s.run_dir(rid) / "first-layer" / "epoch-0001.npy").write_bytes(b"cut short")
    kept = s.snapshots(rid)
    assert sorted(kept) == [0, 2] and kept[2].shape == (4, 784) and float(kept[2][0, 0]) == 2.0
    assert s.snapshots(s.create(TrainConfig())) == {}  # a run from before snapshots: none, no error


def test_relabel_and_delete_touch_only_the_owners_digits_when_one_is_named(tmp_path):
    s = Store(tmp_path / "runs")
    bob = s.add_digits([(1, b"png", bytes(784))] * 2, "bob", limit=10)
    cy = s.add_digits([(1, b"png", bytes(784))], "cy", limit=10)
    assert s.relabel_digits({bob[0]: 7, cy[0]: 7}, owner="bob") == 1  # cy's is not bob's to relabel
    assert [d["label"] for d in s.digits("cy")] == [1] and s.digits("bob")[0]["label"] == 7
    assert s.relabel_digits({cy[0]: 4}) == 1  # no owner named (a teacher, the single user): any digit
    assert s.delete_digits([bob[1], cy[0]], owner="bob") == 1
    assert [d["id"] for d in s.digits()] == [bob[0], cy[0]]
    assert s.delete_digits([cy[0]]) == 1


@pytest.mark.parametrize("ends", ["its worker finishes it", "its worker dies and is reaped"])
def test_a_run_deleted_while_it_runs_is_gone_once_nothing_holds_it(tmp_path, ends):
    s = Store(tmp_path)
    other = s.create(TrainConfig(name="kept"))
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that was a worker and is no more
    rid = s.create(TrainConfig(), pid=os.getpid() if ends.startswith("its worker finishes") else dead.pid)
    s.run_dir(rid).mkdir()
    (s.run_dir(rid) / "best.pt").write_bytes(b"x")
    s.delete(rid)
    assert s.run_dir(rid).exists() and [r.id for r in s.runs()] == [other]  # hidden, not yet removed
    if ends.startswith("its worker finishes"):
        s.finish(rid, Status.CANCELLED)
    else:
        assert s.reap() == 1
    assert not s.run_dir(rid).exists() and [r.id for r in s.runs()] == [other]
    with s._db() as db:
        assert db.execute("SELECT COUNT(*) FROM runs WHERE id=?", (rid,)).fetchone()[0] == 0


def test_the_store_returns_frozen_typed_runs(tmp_path):
    import dataclasses

    from digitlab.runs.store import Run

    s = Store(tmp_path)
    rid = s.create(TrainConfig(hidden=[8], name="typed"), owner="ada")
    run = s.get(rid)
    assert isinstance(run, Run) and run.status is Status.QUEUED and run.owner == "ada" and run.health is None
    assert run.config["hidden"] == [8] and run.cancel_requested is False and run in s.runs() and run == s.runs()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = Status.RUNNING  # a record read from the store: changed only through the store
    with pytest.raises(TypeError):
        run["status"]  # noqa: B018 (no longer a dict read by key)
    s.finish(rid, Status.FAILED, error="x", health=json.dumps({"flag": "diverged", "reason": "r", "hint": "h"}))
    assert s.get(rid).health == {"flag": "diverged", "reason": "r", "hint": "h"} and s.get(rid).finished


def test_every_run_of_a_batch_watches_the_pinned_drawings(tmp_path):
    s = Store(tmp_path)
    drawings = [(7, bytes(range(256)) * 3 + bytes(16)), (None, bytes(784))]
    ids = s.create_batch([TrainConfig(name="a"), TrainConfig(name="b"), TrainConfig(name="c")], pins=drawings)
    for rid in ids:
        pins = s.pins(rid)
        assert [(p["slot"], p["label"]) for p in pins] == [(0, 7), (1, None)]
        assert pins[0]["image"].shape == (28, 28) and pins[0]["image"].tobytes() == drawings[0][1]


def test_the_digits_version_moves_with_every_change_to_my_digits(tmp_path):
    s = Store(tmp_path)
    assert s.digits_version() == 0  # none saved yet
    s.add_digits([(3, b"png", bytes(784))], "ada", 10)
    first = s.digits_version()
    assert first > 0
    s.add_digits([(4, b"png", bytes(784))], "ada", 10)
    assert s.digits_version() > first


def test_restore_with_no_backup_is_one_sentence_and_touches_nothing(tmp_path):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(name="kept"))
    with pytest.raises(UserError, match=rf"^There is no backup of the run store in {tmp_path / 'backups'}: nothing"):
        Store.restore(tmp_path)
    assert Store(tmp_path).get(rid).name == "kept"


def test_the_runs_folder_is_the_one_named_else_the_environment_s_else_runs(tmp_path, monkeypatch):
    from digitlab.runs.store import runs_root

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGITLAB_RUNS", raising=False)
    assert runs_root() == tmp_path / "runs" and runs_root("mine") == tmp_path / "mine"
    monkeypatch.setenv("DIGITLAB_RUNS", str(tmp_path / "env"))
    assert runs_root() == tmp_path / "env" and runs_root("mine") == tmp_path / "mine"


def test_restore_takes_the_newest_backup(tmp_path):
    s = Store(tmp_path)
    s.create(TrainConfig(name="old"))
    s.backup()
    time.sleep(1.1)  # backups are named by the second
    s.create(TrainConfig(name="new"))
    s.backup()
    s.path.write_bytes(b"this is no database" * 100)
    Store.restore(tmp_path)
    assert sorted(r.name for r in Store(tmp_path).runs()) == ["new", "old"]  # the newer backup, with both


def test_a_sweep_record_is_read_only(tmp_path):
    import dataclasses

    from digitlab.runs.store import SweepStatus

    s = Store(tmp_path)
    row = s.get_sweep(s.create_sweep("x", {"trials": 1}, owner="ada"))
    assert (row.name, row.plan, row.status, row.owner) == ("x", {"trials": 1}, SweepStatus.RUNNING, "ada")
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.status = SweepStatus.DONE


@pytest.mark.parametrize("left", ["a backup", "a damaged copy"])
def test_a_missing_store_where_one_was_is_never_made_anew(tmp_path, left):
    s = Store(tmp_path)
    rid = s.create(TrainConfig(name="precious"))
    if left == "a backup":
        s.backup()
    else:
        s.path.with_name("runs.db.damaged-20261207-120000").write_bytes(s.path.read_bytes())
    for extra in ("runs.db", "runs.db-wal", "runs.db-shm"):
        (tmp_path / extra).unlink(missing_ok=True)  # gone: a full disk's restore, a person's rm
    for reader in (lambda: Store(tmp_path), lambda: s.runs(), lambda: s.create(TrainConfig())):
        with pytest.raises(UserError, match=r"^The run store .*runs\.db is missing where one was .*`digitlab restore "):
            reader()
    assert not s.path.exists()  # no empty store made in its place
    if left == "a backup":
        Store.restore(tmp_path)
        assert Store(tmp_path).get(rid).name == "precious"


def test_a_new_folder_gets_a_new_store(tmp_path):
    assert Store(tmp_path / "fresh").runs() == [] and (tmp_path / "fresh" / "runs.db").exists()


def test_a_run_whose_worker_died_before_its_first_epoch_says_nothing_was_kept(tmp_path):
    s = Store(tmp_path)
    gone = subprocess.Popen(["true"])
    gone.wait()
    rid = s.create(TrainConfig(), pid=gone.pid)
    assert s.reap() == 1
    run = s.get(rid)
    assert run.status is Status.FAILED and run.checkpoint is None
    assert run.error == ("The worker process stopped unexpectedly: it had not finished an epoch, so nothing was kept; "
                         "launch the run again.")
