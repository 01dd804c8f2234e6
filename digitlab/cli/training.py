"""Commands for training: train, lr-find, sweep, sweeps, presets, runs, cancel, data."""

import argparse
import json
import shutil
import sys
from pathlib import Path

from digitlab import UserError
from digitlab.cli.common import add_train_flags, config_from_args


def add(command) -> None:
    t = command("train", "train a model and store the run", cmd_train)
    t.add_argument("--preset", help="start from a named recipe (`digitlab presets`); flags given beside it override it")
    add_train_flags(t)
    t.add_argument("--save", help="also copy the best checkpoint here (.pt), with a JSON card beside it")
    t.add_argument("--pin", action="append", default=[], metavar="IMAGE",
                   help="a PNG/JPEG of a digit to score every 50 steps and after every epoch, to watch it being "
                        "learned (up to 8; the app's Runs page shows them)")
    t.add_argument("--json", action="store_true", help="print a JSON summary as the last line")

    f = command("lr-find", "a learning-rate range test for a configuration: loss against an exponentially growing "
                           "learning rate, and the rate it suggests", cmd_lr_find)
    f.add_argument("--preset", help="start from a named recipe; flags given beside it override it")
    add_train_flags(f)
    f.add_argument("--steps", type=int, default=100, help="training steps of the test (10 to 1000; default 100)")
    f.add_argument("--json", action="store_true", help="print the curve and the suggestion as one JSON line")

    w = command("sweep", "search hyperparameters with Optuna: every trial is a run in the store; prints the best",
                cmd_sweep)
    w.add_argument("file", nargs="?", help="a sweep in TOML (see README: name, preset, trials, sampler, prune, "
                                           "parallel, [fixed], [search.NAME])")
    w.add_argument("--param", action="append", default=[], metavar="NAME=SPACE",
                   help="a setting to search: NAME=a,b,c (values; lists as 512,128/256,64) or NAME=LOW:HIGH[:log]")
    w.add_argument("--trials", type=int, help="how many trials (default 16, at most 64)")
    w.add_argument("--sampler", choices=("grid", "random", "tpe"), help="how trials are chosen (default tpe)")
    w.add_argument("--prune", action=argparse.BooleanOptionalAction, default=None,
                   help="stop trials that trail the others after an epoch (default: on)")
    w.add_argument("--parallel", type=int, help="trials queued at once (default 1)")
    w.add_argument("--queue", action="store_true", help="queue the sweep for the app's workers and return")
    w.add_argument("--json", action="store_true", help="print the trials as one JSON line at the end")
    w.add_argument("--preset", help="the recipe every trial starts from")
    add_train_flags(w)  # fixed settings of every trial
    command("sweeps", "list the sweeps in the store", cmd_sweeps)
    command("presets", "list the presets", cmd_presets)
    command("runs", "list the runs in the store", cmd_runs)
    command("cancel", "cancel a queued or running run", cmd_cancel).add_argument("run_id", type=int)
    command("data", "prepare and verify the MNIST files", cmd_data)


def cmd_train(a) -> int:
    from tqdm import tqdm

    from digitlab.datasets import data
    from digitlab.learn import checkpoint, health
    from digitlab.runs import admission
    from digitlab.runs.runner import execution
    from digitlab.runs.store import Store, runs_root

    if a.save and not a.save.endswith(".pt"):
        raise UserError(f"--save needs a path ending in .pt, got {a.save}.")
    config = config_from_args(a)
    pins = pinned_images(a.pin)
    data.prepare(a.data, create=a.data is None)  # a mistyped --data is refused, never filled
    new_store = not runs_root(a.runs).exists()
    store = Store(a.runs)
    try:
        run_id, admitted = admission.start_here(store, config, a.data, pins=pins)
    except UserError:
        if new_store:  # a refused run leaves no store behind that it made
            shutil.rmtree(store.root, ignore_errors=True)
        raise
    config, estimate = admitted.config, admitted.estimate
    bar = None

    def on_event(event, info):
        nonlocal bar
        if event == "start":
            tqdm.write(f"run {run_id}: {config.display_name()} on {info['device']}: {estimate.describe()}",
                       file=sys.stderr)
            bar = tqdm(total=config.epochs * info["steps_per_epoch"], unit="step", file=sys.stderr)
        elif event == "steps":
            bar.set_description(f"epoch {info['epoch']}/{config.epochs}")
            bar.update(len(info["losses"]))
            bar.set_postfix(loss=f"{info['losses'][-1]:.4f}")
        elif event == "epoch":
            bar.write(f"epoch {info['epoch']:>3}  train loss {info['train_loss']:.4f} acc {info['train_acc']:.4f}  "
                      f"val loss {info['val_loss']:.4f} acc {info['val_acc']:.4f}  test acc {info['test_acc']:.4f}  "
                      f"{info['seconds']:.2f}s", file=sys.stderr)

    try:
        run = execution.execute(store, run_id, a.data, on_event)
    finally:
        if bar is not None:
            bar.close()
    flagged = run.health
    if a.save and run.checkpoint and not flagged:
        checkpoint.publish(run, a.save, a.argv)
    out = dict(run_id=run_id, status=str(run.status), health=flagged, best_val_acc=run.best_val_acc,
               test_acc=run.test_acc, best_epoch=run.best_epoch, epochs=len(store.epochs(run_id)),
               train_seconds=run.train_seconds, device=run.device,
               checkpoint=a.save if a.save and not flagged else run.checkpoint)
    if flagged:
        print(f"run {run_id} {flagged['flag']}: {flagged['reason']} {flagged['hint']}"
              + (f" Not saved to {a.save}." if a.save else ""), file=sys.stderr)
    if a.json:
        print(json.dumps(out))
    elif run.best_val_acc is None:
        print(f"run {run_id} {health.state(run)}: no epoch finished, no checkpoint kept")
    else:
        print(f"run {run_id} {run.status}: best val acc {run.best_val_acc:.4f} (epoch {run.best_epoch}), "
              f"test acc {run.test_acc:.4f}, {run.train_seconds:.1f}s of training -> {out['checkpoint']}")
    return 0


def pinned_images(paths: list[str]) -> list:
    """--pin files as pins, every one read (and checked like an upload) before anything else happens."""
    from digitlab.drawing import preprocess
    from digitlab.runs import admission
    from digitlab.runs.store import MAX_PINS

    if len(paths) > MAX_PINS:
        raise UserError(f"--pin takes at most {MAX_PINS} images, got {len(paths)}.")
    pins = []
    for path in paths:
        seen = preprocess.to_mnist(preprocess.read_image(path))
        if seen is None:
            raise UserError(f"{path} holds no digit to pin (nothing drawn): pick an image of one digit.")
        pins.append(admission.pin(seen))
    return pins


def cmd_lr_find(a) -> int:
    from digitlab import settings
    from digitlab.datasets import data
    from digitlab.learn import cost, devices, lrfind

    config = config_from_args(a)
    cost.check(config, settings.current().limits, devices.resolve(config.device).type)
    found = lrfind.lr_find(config, data.load(a.data, val_size=config.val_size), a.steps)
    if a.json:
        print(json.dumps({"suggestion": found.suggestion, "lowest": found.lowest, "lrs": found.lrs,
                          "losses": found.losses, "smoothed": found.smoothed}))
        return 0
    print(f"{config.display_name()}: {len(found.lrs)} steps from lr {found.lrs[0]:.1e} to {found.lrs[-1]:.1e}")
    for k in range(0, len(found.lrs), max(1, len(found.lrs) // 20)):
        print(f"  lr {found.lrs[k]:9.2e}  loss {found.smoothed[k]:.4f}")
    print(f"suggested learning rate: {found.suggestion:.2g} (steepest fall of the loss; lowest loss at "
          f"{found.lowest:.2g}): digitlab train --lr {found.suggestion:.2g} ...")
    return 0


def cmd_sweep(a) -> int:
    from digitlab.datasets import data
    from digitlab.runs import sweep
    from digitlab.learn.config import NAMES
    from digitlab.runs.runner import sweep_here
    from digitlab.runs.store import Store

    parts = {}
    if a.file:
        path = Path(a.file)
        if not path.is_file():
            raise UserError(f"No sweep file at {a.file}: give a TOML file (see README), or --param flags.")
        with path.open("rb") as f:  # no more than the limit and a byte: read refuses a file over it, unread
            parts = sweep.read(f.read(sweep.MAX_BYTES + 1))
    for key in ("preset", "trials", "sampler", "prune", "parallel"):
        if getattr(a, key) is not None:
            parts[key] = getattr(a, key)
    fixed = {name: getattr(a, name) for name in NAMES if getattr(a, name, None) is not None}
    parts["fixed"] = {**parts.get("fixed", {}), **fixed}
    parts["search"] = {**parts.get("search", {}), **dict(sweep.parse_flag(p) for p in a.param)}
    plan = sweep.from_parts(parts)
    data.prepare(a.data, create=a.data is None)
    store = Store(a.runs)
    sweep_id = sweep.start(store, plan, data_root=a.data)
    searched = "; ".join(sweep.describe(p) for p in plan.params)
    print(f"sweep {sweep_id}: {plan.name}: {plan.trials} trials ({plan.sampler}{', pruned' if plan.prune else ''}) "
          f"of {searched}", file=sys.stderr)
    if a.queue:
        print("queued: the app's workers run its trials (`digitlab supervise` without the app)", file=sys.stderr)
        return 0

    def told(run) -> None:  # a trial: a Run
        acc = f"val {run.best_val_acc:.4f}" if run.best_val_acc is not None else "no epoch"
        print(f"  trial {run.trial:>2} (run {run.id}): {run.status}, {acc}"
              + (f" · {run.error}" if run.error else ""), file=sys.stderr)

    sweep_here.run(store, sweep_id, a.data, told)
    plan, rows, _ = sweep.results(store, sweep_id)
    if a.json:
        print(json.dumps({"sweep": sweep_id, "trials": rows}))
        return 0
    best = next((r for r in rows if r["val acc"] is not None), None)
    if best is None:
        print(f"sweep {sweep_id}: no trial finished an epoch")
        return 0
    params = ", ".join(f"{p.name}={best[p.name]:.3g}" if isinstance(best[p.name], float) else f"{p.name}={best[p.name]}"
                       for p in plan.params)
    print(f"sweep {sweep_id}: best trial {best['trial']} (run {best['run']}): val acc {best['val acc']:.4f}, "
          f"test acc {best['test acc']:.4f} with {params}")
    return 0


def cmd_sweeps(a) -> int:
    from digitlab.runs.store import Store

    store = Store(a.runs)
    for row in store.sweeps():
        runs = store.sweep_runs(row.id)
        best = max((r.best_val_acc for r in runs if r.best_val_acc is not None), default=None)
        print(f"{row.id:>3}  {row.status:<9}  {len(runs):>2} of {row.plan['trials']:>2} trials  "
              f"best val {'-' if best is None else f'{best:.4f}'}  {row.name}")
    return 0


def cmd_presets(a) -> int:
    from digitlab.learn.presets import PRESETS

    for name, p in PRESETS.items():
        print(f"{name:<18} " + " ".join(f"{k}={v}" for k, v in p.items()))
    return 0


def cmd_runs(a) -> int:
    from digitlab.learn import health
    from digitlab.runs.store import Store

    store = Store(a.runs)
    store.reap()
    runs = store.runs()
    if not runs:
        print("no runs yet: train one with `digitlab train --preset fast`")
        return 0

    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    print(f"{'id':>4}  {'status':<12} {'name':<28} {'best val':>8} {'test':>7} {'seconds':>8}")
    for r in runs:
        print(f"{r.id:>4}  {health.state(r):<12} {r.name[:28]:<28} {fmt(r.best_val_acc, '8.4f'):>8} "
              f"{fmt(r.test_acc, '7.4f'):>7} {fmt(r.train_seconds, '8.1f'):>8}")
    return 0


def cmd_cancel(a) -> int:
    from digitlab.runs.store import Store

    store = Store(a.runs)
    store.get(a.run_id)  # no such run: one sentence
    store.request_cancel(a.run_id)
    print(f"run {a.run_id}: {store.get(a.run_id).status}, cancel requested")
    return 0


def cmd_data(a) -> int:
    from digitlab.datasets import data

    root = data.prepare(a.data, report=lambda m: print(m, file=sys.stderr))
    ok = data.verify(a.data)
    for name, good in ok.items():
        print(f"{name:<26} {data.md5(root / name)}  {'OK' if good else 'MISMATCH'}")
    print(f"MNIST ready in {root}")
    return 0 if all(ok.values()) else 1
