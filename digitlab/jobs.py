"""Running stored runs: in this process (CLI), in a worker process that drains the queue, and the supervisor
that keeps the queue moving (reaps runs whose worker died, starts a worker when runs wait)."""

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from digitlab import UserError, checkpoint, cluster, cost, data, devices, handwriting, settings, sweep, synth
from digitlab.checkpoint import SHIPPED
from digitlab.config import ARCHITECTURE, TrainConfig, spec, validate
from digitlab.store import Status, Store
from digitlab.train import train

CANCEL_POLL = 0.5  # seconds between the worker's looks at the store for a cancel request


MIN_DIGITS = 10  # saved digits a run needs to train on a share of them and score the rest
MY_DIGITS = "my-digits.json"  # in a run's folder: the digits it trained on and held out, the accuracy before and after


def start_path(store: Store, name: str, use: str = "start from") -> Path:
    """The checkpoint file a start_from (or a teacher) names: a shipped model's, or a run's best."""
    if name.startswith("run:"):
        run = store.get(int(name[4:]))
        if not run["checkpoint"] or not Path(run["checkpoint"]).exists():
            raise UserError(f"Run {run['id']} has no checkpoint to {use}: pick a run that finished an epoch.")
        return Path(run["checkpoint"])
    path = SHIPPED / f"{name}.pt"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.pt")))
        raise UserError(f"There is no shipped model {name!r} to {use}: choose one of {names}, or run:ID.")
    return path


def teacher_checkpoint(store: Store, config: TrainConfig) -> checkpoint.Checkpoint | None:
    """The model a run learns from besides the labels (config.teacher), of any shape; None if none."""
    return checkpoint.load(start_path(store, config.teacher, "learn from")) if config.teacher else None


def priced(store: Store, config: TrainConfig, limits: settings.Limits, device: str) -> cost.Estimate:
    """The run's cost (its teacher's work included), or the UserError of the limit it exceeds or of a teacher that
    is not there."""
    teacher = teacher_checkpoint(store, config)
    return cost.check(config, limits, device, teacher.config if teacher else None)


def start_checkpoint(store: Store, config: TrainConfig) -> checkpoint.Checkpoint | None:
    """The checkpoint a run starts from (config.start_from), checked to have the run's architecture; None if none."""
    name = config.start_from
    if not name:
        return None
    path = start_path(store, name)
    ck = checkpoint.load(path)
    for field in ARCHITECTURE:
        theirs, ours = getattr(ck.config, field), getattr(config, field)
        if theirs != ours:
            raise UserError(f"{spec(field).label} must be {theirs} to start from {name}, got {ours}: a run that starts "
                            "from a model keeps its shape.")
    return ck


def check_sources(store: Store, config: TrainConfig, owner: str = "") -> None:
    """What a run takes besides MNIST, there before it is queued: the model it starts from (of its shape), and
    enough saved digits of its owner when it trains on some. (Its teacher is read, so checked, by `priced`.)"""
    start_checkpoint(store, config)
    if config.fonts and not any(not face.held_out for face in synth.typefaces()):
        raise UserError(f"Font digits need Debian's font packages: apt-get install {synth.FONT_PACKAGES}; or set Font "
                        "digits to 0.")
    if config.my_digits:
        have = len(store.digits(owner, images=False))
        if have < MIN_DIGITS:
            raise UserError(f"Training on My digits needs at least {MIN_DIGITS} saved digits, and you have {have}: "
                            "save more on the Draw page, or set My digits to 0.")


def digits_split(rows: list[dict], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """My digits split into the part a run trains on and the part it holds out, at random by its seed."""
    order = np.random.default_rng(seed).permutation(len(rows))
    n = int(round(share * len(rows)))
    trained, held = sorted(order[:n]), sorted(order[n:])
    return [rows[i] for i in trained], [rows[i] for i in held]


def my_digits_report(before: checkpoint.Checkpoint | None, after: checkpoint.Checkpoint, held: list[dict],
                     mnist: data.MNIST) -> dict:
    """Accuracy on the held-out digits and on MNIST's test set, of the model a run started from and of its best."""
    from digitlab import evaluation  # here: it brings scikit-learn, 1.2 s of every worker's start otherwise

    x, y = handwriting.arrays(held)
    out = {}
    for when, ck in (("before", before), ("after", after)):
        if ck is None:
            continue
        test = evaluation.evaluate_checkpoint(ck, mnist)["test_acc"]
        out[when] = {"held_out_acc": evaluation.evaluate(ck, x, y)["test_acc"] if len(held) else None,
                     "test_acc": test}
    return out


def summary_of(result) -> dict:
    return dict(best_epoch=result.best_epoch, best_val_acc=result.best_val_acc, test_acc=result.test_acc,
                train_seconds=result.train_seconds, num_params=result.num_params)


def execute(store: Store, run_id: int, data_root=None, on_event=None, trainer=None) -> dict:
    """Train a run already in the store (marked running), writing progress there; returns its final record.
    trainer: train itself, or what trains elsewhere with its arguments and events (cluster.Executor)."""
    on_event = on_event or (lambda event, info: None)
    trainer = trainer or train
    run = store.get(run_id)
    try:
        config = TrainConfig.from_dict(run["config"])
        mnist = data.load(data_root, val_size=config.val_size)
        start, teacher = start_checkpoint(store, config), teacher_checkpoint(store, config)
        extra, held, record = None, [], {}
        if config.my_digits:
            trained, held = digits_split(store.digits(run["owner"]), config.my_digits, config.seed)
            x, y = handwriting.arrays(trained)
            extra = (torch.from_numpy(x.copy()), torch.from_numpy(y))
            record = {"trained": [r["id"] for r in trained], "held_out": [r["id"] for r in held]}
            _write_json(store.run_dir(run_id) / MY_DIGITS, record)  # before training: kept if the worker dies
        last_poll, cancel, pruned = 0.0, False, None
        prune = sweep.pruner_for(store, run)  # a sweep's trial: stopped once it trails the others

        def should_stop() -> bool:
            nonlocal last_poll, cancel
            now = time.monotonic()
            if now - last_poll > CANCEL_POLL:
                last_poll, cancel = now, store.cancel_requested(run_id)
            return cancel or pruned is not None

        def callback(event: str, info: dict) -> None:
            nonlocal pruned
            if event == "start":
                store.update(run_id, device=info["device"], steps_per_epoch=info["steps_per_epoch"],
                             num_params=info["num_params"])
            elif event == "steps":
                first = info["global_step"] - len(info["losses"]) + 1
                store.add_steps(run_id, info["epoch"], first, info["losses"], info["step"])
            elif event == "epoch":
                store.add_epoch(run_id, info)
                if prune is not None and prune(info["epoch"], info["val_acc"]) and info["epoch"] < config.epochs:
                    pruned = (f"{sweep.PRUNED} after epoch {info['epoch']}: its validation accuracy "
                              f"{info['val_acc']:.2%} trailed the median of the trials before it.")
            elif event == "snapshot":
                store.save_snapshot(run_id, info["epoch"], info["weights"])
            elif event == "pinned":
                store.add_pin_scores(run_id, info["epoch"], info["global_step"], info["probs"])
            elif event == "best":  # written as it happens: a run whose worker dies keeps its best epoch
                m = info["metrics"]
                path = checkpoint.save(store.run_dir(run_id) / "best.pt", info["state"], config, m)
                store.update(run_id, checkpoint=str(path), best_epoch=m["epoch"], best_val_acc=m["val_acc"],
                             test_acc=m["test_acc"])
            on_event(event, info)

        fonts = None
        if config.fonts:
            x, y = synth.bank(data.data_root(data_root))
            fonts = (torch.from_numpy(x), torch.from_numpy(y))
        pins = store.pins(run_id)
        pinned = torch.from_numpy(np.stack([p["image"] for p in pins])) if pins else None
        result = trainer(config, mnist, callback, should_stop, init_state=start.model.state_dict() if start else None,
                         extra=extra, fonts=fonts, pinned=pinned,
                         teacher=(teacher.config, teacher.model.state_dict()) if teacher else None)
        if (start or config.my_digits) and result.best_state is not None:
            after = checkpoint.load(store.run_dir(run_id) / "best.pt")
            _write_json(store.run_dir(run_id) / MY_DIGITS, {**record, **my_digits_report(start, after, held, mnist)})
        status = Status.CANCELLED if result.cancelled else Status.COMPLETED
        store.finish(run_id, status, error=pruned if result.cancelled else None, **summary_of(result))
    except UserError as e:
        store.finish(run_id, Status.FAILED, error=str(e))
        raise
    except KeyboardInterrupt:
        store.finish(run_id, Status.CANCELLED, error="Stopped from the keyboard.")
        raise
    except Exception as e:  # noqa: BLE001 - the run must never be left running
        first_line = str(e).splitlines()[0] if str(e) else "no message"
        store.finish(run_id, Status.FAILED, error=f"Training stopped with {type(e).__name__}: {first_line}.")
        raise
    return store.get(run_id)


def _write_json(path: Path, value: dict) -> None:
    checkpoint.write_atomically(path, lambda f: f.write(json.dumps(value).encode()))


def my_digits_result(store: Store, run_id: int) -> dict | None:
    """What a run that started from a model or trained on My digits recorded: the ids it trained on and held out,
    and the accuracy before and after; None for any other run."""
    path = store.run_dir(run_id) / MY_DIGITS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def launch(store: Store, config: TrainConfig, data_root=None, owner: str = "", pins=()) -> int:
    """Queue a validated run for the workers; returns the run id. Nothing is queued when anything is wrong."""
    return launch_group(store, [config], data_root, owner, pins)[0]


def pin(image: np.ndarray, label: int | None = None) -> tuple[int | None, bytes]:
    """A drawing to watch as a run trains: a 28x28 image (uint8, or floats in [0, 1]) and its label if known."""
    image = np.asarray(image)
    if image.shape != (28, 28):
        raise UserError(f"A pinned drawing must be a 28x28 image, got shape {image.shape}: pin it from the Draw page.")
    if image.dtype != np.uint8:
        image = (np.clip(np.nan_to_num(image.astype(np.float32)), 0, 1) * 255).round().astype(np.uint8)
    return label, image.tobytes()


def launch_group(store: Store, configs: list[TrainConfig], data_root=None, owner: str = "", pins=()) -> list[int]:
    """Queue runs that belong together (a comparison, a sweep): every one is checked first, and the per-person limit
    for all of them, so that a group is queued whole or not at all. pins (from `pin`): drawings each run scores every
    few steps, so that a person watches them being learned."""
    limits = settings.load().limits
    checked = []
    for config in configs:
        config = validate(config)
        device = devices.resolve(config.device)  # an unavailable device is refused now, not in the worker
        priced(store, config, limits, device.type)
        check_sources(store, config, owner)
        checked.append(config)
    if not data.is_prepared(data_root):
        raise UserError("MNIST is not prepared yet: prepare it on the Data page or run `digitlab data`.")
    mine = len(store.runs(Status.QUEUED, Status.RUNNING, owner=owner))
    if mine + len(checked) > limits.queued_per_person:
        these = f", and these {len(checked)} would pass" if len(checked) > 1 else ","
        raise UserError(f"You have {mine} runs waiting or running{these} the limit of {limits.queued_per_person} "
                        "(limits.queued_per_person in the settings): wait for one to finish, or cancel one.")
    return store.create_batch(checked, owner, pins)


# --- workers: one process per slot drains the queue; a supervisor keeps the slots filled -------------------

BACKUP_EVERY = 600.0  # seconds between the supervisor's backups of the run store
WORKER_NICE = 10      # workers run at a lower priority than the app, which must answer a drawing at once


def slot_count(workers: settings.Workers | None = None) -> int:
    """Runs trained at once here: gpu_slots per GPU when there is one, else cpu_slots (0: half the cores, since a
    small model's step gains little from more than two threads)."""
    workers = workers or settings.load().workers
    gpus = devices.accelerators()
    return workers.gpu_slots * gpus if gpus else workers.cpu_slots or max(1, (os.cpu_count() or 1) // 2)


def worker_threads(slots: int | None = None) -> int:
    """CPU threads of one worker: the cores shared by the slots. Fixed by the settings, not by how busy the queue
    is, so that a run gives the same numbers alone or beside others (thread counts change float sums)."""
    return max(1, (os.cpu_count() or 1) // (slots or slot_count()))


def _lock(path):
    """An exclusive lock on path, held as long as the returned file is open; None when another process holds it."""
    f = open(path, "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def worker_lock(store: Store, slot: int = 0):
    return _lock(store.root / f"worker-{slot}.lock")


def worker_alive(store: Store, slot: int = 0) -> bool:
    lock = worker_lock(store, slot)
    if lock is None:
        return True
    lock.close()
    return False


def work(store: Store, data_root=None, slot: int = 0) -> int:
    """Drain the queue in one slot, one run after another; exits when it is empty. One worker per slot."""
    done = 0
    while True:
        lock = worker_lock(store, slot)
        if lock is None:
            return done  # another worker holds this slot and will see our runs
        try:
            while (run_id := store.claim_next(os.getpid())) is not None:
                try:
                    execute(store, run_id, data_root)
                except Exception:  # noqa: BLE001 - recorded on the run; go on with the queue
                    pass
                done += 1
        finally:
            lock.close()
        # A run queued between our last look and the unlock would be orphaned: look once more.
        if not store.runs(Status.QUEUED):
            return done


def start_worker(store: Store, data_root=None, slot: int = 0) -> subprocess.Popen:
    """Start a worker process for one slot of the store's queue (it exits at once if the slot is taken)."""
    cmd = [sys.executable, "-m", "digitlab", "worker", "--slot", str(slot), "--runs", str(store.root)]
    if data_root:
        cmd += ["--data", str(data_root)]
    env = dict(os.environ)
    if devices.accelerators() > 1:  # slots spread over the GPUs
        env["CUDA_VISIBLE_DEVICES"] = str(slot % devices.accelerators())
    with open(store.root / "worker.log", "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=env)


class Supervisor:
    """Keeps a store's queue moving, apart from any page: every `every` seconds (or at once when woken) it marks
    failed the runs whose worker died, starts a worker in each free slot while runs wait, reaps exited workers,
    and backs the store up. One supervisor per store acts at a time (a lock file); others stand by."""

    def __init__(self, store: Store, data_root=None, slots: int | None = None, every: float = 2.0,
                 retry_after: float = 5.0):
        self.store, self.data_root, self.every, self.retry_after = store, data_root, every, retry_after
        self.slots = slots or slot_count()
        self.workers: list[subprocess.Popen] = []
        self.last_start: dict[int, float] = {}
        self.last_backup = -1e9
        self.executor = None  # a cluster.Executor, when the settings name a Ray cluster
        self._wake = threading.Event()
        self._lock = None

    def tick(self) -> None:
        self.workers = [p for p in self.workers if p.poll() is None]  # poll() reaps an exited worker
        self.store.reap()
        if time.monotonic() - self.last_backup > BACKUP_EVERY:
            self.last_backup = time.monotonic()
            self.store.backup()
        sweep.advance_all(self.store)  # a sweep's next trials join the queue as its last ones finish
        if cluster.address():  # a Ray cluster trains the queue instead of this machine's workers
            if self.executor is None:
                self.executor = cluster.Executor(self.store, self.data_root)
            self.executor.tick()
            return
        waiting = len(self.store.queue_order())
        for slot in range(self.slots):
            if waiting <= 0:
                break
            if worker_alive(self.store, slot):
                continue
            if time.monotonic() - self.last_start.get(slot, -1e9) < self.retry_after:
                continue  # a worker that fails to start is not respawned every tick
            self.last_start[slot] = time.monotonic()
            self.workers.append(start_worker(self.store, self.data_root, slot))
            waiting -= 1

    def wake(self) -> None:
        """Tick now rather than at the next interval (say, right after a launch)."""
        self._wake.set()

    def acting(self) -> bool:
        """Whether this supervisor holds the store's supervisor lock (taking it when it is free)."""
        if self._lock is None:
            self._lock = _lock(self.store.root / "supervisor.lock")
        return self._lock is not None

    def run(self, stop: threading.Event | None = None) -> None:
        """Tick until stop is set or the store's folder is gone; stands by while another supervisor acts."""
        stop = stop or threading.Event()
        while not stop.is_set() and self.store.root.exists():  # a removed store (a test's) ends it
            try:
                if self.acting():
                    self.tick()
            except Exception as e:  # noqa: BLE001 - a passing error (a locked or damaged store) must not end it
                print(f"digitlab supervisor: {type(e).__name__}: {e}", file=sys.stderr)
            self._wake.wait(self.every)
            self._wake.clear()

    def start(self) -> "Supervisor":
        threading.Thread(target=self.run, name=f"digitlab-supervisor {self.store.root}", daemon=True).start()
        return self
