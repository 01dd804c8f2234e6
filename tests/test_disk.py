"""A full disk and putting a backup back: what is kept is never lost, what cannot be done is one sentence."""

import os
import sqlite3
import stat

import pytest

from digitlab import UserError
from digitlab.learn import checkpoint
from digitlab.learn.config import TrainConfig
from digitlab.runs.store import Store
from testkit import disk

FULL = r"^The disk holding .* is full \(.* free\), so .*: free at least .* MB there .*then try again\.$"


def test_a_full_disk_keeps_the_store_readable_and_refuses_writes_in_one_sentence(small_disk):
    s = Store(small_disk / "runs")
    ids = [s.create(TrainConfig(name=f"r{i}")) for i in range(3)]
    s.add_steps(ids[0], 1, 1, [0.5] * 100, 100)
    filler = disk.fill(small_disk)
    fresh = Store(small_disk / "runs")  # a new page, a new process: no connection of SQLite's was open
    assert [r.name for r in fresh.runs()][::-1] == ["r0", "r1", "r2"] and len(fresh.steps(ids[0])) == 100
    for write in (lambda: fresh.create(TrainConfig()), lambda: fresh.add_steps(ids[0], 1, 101, [0.4], 101),
                  lambda: fresh.update(ids[1], epoch=2)):
        with pytest.raises(UserError, match=FULL) as e:
            write()
        assert str(small_disk / "runs") in str(e.value) and "damaged" not in str(e.value)
    filler.unlink()
    assert fresh.create(TrainConfig(name="after")) == ids[-1] + 1  # space freed: the store writes again
    assert len(fresh.runs()) == 4


def test_a_checkpoint_on_a_full_disk_is_one_sentence_and_leaves_no_part(small_disk):
    config = TrainConfig(hidden=(512, 256))
    from digitlab.learn.models import build

    state = build(config).state_dict()
    disk.fill(small_disk)
    with pytest.raises(UserError, match=FULL):
        checkpoint.save(small_disk / "1" / "best.pt", state, config, {"epoch": 1})
    assert not [p for p in small_disk.rglob("*") if p.name != "filler" and p.is_file()]


def _damage(s: Store) -> None:
    s.path.write_bytes(b"this is no database" * 100)


def test_restore_refuses_a_healthy_store_and_says_what_it_would_lose(tmp_path):
    s = Store(tmp_path)
    s.create(TrainConfig(name="old"))
    s.backup()
    later = s.create(TrainConfig(name="later"))
    with pytest.raises(UserError, match=rf"^The run store .* is healthy: restoring runs-.*\.db \(taken 0 min ago\) "
                                        rf"would lose run {later}; pass --force"):
        Store.restore(tmp_path)
    assert [r.name for r in s.runs()] == ["later", "old"]  # untouched
    done = Store.restore(tmp_path, force=True)
    assert done.lost == [later] and done.moved_to and [r.name for r in Store(tmp_path).runs()] == ["old"]
    with sqlite3.connect(done.moved_to) as kept:  # the replaced store, whole, its WAL beside it
        assert kept.execute("SELECT count(*) FROM runs").fetchone()[0] == 2


def test_restore_keeps_the_wal_of_the_store_it_replaces(tmp_path):
    s = Store(tmp_path)
    s.create(TrainConfig(name="a"))
    s.backup()
    holder = sqlite3.connect(s.path)  # an open connection: the WAL stays, with what it holds
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("PRAGMA wal_autocheckpoint=0")
    s.create(TrainConfig(name="only-in-the-wal"))
    assert (tmp_path / "runs.db-wal").stat().st_size > 0
    done = Store.restore(tmp_path, force=True)
    holder.close()
    assert done.moved_to.with_name(done.moved_to.name + "-wal").exists()
    with sqlite3.connect(done.moved_to) as kept:
        assert "only-in-the-wal" in {r[0] for r in kept.execute("SELECT name FROM runs")}


def test_restore_keeps_the_mode_of_the_store_it_replaces(tmp_path):
    s = Store(tmp_path)
    s.create(TrainConfig())
    s.backup()
    os.chmod(s.latest_backup(), 0o644)
    os.chmod(s.path, 0o600)  # class mode's store: its user's only
    _damage(s)
    Store.restore(tmp_path)
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o600


def test_restore_on_a_full_disk_changes_nothing(small_disk):
    s = Store(small_disk / "runs")
    s.create(TrainConfig(name="a"))
    s.add_steps(1, 1, 0, [0.5] * 3000, 3000)
    s.backup()
    _damage(s)
    for extra in ("-wal", "-shm"):
        (small_disk / "runs" / f"runs.db{extra}").write_bytes(b"x")
    before = sorted(p.name for p in (small_disk / "runs").iterdir())
    filler = disk.fill(small_disk)
    with pytest.raises(UserError, match=r"^The disk holding .* has .* free, too little to restore runs-.*: free at "
                                        r"least .* MB there, then run `digitlab restore` again; nothing was changed\.$"):
        Store.restore(small_disk / "runs")
    assert sorted(p.name for p in (small_disk / "runs").iterdir()) == before  # nothing moved, nothing deleted
    filler.unlink()
    done = Store.restore(small_disk / "runs")
    assert done.lost == [] and [r.name for r in Store(small_disk / "runs").runs()] == ["a"]


def test_restore_refuses_a_damaged_backup(tmp_path):
    s = Store(tmp_path)
    s.create(TrainConfig())
    s.backup().write_bytes(b"not a store either")
    _damage(s)
    with pytest.raises(UserError, match=r"^The backup .* is damaged too: name an older one"):
        Store.restore(tmp_path)
    assert s.path.read_bytes().startswith(b"this is no database")


def test_a_backup_of_a_smaller_store_keeps_the_last_larger_one(tmp_path):
    s = Store(tmp_path)
    for i in range(4):
        s.create(TrainConfig(name=f"r{i}"))
    larger = s.backup()
    for rid in range(1, 5):
        s.delete(rid)
    for _ in range(8):
        s.backup()
    kept = sorted(s.backups.glob("runs-*.db"))
    assert len(kept) == 6 and larger in kept  # the newest five, and the last that held the four runs
    s.create(TrainConfig())
    s.backup()
    assert larger in set(s.backups.glob("runs-*.db"))  # still: one run is fewer than four
