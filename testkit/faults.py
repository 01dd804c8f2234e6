"""The fault drill: a small class (two students with runs, drawings and lesson answers) put through what the power,
the disk and a careless hand do, then asked what it lost. Each case returns an Outcome whose `lost` lists every run,
drawing, answer or checkpoint that was there before and is not after, every run that did not end completed, and every
run whose figures differ from the same run never disturbed; `benchmarks/faults.py` prints them and
`tests/test_faults.py` holds each case to nothing lost."""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitlab import UserError
from digitlab.datasets import data, handwriting
from digitlab.learn import checkpoint
from digitlab.learn.config import TrainConfig
from digitlab.runs.runner import workers
from digitlab.runs.store import Status, Store, pid_alive
from digitlab.runs.store.runs import RESUME
from testkit import disk
from testkit.browser import PROJECT, free_port, wait_healthy
from testkit.fixtures import digests, write_dataset

PEOPLE = ("bob", "cy")
# Long enough epochs (400 steps) to be caught in the middle of one; every part of the loop's state in play.
RECIPE = dict(hidden=(256, 128), epochs=3, batch_size=4, device="cpu", optimizer="adam", ema=0.9, schedule="cosine",
              dropout=0.1)
WAIT = 240.0  # seconds a case waits for its runs before it calls them lost


@dataclass
class Outcome:
    case: str
    lost: list[str] = field(default_factory=list)
    said: str = ""       # what the class was told, or what the drill saw on the way
    seconds: float = 0.0
    skipped: str = ""    # why the case could not run here (no root to mount a small disk, say)


def dataset(root: Path) -> Path:
    """A prepared set of 2,000 synthetic digits (its own digests standing in for MNIST's while it is prepared)."""
    if data.is_prepared(root):
        return root
    write_dataset(root, n_train=2000, n_test=200)
    official, data.MD5 = data.MD5, digests(root)
    try:
        data.prepare(root)
    finally:
        data.MD5 = official
    return root


def a_class(root: Path) -> Store:
    """Two students, each with three saved drawings and a lesson answer, and a run queued each."""
    s = Store(root)
    rng = np.random.default_rng(0)
    for who in PEOPLE:
        for label in (1, 4, 7):
            pixels = np.zeros((28, 28), np.uint8)
            pixels[6:22, 12 + label % 3 : 15 + label % 3] = 255
            pixels[rng.integers(4, 24), rng.integers(4, 24)] = 255
            handwriting.save(s, handwriting.image_png(pixels), label, owner=who)
        s.record_answer(who, "optimizers", "first-to-97", "adam", True)
        epochs = RECIPE["epochs"] if who == PEOPLE[0] else 2  # the other's run: there, and shorter
        s.create(TrainConfig(name=f"{who}-run", seed=PEOPLE.index(who), **{**RECIPE, "epochs": epochs}), owner=who)
    return s


def inventory(s: Store) -> dict[str, set]:
    runs = s.runs()
    return {"run": {r.id for r in runs}, "drawing": {d["id"] for d in s.digits(images=False)},
            "answer": {(a["owner"], a["question"]) for a in s.answers()},
            "checkpoint": {r.id for r in runs if r.checkpoint and Path(r.checkpoint).exists()}}


def _figures(s: Store, run_id: int) -> list[dict]:
    return [{k: v for k, v in m.items() if k not in ("seconds", "run_id")} for m in s.epochs(run_id)]


_CALM: dict[tuple[str, str], list[dict]] = {}  # (data root, config) -> figures: each recipe trained once per drill


def calm(root: Path, data_root: Path, configs: list[dict]) -> dict[str, list[dict]]:
    """Each run's figures, trained undisturbed: what every disturbed run must end with."""
    keys = {json.dumps(c, sort_keys=True) for c in configs}
    todo = [k for k in keys if (str(data_root), k) not in _CALM]
    if todo:
        s = Store(root)
        ids = {k: s.create(TrainConfig.from_dict(json.loads(k))) for k in todo}
        workers.work(s, data_root)
        _CALM.update({(str(data_root), k): _figures(s, rid) for k, rid in ids.items()})
    return {k: _CALM[(str(data_root), k)] for k in keys}


def judge(case: str, s: Store, before: dict[str, set], data_root: Path, scratch: Path, said: str = "",
          damaged: set[str] = frozenset()) -> Outcome:
    """What the case lost: anything of `before` gone (save what the fault itself damaged), any run not completed,
    any run whose figures differ from the same run trained undisturbed."""
    out = Outcome(case, said=said)
    after = inventory(s)
    for kind, items in before.items():
        out.lost += [f"{kind} {i}" for i in sorted(items - after[kind], key=str) if f"{kind} {i}" not in damaged]
    runs = s.runs()
    out.lost += [f"run {r.id} {r.status}: {r.error}" for r in runs if r.status is not Status.COMPLETED]
    undisturbed = calm(scratch / "calm", data_root, [r.config for r in runs])
    for r in runs:
        if _figures(s, r.id) != undisturbed[json.dumps(r.config, sort_keys=True)]:
            out.lost.append(f"run {r.id}: its figures differ from the same run undisturbed")
    return out


def until(condition, what: str, seconds: float = WAIT) -> None:
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def all_ended(s: Store) -> bool:
    return all(not r.status.active for r in s.runs())


def mid_epoch(s: Store, run_id: int, epoch: int = 2):
    """A condition: the run is past a few steps of epoch (its resume state from the epoch before is on disk)."""
    def there() -> bool:
        r = s.get(run_id)
        return r.status is Status.RUNNING and r.epoch == epoch and r.step >= 50 and (s.run_dir(run_id) / RESUME).exists()
    return there


def _env(root: Path, data_root: Path) -> dict:
    env = {**os.environ, "DIGITLAB_RUNS": str(root), "DIGITLAB_DATA": str(data_root)}
    env.pop("DIGITLAB_SETTINGS", None)
    return env


@contextmanager
def process(cmd: list[str], root: Path, data_root: Path, port: int | None = None):
    """A digitlab process (supervise, serve) on the class's store; ended after the block if it still runs."""
    log = open(root.parent / f"{cmd[0]}-{time.time_ns()}.log", "w")
    p = subprocess.Popen([sys.executable, "-m", "digitlab", *cmd], cwd=PROJECT, env=_env(root, data_root),
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if port:
            wait_healthy(f"http://localhost:{port}", p, 90, lambda: f"digitlab {cmd[0]} did not start")
        yield p
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


def supervise(root: Path, data_root: Path):
    return process(["supervise", "--runs", str(root), "--data", str(data_root)], root, data_root)


def serve(root: Path, data_root: Path):
    port = free_port()
    return process(["serve", "--port", str(port)], root, data_root, port)


def end_workers(root: Path) -> None:
    """Stop every worker still training on root (a drill leaves none behind)."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in cmd and str(root).encode() in cmd:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    until(lambda: not pid_alive(pid), f"process {pid} to end", 30)


# --- the cases ------------------------------------------------------------------------------------------------

def started(root: Path) -> tuple[Store, dict[str, set], int]:
    """The class in root, what it holds before the fault, and bob's run (the one the fault catches mid-epoch)."""
    s = a_class(root)
    return s, inventory(s), s.runs(owner="bob")[0].id


def worker_killed(scratch: Path, data_root: Path) -> Outcome:
    root = scratch / "runs"
    s, before, bob = started(root)
    with supervise(root, data_root):
        until(mid_epoch(s, bob), "bob's run in its second epoch")
        kill(s.get(bob).pid)  # the OOM killer: no handler runs
        until(lambda: all_ended(s), "every run to end")
    said = f"bob's run went on from its last epoch ({s.get(bob).resumed} time)"
    return judge("a worker killed (SIGKILL) mid-epoch", s, before, data_root, scratch, said)


def supervisor_killed(scratch: Path, data_root: Path) -> Outcome:
    root = scratch / "runs"
    s, before, bob = started(root)
    with supervise(root, data_root) as first:
        until(mid_epoch(s, bob), "bob's run in its second epoch")
        kill(first.pid)
    with supervise(root, data_root):  # its worker trained on meanwhile; the new one takes the queue up
        until(lambda: all_ended(s), "every run to end")
    return judge("the supervisor killed (SIGKILL)", s, before, data_root, scratch, "its worker trained on")


def app_killed(scratch: Path, data_root: Path, with_worker: bool = False) -> Outcome:
    root = scratch / "runs"
    s, before, bob = started(root)
    with serve(root, data_root) as app:
        until(mid_epoch(s, bob), "bob's run in its second epoch")
        worker = s.get(bob).pid
        kill(app.pid)
        if with_worker:
            kill(worker)  # the power: everything at once
    with serve(root, data_root):
        until(lambda: all_ended(s), "every run to end")
    case = "the power cut: the app and its worker killed" if with_worker else "the app killed (SIGKILL)"
    said = f"bob's run resumed {s.get(bob).resumed} time(s)"
    return judge(case, s, before, data_root, scratch, said)


def power_cut(scratch: Path, data_root: Path) -> Outcome:
    return app_killed(scratch, data_root, with_worker=True)


def disk_full(scratch: Path, data_root: Path) -> Outcome:
    folder = scratch / "disk"
    why = disk.mount(folder, "24m")
    if why:
        return Outcome("the disk full mid-run", skipped=why)
    try:
        root = folder / "runs"
        s, before, bob = started(root)
        with supervise(root, data_root):
            until(mid_epoch(s, bob), "bob's run in its second epoch")
            filler = disk.fill(folder)
            until(lambda: not pid_alive(s.get(bob).pid), "bob's worker to stop on the full disk")
            waiting = s.get(bob)
            try:
                s.create(TrainConfig())
                said = "a write on the full disk went through"
            except UserError as e:
                said = str(e)
            readable = len(Store(root).runs())  # a page opened now
            time.sleep(3)  # a supervisor tick or two on the full disk: nothing starts, nothing is lost
            filler.unlink()
            until(lambda: all_ended(s), "every run to end once space was freed")
        out = judge("the disk full mid-run", s, before, data_root, scratch,
                    f"bob's run {waiting.status} at epoch {waiting.epoch} ({waiting.error}); {readable} runs still "
                    f"listed; a launch told: {said}")
        if not said.startswith("The disk holding"):
            out.lost.append(f"a write on the full disk was not refused in one sentence: {said}")
        return out
    finally:
        end_workers(folder / "runs")
        disk.unmount(folder)


def checkpoint_damaged(scratch: Path, data_root: Path) -> Outcome:
    root = scratch / "runs"
    s = a_class(root)
    workers.work(s, data_root)
    before = inventory(s)
    bob, cy = (s.runs(owner=who)[0] for who in PEOPLE)
    Path(bob.checkpoint).write_bytes(b"cut short" * 100)
    try:
        checkpoint.load(bob.checkpoint)
        said = "the damaged checkpoint loaded"
    except UserError as e:
        said = str(e)
    checkpoint.load(cy.checkpoint)  # the others stand
    out = judge("a checkpoint damaged", s, before, data_root, scratch, f"told: {said}")
    if "corrupt" not in said:
        out.lost.append(f"the damaged checkpoint was not named as such: {said}")
    return out


def store_damaged(scratch: Path, data_root: Path) -> Outcome:
    from digitlab.cli import main

    root = scratch / "runs"
    s = a_class(root)
    workers.work(s, data_root)
    before = inventory(s)
    s.backup()  # the supervisor's, every ten minutes
    s.path.write_bytes(b"not a database any more" * 500)
    try:
        s.runs()
        said = "the damaged store was read"
    except UserError as e:
        said = str(e)
    code = main(["restore", "--runs", str(root)])
    out = judge("the store damaged", s, before, data_root, scratch, f"told: {said}; restore exited {code}")
    if not list(root.glob("runs.db.damaged-*")):
        out.lost.append("the damaged store itself (restore should keep it beside the new one)")
    return out


def two_servers(scratch: Path, data_root: Path) -> Outcome:
    root = scratch / "runs"
    s = a_class(root)
    for who in PEOPLE:
        s.create(TrainConfig(name=f"{who}-second", seed=7, **{**RECIPE, "epochs": 2}), owner=who)
    before = inventory(s)
    with serve(root, data_root), serve(root, data_root):
        until(lambda: all_ended(s), "every run to end")
    out = judge("two servers on one store", s, before, data_root, scratch, "one supervisor acted at a time")
    for r in s.runs():
        steps = [m["step"] for m in s.steps(r.id)]
        if len(steps) != len(set(steps)) or len(steps) != r.config["epochs"] * r.steps_per_epoch:
            out.lost.append(f"run {r.id} trained more or less than once ({len(steps)} steps recorded)")
    return out


CASES = {"worker killed": worker_killed, "supervisor killed": supervisor_killed, "app killed": app_killed,
         "power cut": power_cut, "disk full": disk_full, "checkpoint damaged": checkpoint_damaged,
         "store damaged": store_damaged, "two servers": two_servers}


def run(case: str, scratch: Path, data_root: Path) -> Outcome:
    scratch.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        out = CASES[case](scratch, data_root)
    finally:
        end_workers(scratch / "runs")
    out.seconds = time.perf_counter() - t0
    return out
