"""python -m digitlab: train, eval, predict, runs, data, worker, cancel."""

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from digitlab import UserError

TRAIN_FLAGS = {  # flag -> (TrainConfig field, type, help)
    "--optimizer": ("optimizer", str, "sgd, momentum, adam, adamw or rmsprop"),
    "--lr": ("lr", float, "learning rate (the peak for onecycle)"),
    "--momentum": ("momentum", float, "momentum for the momentum optimizer"),
    "--weight-decay": ("weight_decay", float, "L2 penalty"),
    "--batch-size": ("batch_size", int, "examples per step"),
    "--epochs": ("epochs", int, "passes over the 48k training images"),
    "--dropout": ("dropout", float, "dropout after each hidden layer, in [0, 1)"),
    "--norm": ("norm", str, "none, batch or layer normalization after each hidden linear layer"),
    "--normalize": ("normalize", str, "input normalization: none, mnist or symmetric"),
    "--schedule": ("schedule", str, "learning-rate schedule: none, step, cosine or onecycle"),
    "--step-size": ("step_size", int, "epochs between decays (step schedule)"),
    "--gamma": ("gamma", float, "decay factor (step schedule)"),
    "--label-smoothing": ("label_smoothing", float, "in [0, 1)"),
    "--seed": ("seed", int, "random seed"),
    "--device": ("device", str, "auto, cpu, cuda or mps"),
    "--precision": ("precision", str, "fp32, or bf16 for a mixed-precision forward pass"),
    "--name": ("name", str, "a name for the run"),
    "--model": ("model", str, "mlp or cnn"),
    "--rotate": ("rotate", float, "augmentation: random rotation up to this many degrees"),
    "--scale": ("scale", float, "augmentation: random zoom by up to this fraction"),
    "--translate": ("translate", float, "augmentation: random shift up to this many pixels"),
    "--shear": ("shear", float, "augmentation: random shear up to this many degrees"),
    "--elastic": ("elastic", float, "augmentation: elastic distortion of up to this many pixels"),
    "--thickness": ("thickness", float, "augmentation: share of images with thicker or thinner strokes"),
}


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one sentence, no usage dump
        cmd = " ".join(self.prog.split()[1:])
        raise UserError(f"{message[0].upper()}{message[1:]}: see `python -m digitlab {cmd + ' ' if cmd else ''}--help`.")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)  # accepted before or after the command
    common.add_argument("--runs", default=argparse.SUPPRESS, help="runs folder (default $DIGITLAB_RUNS or ./runs)")
    common.add_argument("--data", default=argparse.SUPPRESS, help="data root (default $DIGITLAB_DATA or ./data)")
    p = Parser(prog="digitlab", description="Train, evaluate and use MNIST digit classifiers.", parents=[common])
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common])

    t = command("train", "train a model and store the run")
    t.add_argument("--preset", help="start from a named recipe; flags given beside it override it")
    for flag, (_, typ, help_) in TRAIN_FLAGS.items():
        t.add_argument(flag, type=typ, help=help_)
    t.add_argument("--hidden", type=int, nargs="+", help="hidden layer sizes, e.g. --hidden 512 128")
    t.add_argument("--channels", type=int, nargs="+", help="cnn: channels of each conv block, e.g. --channels 32 64")
    t.add_argument("--nesterov", action="store_true", default=None, help="Nesterov momentum")
    t.add_argument("--no-shuffle", dest="shuffle", action="store_false", default=None, help="keep the data order")
    t.add_argument("--run-id", type=int, help="train this queued run from the store instead of a new one")
    t.add_argument("--save", help="also copy the best checkpoint here, with a JSON card beside it")
    t.add_argument("--json", action="store_true", help="print a JSON summary as the last line")

    e = command("eval", "test accuracy, loss, macro F1 and per-class metrics of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--json", action="store_true")

    pr = command("predict", "classify PNG/JPEG images of digits")
    pr.add_argument("checkpoint")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--json", action="store_true")

    command("runs", "list the runs in the store")
    command("data", "prepare and verify the MNIST files")
    command("worker", "drain the queue of runs (started by the app)")
    c = command("cancel", "cancel a queued or running run")
    c.add_argument("run_id", type=int)
    command("presets", "list the presets")
    return p


def config_from_args(a):
    from digitlab.config import TrainConfig, validate
    from digitlab.presets import preset

    given = {f: getattr(a, f.lstrip("-").replace("-", "_")) for f in TRAIN_FLAGS}
    over = {TRAIN_FLAGS[f][0]: v for f, v in given.items() if v is not None}
    for name in ("hidden", "channels", "nesterov", "shuffle"):
        if getattr(a, name) is not None:
            over[name] = getattr(a, name)
    c = preset(a.preset, **over) if a.preset else TrainConfig(**over)
    return validate(c)


def cmd_train(a) -> int:
    from tqdm import tqdm

    from digitlab import data, jobs
    from digitlab.config import TrainConfig
    from digitlab.store import Store
    from digitlab.train import resolve_device

    if a.save and not a.save.endswith(".pt"):
        raise UserError(f"--save needs a path ending in .pt, got {a.save}.")
    if a.run_id is not None:
        store = Store(a.runs)
        run = store.get(a.run_id)
        if run["status"] != "queued":
            raise UserError(f"Run {a.run_id} is {run['status']}, not queued: launch a new run instead.")
        config = TrainConfig.from_dict(run["config"])
    else:
        config = config_from_args(a)
    resolve_device(config.device)  # before the run exists: bad input or missing data leaves no run behind
    data.prepare(a.data)
    store = Store(a.runs)
    if a.run_id is None:
        run_id = store.create(config, pid=os.getpid())
    else:
        run_id = a.run_id
        store.start(run_id, os.getpid())

    bar = None

    def on_event(event, info):
        nonlocal bar
        if event == "start":
            tqdm.write(f"run {run_id}: {config.display_name()} on {info['device']}, {info['num_params']:,} parameters",
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
        run = jobs.execute(store, run_id, a.data, on_event)
    finally:
        if bar is not None:
            bar.close()
    if a.save and run["checkpoint"]:
        _ship(run, a.save, a.argv)
    out = dict(run_id=run_id, status=run["status"], best_val_acc=run["best_val_acc"], test_acc=run["test_acc"],
               best_epoch=run["best_epoch"], epochs=len(store.epochs(run_id)), train_seconds=run["train_seconds"],
               device=run["device"], checkpoint=a.save or run["checkpoint"])
    if a.json:
        print(json.dumps(out))
    else:
        print(f"run {run_id} {run['status']}: best val acc {run['best_val_acc']:.4f} (epoch {run['best_epoch']}), "
              f"test acc {run['test_acc']:.4f}, {run['train_seconds']:.1f}s of training -> {out['checkpoint']}")
    return 0


def _ship(run: dict, dest: str, argv: list[str]) -> None:
    """Copy a run's best checkpoint to dest and write its card (dest with .json)."""
    from digitlab.data import MD5
    import torch

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(run["checkpoint"], tmp)
    tmp.replace(dest)
    card = dict(command="python -m digitlab " + shlex.join(argv), seed=run["config"]["seed"],
                config=run["config"], data_md5=MD5, test_acc=run["test_acc"], best_val_acc=run["best_val_acc"],
                best_epoch=run["best_epoch"], train_seconds=round(run["train_seconds"], 2),
                num_params=run["num_params"], device=run["device"], torch=torch.__version__,
                trained=time.strftime("%Y-%m-%d", time.gmtime(run["finished"])))
    dest.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")


def cmd_eval(a) -> int:
    from digitlab import checkpoint, data, evaluation

    ck = checkpoint.load(a.checkpoint)
    r = evaluation.evaluate_test(ck, data.load(a.data))
    if a.json:
        print(json.dumps({k: v for k, v in r.items() if k not in ("y_true", "y_pred", "probs")}))
        return 0
    print(f"{a.checkpoint}: test acc {r['test_acc']:.4f}  loss {r['test_loss']:.4f}  macro F1 {r['macro_f1']:.4f}")
    print(f"{'digit':>6} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
    for row in r["per_class"]:
        print(f"{row['digit']:>6} {row['precision']:>9.4f} {row['recall']:>7.4f} {row['f1']:>7.4f} {row['support']:>8}")
    return 0


def cmd_predict(a) -> int:
    from digitlab import checkpoint, preprocess

    ck = checkpoint.load(a.checkpoint)
    images = [preprocess.read_image(p) for p in a.images]  # all readable before any output
    for path, img in zip(a.images, images):
        x = preprocess.to_mnist(img)
        if x is None:
            res = dict(image=path, digit=None, probabilities=None)
            line = f"{path}: nothing drawn"
        else:
            p = ck.predict_proba(x[None])[0]
            res = dict(image=path, digit=int(p.argmax()), probabilities=[round(float(v), 6) for v in p])
            line = f"{path}: {res['digit']} ({p.max():.1%})  " + " ".join(f"{k}:{v:.2f}" for k, v in enumerate(p))
        print(json.dumps(res) if a.json else line)
    return 0


def cmd_runs(a) -> int:
    from digitlab.store import Store

    store = Store(a.runs)
    store.reap()
    runs = store.runs()
    if not runs:
        print("no runs yet: train one with `python -m digitlab train --preset fast`")
        return 0
    print(f"{'id':>4}  {'status':<9} {'name':<28} {'best val':>8} {'test':>7} {'seconds':>8}")
    for r in runs:
        fmt = lambda v, spec: format(v, spec) if v is not None else "-"  # noqa: E731
        print(f"{r['id']:>4}  {r['status']:<9} {r['name'][:28]:<28} {fmt(r['best_val_acc'], '8.4f'):>8} "
              f"{fmt(r['test_acc'], '7.4f'):>7} {fmt(r['train_seconds'], '8.1f'):>8}")
    return 0


def cmd_data(a) -> int:
    from digitlab import data

    root = data.prepare(a.data, report=lambda m: print(m, file=sys.stderr))
    ok = data.verify(a.data)
    for name, good in ok.items():
        print(f"{name:<26} {data.md5(root / name)}  {'OK' if good else 'MISMATCH'}")
    print(f"MNIST ready in {root}")
    return 0 if all(ok.values()) else 1


def cmd_worker(a) -> int:
    from digitlab import jobs
    from digitlab.store import Store

    jobs.work(Store(a.runs), a.data)
    return 0


def cmd_cancel(a) -> int:
    from digitlab.store import Store

    store = Store(a.runs)
    store.request_cancel(a.run_id)
    print(f"run {a.run_id}: {store.get(a.run_id)['status']}, cancel requested")
    return 0


def cmd_presets(a) -> int:
    from digitlab.presets import PRESETS

    for name, p in PRESETS.items():
        print(f"{name:<18} " + " ".join(f"{k}={v}" for k, v in p.items()))
    return 0


def main(argv=None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        a = build_parser().parse_args(argv)
        a.argv = argv
        a.runs, a.data = getattr(a, "runs", None), getattr(a, "data", None)
        return globals()[f"cmd_{a.command}"](a)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
