"""What the Train page shows of the runs in progress, read from the store once for every viewer.

Forty open Train pages must not cost forty readings of the store and forty sets of figures a tick: a Live reads the
runs at most once every `every` seconds (a running run's step losses only from the last step it has), and builds
each figure once per new data, for all viewers together. Figures come back as the same objects until the data
changes. And the pages together refresh at most REFRESHES times a second (each page every 2 s while few watch, less
often as more do), so that a class watching costs the server a bounded share of the CPU the training needs.
"""

import threading
import time
from dataclasses import dataclass, field

from digitlab.course import plots
from digitlab.runs.catalog import batch_of
from digitlab.runs.store import Run, Status, Store

LIVE_POINTS = 500  # per trace on the live step chart: enough to see the trend, cheap to send every tick
WATCHING = 60.0  # seconds a page counts as watching after its last refresh
REFRESHES = 3.0  # refreshes a second of all open pages together, at most (one costs the server ~20 ms of CPU)
INTERVALS = (2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 20.0, 30.0, 60.0)  # seconds between two refreshes of a page: the first that
FASTEST = INTERVALS[0]                                     # keeps within REFRESHES; few and far apart, so that a page
                                                           # seldom has to be told a new one


@dataclass(frozen=True)
class Snapshot:
    runs: list[Run]                       # every run, newest first
    order: list[int]                       # the queue, next first
    epochs: dict[int, list[dict]]          # per running run, and per finished run queued with one
    steps: dict[int, tuple[list, list]]    # per running run: (steps, losses)
    pins: dict[int, tuple[list, list]] = field(default_factory=dict)  # per running run: (pins, their scores so far)
    read_at: float = field(default_factory=time.time)

    def running(self, owner: str | None = None) -> list[dict]:
        return [r for r in self.runs if r.status == Status.RUNNING and _mine(r, owner)]

    def queued(self, owner: str | None = None) -> list[dict]:
        mine = [r for r in self.runs if r.status == Status.QUEUED and _mine(r, owner) and r.id in self.order]
        return sorted(mine, key=lambda r: self.order.index(r.id))

    def finished(self, owner: str | None = None) -> list[dict]:
        return [r for r in self.runs if not r.status.active and _mine(r, owner)]

    def finished_mates(self, run: Run) -> list[Run]:
        """The runs queued together with run that have finished with epochs to show, oldest first."""
        return [r for r in batch_of(run, self.runs) if not r.status.active and self.epochs.get(r.id)]


def _mine(run: Run, owner: str | None) -> bool:
    return owner is None or run.owner == owner


class Live:
    def __init__(self, store: Store, every: float = 1.0):
        self.store, self.every = store, every
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._steps: dict[int, tuple[list, list]] = {}
        self._pins: dict[int, tuple[list, list]] = {}
        self._finished: dict[int, list[dict]] = {}  # epochs of finished runs: they no longer change
        self._figures: dict[tuple, object] = {}
        self._viewers: dict[str, float] = {}  # viewer -> when it last read

    def watching(self) -> int:
        """How many viewers read lately."""
        with self._lock:
            return len(self._viewers)

    def interval(self) -> float:
        """Seconds between two refreshes of one page, so that all the open pages together refresh at most REFRESHES
        times a second: 2 s for up to 6 pages, 15 s for 40 (one of INTERVALS; the last beyond 180 pages)."""
        need = self.watching() / REFRESHES
        return next((s for s in INTERVALS if s >= need), INTERVALS[-1])

    def snapshot(self, viewer: str | None = None) -> Snapshot:
        """The runs as last read (again when that is `every` seconds old). A viewer (any stable key of one page)
        counts as watching until it has not read for a minute, or three of its intervals: long enough that a page
        whose refresh was late (a busy server, a browser's hidden tab) does not change everyone's interval."""
        with self._lock:
            now = time.monotonic()
            if viewer is not None:
                self._viewers[viewer] = now
                window = max(WATCHING, 3 * len(self._viewers) / REFRESHES)
                self._viewers = {v: t for v, t in self._viewers.items() if now - t <= window}
            if self._snapshot is None or time.time() - self._snapshot.read_at >= self.every:
                self._snapshot = self._read()
            return self._snapshot

    def refresh(self) -> Snapshot:
        """Read again now (after a launch or a cancel, say), whatever the age of the last reading."""
        with self._lock:
            self._snapshot = self._read()
            return self._snapshot

    def _read(self) -> Snapshot:
        runs = self.store.runs()
        running = [r.id for r in runs if r.status == Status.RUNNING]
        for run_id in set(self._steps) - set(running):  # finished: its losses are no longer kept here
            del self._steps[run_id]
        for run_id in set(self._pins) - set(running):
            del self._pins[run_id]
        pins = {}
        for run_id in running:  # the pinned drawings once, their scores from the last step already read
            drawings, scores = self._pins.get(run_id) or (self.store.pins(run_id), [])
            if drawings:
                new = self.store.pin_scores(run_id, after=scores[-1]["step"] if scores else 0)
                self._pins[run_id] = pins[run_id] = (drawings, [*scores, *new])
            else:
                self._pins[run_id] = (drawings, scores)
        steps = {}
        for run_id in running:
            have_steps, have_losses = self._steps.get(run_id, ((), ()))
            new = self.store.steps(run_id, after=have_steps[-1] if have_steps else 0)
            # New lists, never appended to in place: a snapshot that a page is still drawing stays as it was.
            self._steps[run_id] = steps[run_id] = ([*have_steps, *(s["step"] for s in new)],
                                                   [*have_losses, *(s["loss"] for s in new)])
        epochs = {run_id: self.store.epochs(run_id) for run_id in running}
        mates = {m.id for r in runs if r.status == Status.RUNNING for m in batch_of(r, runs)
                 if not m.status.active}
        self._finished = {run_id: self._finished.get(run_id) or self.store.epochs(run_id) for run_id in mates}
        epochs.update(self._finished)
        return Snapshot(runs, self.store.queue_order(), epochs, steps, pins)

    def pinned_figures(self, run_id: int, snap: Snapshot) -> list:
        """The charts of a running run's pinned drawings, one a drawing, built once per new score."""
        drawings, scores = snap.pins.get(run_id, ([], []))
        run = next((r for r in snap.runs if r.id == run_id), None)
        key = ("pinned", run_id, len(scores))
        with self._lock:
            figs = self._figures.get(key)
            if figs is None:
                figs = [plots.pinned_curves(scores, p["slot"], p["label"], run and run.steps_per_epoch)
                        for p in drawings]
                self._figures = {k: v for k, v in self._figures.items() if k[:2] != key[:2]}
                self._figures[key] = figs
            return figs

    def figure(self, kind: str, name: str, run_id: int, snap: Snapshot):
        """The live figure of one running run: "loss" or "acc" per epoch, beside the finished runs queued with it,
        or "steps"; built once per new data."""
        epochs = snap.epochs.get(run_id, [])
        steps, losses = snap.steps.get(run_id, ([], []))
        run = next((r for r in snap.runs if r.id == run_id), None)
        mates = snap.finished_mates(run) if kind != "steps" and run is not None else []
        news = len(steps) if kind == "steps" else len(epochs)  # an epoch chart changes once an epoch, not a step
        key = (kind, run_id, name, news, tuple(m.id for m in mates))
        with self._lock:
            fig = self._figures.get(key)
            if fig is None:
                if kind == "steps":
                    rows = [{"step": s, "loss": v} for s, v in zip(steps, losses)]
                    fig = plots.step_losses([(name, rows)], window=50, max_points=LIVE_POINTS,
                                            colors=[plots.run_color(run_id)])
                else:
                    shown = [*((f"{m.id}: {m.name}", m.id) for m in mates), (f"{run_id}: {name}", run_id)]
                    fig = plots.epoch_curves([(label, snap.epochs.get(i, epochs)) for label, i in shown], kind,
                                             colors=[plots.run_color(i) for _, i in shown])
                self._figures = {k: v for k, v in self._figures.items() if k[:3] != key[:3]}  # only the newest
                self._figures[key] = fig
            return fig
