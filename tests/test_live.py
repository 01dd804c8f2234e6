"""The Train page's live view reads the store once for every viewer, and only the new steps of a running run."""

import os

import pytest

from digitlab.course import plots
from digitlab.learn.config import TrainConfig
from digitlab.runs.live import LIVE_POINTS, Live
from digitlab.runs.store import Status, Store

EPOCH = dict(train_loss=1.0, train_acc=0.5, val_loss=1.1, val_acc=0.6, test_loss=1.2, test_acc=0.55, seconds=0.1,
             lr=0.01)


class CountingStore(Store):
    def __init__(self, root):
        super().__init__(root)
        self.reads, self.step_reads, self.epoch_reads = 0, [], []

    def runs(self, *statuses, owner=None):
        self.reads += 1
        return super().runs(*statuses, owner=owner)

    def epochs(self, run_id):
        self.epoch_reads.append(run_id)
        return super().epochs(run_id)

    def steps(self, run_id, after=0):
        self.step_reads.append(after)
        return super().steps(run_id, after)


@pytest.fixture
def running(tmp_path):
    s = CountingStore(tmp_path)
    rid = s.create(TrainConfig(hidden=[16], name="live"), owner="ada")
    s.create(TrainConfig(hidden=[8], name="waiting"), owner="bob")
    assert s.claim_next(os.getpid()) == rid
    s.add_steps(rid, 1, 1, [2.3, 2.1], 2)
    return s, rid


def test_viewers_share_one_reading_a_tick(running):
    s, rid = running
    live = Live(s, every=60)
    snaps = [live.snapshot() for _ in range(40)]  # forty pages in the same second
    assert s.reads == 1 and all(x is snaps[0] for x in snaps)
    assert [r.name for r in snaps[0].running()] == ["live"] and [r.name for r in snaps[0].queued()] == ["waiting"]
    assert snaps[0].running("bob") == [] and snaps[0].queued("ada") == []  # a student sees their own
    live.refresh()
    assert s.reads == 2


def test_pages_refresh_less_often_as_more_watch_and_again_faster_when_they_leave(running, monkeypatch):
    s, _ = running
    live, now = Live(s, every=60), [1000.0]
    monkeypatch.setattr("digitlab.runs.live.time.monotonic", lambda: now[0])
    assert live.interval() == 2.0
    for k in range(6):
        live.snapshot(f"page {k}")
    assert live.watching() == 6 and live.interval() == 2.0  # 3 refreshes a second in all
    for k in range(40):
        live.snapshot(f"page {k}")  # a page read twice counts once
    assert live.watching() == 40 and live.interval() == 15.0  # at most 3 a second
    now[0] += 59  # every page still counts for a minute after its last refresh
    live.snapshot("page 0")
    assert live.watching() == 40
    now[0] += 2  # 61 s: the other 39 closed
    live.snapshot("page 0")
    assert live.watching() == 1 and live.interval() == 2.0
    assert live.snapshot() is not None and live.watching() == 1  # a reading without a viewer counts nobody


def test_only_new_steps_are_read_and_a_finished_run_is_forgotten(running):
    s, rid = running
    live = Live(s, every=0)
    first = live.snapshot()
    s.add_steps(rid, 1, 3, [1.9, 1.7], 4)
    second = live.snapshot()
    assert s.step_reads == [0, 2]  # the second reading starts after the last step it had
    assert second.steps[rid] == ([1, 2, 3, 4], [2.3, 2.1, 1.9, 1.7])
    assert first.steps[rid] == ([1, 2], [2.3, 2.1])  # a snapshot being drawn never changes under the page
    s.finish(rid, Status.COMPLETED)
    assert live.snapshot().steps == {} and live._steps == {}


def test_figures_are_built_once_per_new_data(running):
    s, rid = running
    live = Live(s, every=0)
    snap = live.snapshot()
    assert live.figure("steps", "live", rid, snap) is live.figure("steps", "live", rid, live.snapshot())
    s.add_epoch(rid, dict(epoch=1, **EPOCH))
    snap = live.snapshot()
    loss = live.figure("loss", "live", rid, snap)
    lines = [t for t in loss.data if t.mode == "lines+markers"]  # each split's curve (its last epoch marked apart)
    assert loss is live.figure("loss", "live", rid, snap) and len(lines) == 3
    s.add_epoch(rid, dict(epoch=2, **EPOCH))
    assert live.figure("loss", "live", rid, live.snapshot()) is not loss
    assert len([k for k in live._figures if k[0] == "loss"]) == 1  # only the newest is kept


def test_the_live_step_chart_is_capped(running):
    s, rid = running
    s.add_steps(rid, 1, 3, [1.0] * 5000, 5002)
    live = Live(s, every=0)
    fig = live.figure("steps", "live", rid, live.snapshot())
    assert all(len(t.x) <= LIVE_POINTS for t in fig.data) and fig.data[0].x[-1] == 5002
    assert LIVE_POINTS < plots.MAX_POINTS


def test_finished_runs_of_a_comparison_are_drawn_beside_the_running_one(tmp_path):
    s = CountingStore(tmp_path)
    sgd, momentum, adam = s.create_batch([TrainConfig(name=n) for n in ("sgd", "momentum", "adam")], owner="ada")
    for rid in (sgd, momentum):
        assert s.claim_next(os.getpid()) == rid
        s.add_epoch(rid, dict(epoch=1, **EPOCH))
    s.finish(sgd, Status.COMPLETED)
    live = Live(s, every=0)
    snap = live.snapshot()
    assert [r.id for r in snap.finished_mates(s.get(momentum))] == [sgd]
    fig = live.figure("acc", "momentum", momentum, snap)
    assert [t.name for t in fig.data if t.showlegend] == [f"{sgd}: sgd", f"{momentum}: momentum"]
    colors = {t.line.color for t in fig.data if t.mode == "lines+markers"}
    assert colors == {plots.run_color(sgd), plots.run_color(momentum)}
    live.snapshot()
    assert s.epoch_reads.count(sgd) == 1 and s.epoch_reads.count(momentum) == 2  # a finished run's: read once
    s.finish(momentum, Status.COMPLETED)
    assert live.snapshot().epochs == {} and live._finished == {}  # nothing running: nothing kept
    assert adam not in live.snapshot().epochs
