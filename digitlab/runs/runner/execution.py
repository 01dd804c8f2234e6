"""Training one stored run: everything it takes read from the store, its progress written back as it happens, its end
recorded whatever happens. The one code path of a run, wherever it trains: `digitlab train` in its own process, a
local worker, or a Ray task whose events come back here."""

import json
import time
from pathlib import Path

import numpy as np
import torch

from digitlab import UserError, files
from digitlab.datasets import data, handwriting, synth
from digitlab.learn import checkpoint
from digitlab.runs import sources, sweep
from digitlab.learn.config import TrainConfig
from digitlab.runs.store import Status, Store
from digitlab.runs.store.runs import RESUME
from digitlab.learn.train import train

CANCEL_POLL = 0.5  # seconds between the worker's looks at the store for a cancel request
MY_DIGITS = "my-digits.json"  # in a run's folder: the digits it trained on and held out, the accuracy before and after


def resume_state(store: Store, run_id: int) -> dict | None:
    """What a run whose worker stopped kept to go on from (train's 'resume' event); None when it kept nothing."""
    path = store.run_dir(run_id) / RESUME
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - cut short by the power going, say: start the run afresh
        return None


def my_digits_report(before: checkpoint.Checkpoint | None, after: checkpoint.Checkpoint, held: list[dict],
                     mnist: data.MNIST) -> dict:
    """Accuracy on the held-out digits and on MNIST's test set, of the model a run started from and of its best."""
    from digitlab.learn import evaluation

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
                train_seconds=result.train_seconds, num_params=result.num_params,
                health=json.dumps(result.health.to_dict()) if result.health else None)


def execute(store: Store, run_id: int, data_root=None, on_event=None, trainer=None) -> dict:
    """Train a run already in the store (marked running), writing progress there; returns its final record.
    trainer: train itself, or what trains elsewhere with its arguments and events (cluster.Ray)."""
    on_event = on_event or (lambda event, info: None)
    trainer = trainer or train  # looked up now: a test may spy on it
    run = store.get(run_id)
    try:
        config = TrainConfig.from_dict(run.config)
        mnist = data.load(data_root, val_size=config.val_size)
        start, teacher = sources.start(store, config), sources.teacher(store, config)
        resume = resume_state(store, run_id)  # its worker stopped: go on from its last finished epoch
        if resume is not None:
            store.rewind(run_id, resume["epoch"])
        extra, held, record = None, [], {}
        if config.my_digits:
            mine = store.digits(run.owner)
            kept = my_digits_result(store, run_id) if resume is not None else None
            if kept:  # going on after its worker stopped: the very digits it trained on, whatever was added since
                by_id = {r["id"]: r for r in mine}
                trained = [by_id[i] for i in kept["trained"] if i in by_id]
                held = [by_id[i] for i in kept["held_out"] if i in by_id]
            else:
                trained, held = sources.digits_split(mine, config.my_digits, config.seed)
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
            elif event == "resume":  # what going on after this epoch needs, should the worker die
                files.write_atomically(store.run_dir(run_id) / RESUME, lambda f: torch.save(info, f))
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
                         teacher=(teacher.config, teacher.model.state_dict()) if teacher else None, resume=resume)
        if (start or config.my_digits) and result.best_state is not None:
            after = checkpoint.load(store.run_dir(run_id) / "best.pt")
            _write_json(store.run_dir(run_id) / MY_DIGITS, {**record, **my_digits_report(start, after, held, mnist)})
        status = Status.CANCELLED if result.cancelled else Status.COMPLETED
        store.finish(run_id, status, error=pruned if result.cancelled else None, **summary_of(result))
    except files.DiskFull as e:  # not the run's fault: it waits in the queue, its resume state kept, for space
        store.wait_for_space(run_id, str(e))
        raise
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
    files.write_atomically(path, lambda f: f.write(json.dumps(value).encode()))


def my_digits_result(store: Store, run_id: int) -> dict | None:
    """What a run that started from a model or trained on My digits recorded: the ids it trained on and held out,
    and the accuracy before and after; None for any other run."""
    path = store.run_dir(run_id) / MY_DIGITS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


