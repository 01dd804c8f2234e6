"""The digitlab command (also `python -m digitlab`): train, eval, predict, runs, cancel, data, worker, presets, ship."""

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from digitlab import UserError


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one sentence, no usage dump
        cmd = " ".join(self.prog.split()[1:])
        raise UserError(f"{message[0].upper()}{message[1:]}: see `digitlab {cmd + ' ' if cmd else ''}--help`.")


def _version() -> str:
    try:
        return version("digitlab")
    except PackageNotFoundError:
        return "unknown (not installed: run scripts/setup)"


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig setting, with the help, choices and default its Spec declares."""
    from digitlab.config import DEFAULTS, NAMES, kind, range_text, spec

    for name in NAMES:
        s, k, default = spec(name), kind(name), getattr(DEFAULTS, name)
        flags = [f"--{name.replace('_', '-')}", *s.aliases]
        allowed = f"one of {', '.join(s.choices)}" if s.choices else range_text(s)
        shown = " ".join(map(str, default)) if k is list else default
        help_ = f"{s.help} ({allowed + '; ' if allowed else ''}default: {shown!r})".replace("%", "%%")
        if k is bool:
            parser.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_)
        elif k is list:
            parser.add_argument(*flags, dest=name, type=int, nargs="+", metavar="N", help=help_)
        else:
            parser.add_argument(*flags, dest=name, type=k, help=help_)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)  # accepted before or after the command
    common.add_argument("--runs", default=argparse.SUPPRESS, help="runs folder (default $DIGITLAB_RUNS or ./runs)")
    common.add_argument("--data", default=argparse.SUPPRESS, help="data root (default $DIGITLAB_DATA or ./data)")
    common.add_argument("--settings", default=argparse.SUPPRESS,
                        help="server settings file, TOML: limits, worker slots, class mode (default $DIGITLAB_SETTINGS)")
    common.add_argument("--ray", default=argparse.SUPPRESS, metavar="HOST:PORT",
                        help="train queued runs and sweep trials on this Ray cluster (default $DIGITLAB_RAY_ADDRESS, "
                             "else [cluster] address in the settings)")
    p = Parser(prog="digitlab", description="Train, evaluate and use MNIST digit classifiers.", parents=[common])
    p.add_argument("--version", action="version", version=f"digitlab {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[common])

    t = command("train", "train a model and store the run")
    t.add_argument("--preset", help="start from a named recipe (`digitlab presets`); flags given beside it override it")
    add_train_flags(t)
    t.add_argument("--save", help="also copy the best checkpoint here (.pt), with a JSON card beside it")
    t.add_argument("--pin", action="append", default=[], metavar="IMAGE",
                   help="a PNG/JPEG of a digit to score every 50 steps and after every epoch, to watch it being "
                        "learned (up to 8; the app's Runs page shows them)")
    t.add_argument("--json", action="store_true", help="print a JSON summary as the last line")

    f = command("lr-find", "a learning-rate range test for a configuration: loss against an exponentially growing "
                           "learning rate, and the rate it suggests")
    f.add_argument("--preset", help="start from a named recipe; flags given beside it override it")
    add_train_flags(f)
    f.add_argument("--steps", type=int, default=100, help="training steps of the test (10 to 1000; default 100)")
    f.add_argument("--json", action="store_true", help="print the curve and the suggestion as one JSON line")

    e = command("eval", "test accuracy, loss, macro F1 and per-class metrics of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--digits", metavar="EXPORT.zip", help="score on digits exported from the My digits page (or any zip "
                                                          "of an IDX pair of 28x28 digits) instead of MNIST's test set")
    e.add_argument("--json", action="store_true")

    pr = command("predict", "classify PNG/JPEG images of digits")
    pr.add_argument("checkpoint")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--json", action="store_true")

    w = command("sweep", "search hyperparameters with Optuna: every trial is a run in the store; prints the best")
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
    x = command("export", "a run as plain PyTorch: a script or a notebook that trains the same model the same way")
    x.add_argument("run", nargs="?", type=int, help="the run's number (`digitlab runs`)")
    x.add_argument("--preset", help="a preset instead of a run (`digitlab presets`)")
    x.add_argument("--script", metavar="FILE.py", help="write a Python script here")
    x.add_argument("--notebook", metavar="FILE.ipynb", help="write a Jupyter notebook here")
    o = command("report", "the report of some runs to hand in: curves, the course's summary, confusion matrices, "
                          "per-class metrics, mistakes, commands and code, in one HTML file or a PDF")
    o.add_argument("run_ids", nargs="+", type=int, metavar="RUN", help="the runs' numbers (`digitlab runs`)")
    o.add_argument("-o", "--output", required=True, metavar="FILE", help="report.html, or report.pdf (needs Chromium)")
    ls = command("lessons", "the course as lessons: list them, show one, launch its runs, answer its questions")
    ls.add_argument("lesson", nargs="?", type=int, help="a lesson's number (none: list them with your progress)")
    ls.add_argument("--launch", action="store_true", help="queue the lesson's runs (the app's workers train them)")
    ls.add_argument("--answer", action="append", default=[], metavar="QUESTION=ANSWER",
                    help="answer a question (its id, shown with the lesson): checked against your runs")
    command("sweeps", "list the sweeps in the store")
    command("runs", "list the runs in the store")
    command("cancel", "cancel a queued or running run").add_argument("run_id", type=int)
    command("data", "prepare and verify the MNIST files")
    command("worker", "drain the queue of runs in one slot (the supervisor starts it)").add_argument(
        "--slot", type=int, default=0, help="the worker slot to hold (default 0)")
    command("supervise", "keep the queue moving without the app: reap dead workers, fill the slots, back up the store")
    command("restore", "put the newest backup (or BACKUP) in place of a damaged run store").add_argument(
        "backup", nargs="?", help="a file in the runs folder's backups/ (default: the newest)")
    command("presets", "list the presets")
    g = command("gate", "train the gate that tells a drawing that is no digit (the Draw page's \"not a digit?\")")
    g.add_argument("--save", default=None, help="where to write it (default: the shipped checkpoints/gate/gate.pt)")
    g.add_argument("--epochs", type=int, default=5, help="passes over its data (1 to 50; default 5)")
    g.add_argument("--per-kind", type=int, default=2500, help="drawings of each kind of non-digit (100 to 20000)")
    g.add_argument("--seed", type=int, default=0)
    s = command("ship", "retrain a shipped checkpoint from the command on its card, and rewrite the card")
    s.add_argument("name", help="a shipped model, such as mlp-default")
    s.add_argument("--checkpoints", help="the folder of shipped checkpoints (default: the project's checkpoints/)")
    s.add_argument("--dry-run", action="store_true", help="print the command it would run, train nothing")
    s.epilog = "Any train flag given beside NAME (say --device cpu) overrides the card's and is recorded on the new card."
    r = command("roster", "the people of a class: add one, reset a password, remove one, list them")
    r.add_argument("action", choices=("add", "reset", "remove", "list"))
    r.add_argument("name", nargs="?", help="a name: 1 to 32 lowercase letters, digits, '.', '_' or '-'")
    r.add_argument("--role", choices=("student", "teacher"), help="with add: the person's role")
    r.add_argument("--roster", help="the roster file (default: classroom.roster in the settings)")
    r.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    r.add_argument("--email", help="with add or reset: the address a school account signs them in with")
    r.add_argument("--no-password", action="store_true", help="with add: no password (a school account only)")
    v = command("serve", "start the app (class mode when the settings say so) on the address the settings give")
    v.add_argument("--port", type=int, default=8501)
    return p


def config_from_args(a):
    from digitlab.config import NAMES, TrainConfig, validate
    from digitlab.presets import preset

    given = {name: getattr(a, name) for name in NAMES if getattr(a, name) is not None}
    return validate(preset(a.preset, **given) if a.preset else TrainConfig(**given))


def cmd_train(a) -> int:
    from tqdm import tqdm

    from digitlab import admission, checkpoint, data, health
    from digitlab.runner import execution
    from digitlab.store import Store, runs_root

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
    flagged = run["health"]
    if a.save and run["checkpoint"] and not flagged:
        checkpoint.publish(run, a.save, a.argv)
    out = dict(run_id=run_id, status=str(run["status"]), health=flagged, best_val_acc=run["best_val_acc"],
               test_acc=run["test_acc"], best_epoch=run["best_epoch"], epochs=len(store.epochs(run_id)),
               train_seconds=run["train_seconds"], device=run["device"],
               checkpoint=a.save if a.save and not flagged else run["checkpoint"])
    if flagged:
        print(f"run {run_id} {flagged['flag']}: {flagged['reason']} {flagged['hint']}"
              + (f" Not saved to {a.save}." if a.save else ""), file=sys.stderr)
    if a.json:
        print(json.dumps(out))
    elif run["best_val_acc"] is None:
        print(f"run {run_id} {health.state(run)}: no epoch finished, no checkpoint kept")
    else:
        print(f"run {run_id} {run['status']}: best val acc {run['best_val_acc']:.4f} (epoch {run['best_epoch']}), "
              f"test acc {run['test_acc']:.4f}, {run['train_seconds']:.1f}s of training -> {out['checkpoint']}")
    return 0


def pinned_images(paths: list[str]) -> list:
    """--pin files as pins, every one read (and checked like an upload) before anything else happens."""
    from digitlab import admission, preprocess
    from digitlab.store import MAX_PINS

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
    from digitlab import cost, data, devices, lrfind, settings

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
    import time

    from digitlab import data, sweep
    from digitlab.config import NAMES
    from digitlab.runner import cluster, workers
    from digitlab.store import Store

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
    spec = sweep.from_parts(parts)
    data.prepare(a.data, create=a.data is None)
    store = Store(a.runs)
    sweep_id = sweep.start(store, spec, data_root=a.data)
    searched = "; ".join(sweep.describe(p) for p in spec.params)
    print(f"sweep {sweep_id}: {spec.name}: {spec.trials} trials ({spec.sampler}{', pruned' if spec.prune else ''}) "
          f"of {searched}", file=sys.stderr)
    if a.queue:
        print("queued: the app's workers run its trials (`digitlab supervise` without the app)", file=sys.stderr)
        return 0
    told = set()
    remote = cluster.Ray(store, a.data) if cluster.address() else None  # trials go to the Ray cluster
    while True:
        sweep.advance(store, sweep_id, a.data)
        for run in store.sweep_runs(sweep_id):
            if not run["status"].active and run["id"] not in told:
                told.add(run["id"])
                acc = f"val {run['best_val_acc']:.4f}" if run["best_val_acc"] is not None else "no epoch"
                print(f"  trial {run['trial']:>2} (run {run['id']}): {run['status']}, {acc}"
                      + (f" · {run['error']}" if run["error"] else ""), file=sys.stderr)
        if store.get_sweep(sweep_id)["status"] != "running":
            break
        if remote is not None:
            remote.tick()
            time.sleep(0.5)
        elif not workers.work(store, a.data):  # another worker (the app's) holds the slot: it trains them
            time.sleep(0.5)
    spec, rows, _ = sweep.results(store, sweep_id)
    if a.json:
        print(json.dumps({"sweep": sweep_id, "trials": rows}))
        return 0
    best = next((r for r in rows if r["val acc"] is not None), None)
    if best is None:
        print(f"sweep {sweep_id}: no trial finished an epoch")
        return 0
    params = ", ".join(f"{p.name}={best[p.name]:.3g}" if isinstance(best[p.name], float) else f"{p.name}={best[p.name]}"
                       for p in spec.params)
    print(f"sweep {sweep_id}: best trial {best['trial']} (run {best['run']}): val acc {best['val acc']:.4f}, "
          f"test acc {best['test acc']:.4f} with {params}")
    return 0


def cmd_sweeps(a) -> int:
    from digitlab.store import Store

    store = Store(a.runs)
    for row in store.sweeps():
        runs = store.sweep_runs(row["id"])
        best = max((r["best_val_acc"] for r in runs if r["best_val_acc"] is not None), default=None)
        print(f"{row['id']:>3}  {row['status']:<9}  {len(runs):>2} of {row['spec']['trials']:>2} trials  "
              f"best val {'-' if best is None else f'{best:.4f}'}  {row['name']}")
    return 0


def cmd_ship(a) -> int:
    from digitlab import checkpoint

    folder = Path(a.checkpoints) if a.checkpoints else checkpoint.SHIPPED
    path = (folder / f"{a.name}.pt").resolve()
    argv = checkpoint.card_argv(checkpoint.read_card(path))
    kept = []  # the card's own --save and --json give way to this checkpoint and a summary line
    for word in argv:
        if kept and kept[-1] == "--save":
            kept.pop()
        elif word != "--json":
            kept.append(word)
    try:
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    kept += a.overrides
    card_argv = [*kept, "--save", shown]
    if a.dry_run:
        print("digitlab " + shlex.join(card_argv))
        return 0
    t = build_parser().parse_args([*kept, "--save", str(path), "--json"])
    t.argv, t.runs, t.data = card_argv, a.runs, a.data  # the card records the command as a person would type it
    return cmd_train(t)


def cmd_eval(a) -> int:
    from digitlab import checkpoint, data, evaluation, handwriting, settings

    ck = checkpoint.load(a.checkpoint)
    if a.digits:
        path = Path(a.digits)
        if not path.is_file():
            raise UserError(f"No file at {a.digits}: give a zip exported from the My digits page.")
        with path.open("rb") as f:  # no more than the limit and a byte: read_zip refuses a zip over it
            items = handwriting.read_zip(f.read(int(settings.current().limits.digits_zip_mb * 2**20) + 1))
        x, y = handwriting.arrays([{"seen": seen, "label": label} for label, _, seen in items])
        r, scored = evaluation.evaluate(ck, x, y), f"{len(y)} digits of {path.name}"
    else:
        r, scored = evaluation.evaluate_checkpoint(ck, data.load(a.data)), "MNIST's test set"
    if a.json:
        print(json.dumps({k: v for k, v in r.items() if k not in ("y_true", "y_pred", "probs")}))
        return 0
    print(f"{a.checkpoint} on {scored}: acc {r['test_acc']:.4f}  loss {r['test_loss']:.4f}  "
          f"macro F1 {r['macro_f1']:.4f}")
    print(f"{'digit':>6} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
    for row in r["per_class"]:
        print(f"{row['digit']:>6} {row['precision']:>9.4f} {row['recall']:>7.4f} {row['f1']:>7.4f} {row['support']:>8}")
    return 0


def cmd_predict(a) -> int:
    from digitlab import answers, checkpoint, gate, preprocess

    ck = checkpoint.load(a.checkpoint)
    images = [preprocess.read_image(p) for p in a.images]  # all readable before any output
    for path, img in zip(a.images, images):
        x = preprocess.to_mnist(img)
        if x is None:
            res = dict(image=path, digit=None, answer="nothing drawn", probabilities=None)
            line = f"{path}: nothing drawn"
        else:
            p = ck.predict_proba(x[None])[0]
            said = answers.reading(p, small=preprocess.too_small(img), other=gate.not_a_digit(x))
            res = dict(image=path, digit=int(p.argmax()), answer=said["headline"],
                       probabilities=[round(float(v), 6) for v in p])
            line = (f"{path}: {said['headline']} ({said['detail']})  "
                    + " ".join(f"{k}:{v:.2f}" for k, v in enumerate(p)))
        print(json.dumps(res) if a.json else line)
    return 0


def cmd_export(a) -> int:
    from digitlab import export
    from digitlab.files import write_atomically
    from digitlab.presets import preset
    from digitlab.store import Store

    if (a.run is None) == (a.preset is None):
        raise UserError("Name one run (its number) or one --preset to export.")
    if not a.script and not a.notebook:
        raise UserError("Say where it goes: --script FILE.py, --notebook FILE.ipynb, or both.")
    made = export.of_run(Store(a.runs).get(a.run)) if a.run is not None else \
        dict(config=preset(a.preset), title=f"the {a.preset} preset", checkpoint=f"{a.preset}.pt")
    texts = {path: export.text(path, **made) for path in (a.script, a.notebook) if path}  # both, or neither
    for path, content in texts.items():
        write_atomically(Path(path), lambda f, content=content: f.write(content.encode()))
        print(f"wrote {path}")
    for line in export.left_out(made["config"]):
        print(f"left out: {line}")
    return 0


def cmd_report(a) -> int:
    from digitlab import report
    from digitlab.store import Store

    path = report.save(Store(a.runs), a.run_ids, a.output, root=a.data)
    print(f"wrote {path}")
    return 0


def cmd_lessons(a) -> int:
    from digitlab import admission, data, lessons
    from digitlab.presets import preset
    from digitlab.store import Store

    store, shipped = Store(a.runs), lessons.all_lessons()
    given = {(x["lesson"], x["question"]): x for x in store.answers("")}
    if a.lesson is None:
        for lesson in shipped:
            right = sum(given.get((lesson.id, q.id), {}).get("correct", False) for q in lesson.questions)
            print(f"{lesson.number}. {lesson.title:28s} {right}/{len(lesson.questions)} answered right"
                  + (" · done" if right == len(lesson.questions) else ""))
        return 0
    lesson = next((x for x in shipped if x.number == a.lesson), None)
    if lesson is None:
        raise UserError(f"There is no lesson {a.lesson}: choose one of 1 to {len(shipped)} (`digitlab lessons`).")
    if a.launch:
        if not lesson.launch:
            raise UserError(f"Lesson {lesson.number} has no runs to launch: {lesson.title} is done on its page.")
        ids = admission.queue(store, [preset(name) for name in lesson.launch], a.data)
        print(f"queued runs {', '.join(map(str, ids))} ({', '.join(lesson.launch)}): `digitlab worker` or the app "
              "trains them")
        return 0
    wanted = dict(x.split("=", 1) if "=" in x else (x, "") for x in a.answer)
    by_id = {q.id: q for q in lesson.questions}
    unknown = [k for k in wanted if k not in by_id]
    if unknown:
        raise UserError(f"Lesson {lesson.number} has no question {unknown[0]!r}: its questions are "
                        f"{', '.join(by_id)}.")
    if not wanted:
        print(f"{lesson.number}. {lesson.title}\n\n{lesson.text.strip()}\n\nWatch: {lesson.watch.strip()}")
        if lesson.course:
            print(lesson.course)
        if lesson.launch:
            print(f"Runs: {', '.join(lesson.launch)} (`digitlab lessons {lesson.number} --launch`)")
        for q in lesson.questions:
            said = given.get((lesson.id, q.id))
            choices = f" [{' | '.join(q.choices.values())}]" if q.kind == "choice" else ""
            print(f"  {q.id}: {q.ask}{choices}" + (f"  (you: {said['answer']}, "
                                                     f"{'right' if said['correct'] else 'wrong'})" if said else ""))
        missing = lessons.missing_runs(lesson, store, None)
        if missing:
            print(f"Launch first: {', '.join(missing)}")
        return 0
    for qid, answer in wanted.items():
        q = by_id[qid]
        value = lessons.clean(q, answer)
        try:
            marked = lessons.mark(q, value, store, None, mnist=lambda: data.load(a.data))
        except lessons.Missing as e:
            raise UserError(f"Question {qid} reads runs you have not finished: launch {', '.join(e.presets)} "
                            f"(`digitlab lessons {lesson.number} --launch`).") from None
        store.record_answer("", lesson.id, qid, value, marked.correct)
        print(f"{qid}: {'right' if marked.correct else 'not quite'}: {marked.expected}. {marked.reason}")
    return 0


def cmd_gate(a) -> int:
    from digitlab import gate

    if not 1 <= a.epochs <= 50 or not 100 <= a.per_kind <= 20000:
        raise UserError("The gate takes --epochs from 1 to 50 and --per-kind from 100 to 20000: choose within them.")
    start = time.perf_counter()
    made = gate.build(per_kind=a.per_kind, epochs=a.epochs, seed=a.seed, report=lambda line: print(line, flush=True))
    made.card.update(command=shlex.join(["digitlab", *sys.argv[1:]]), seconds=round(time.perf_counter() - start))
    path = gate.save(made, a.save or gate.SHIPPED)
    print(f"saved {path}: flags a drawing when P(not a digit) > {made.threshold:.4f}, set on {made.card['calibrated_on']}")
    return 0


def cmd_runs(a) -> int:
    from digitlab import health
    from digitlab.store import Store

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
        print(f"{r['id']:>4}  {health.state(r):<12} {r['name'][:28]:<28} {fmt(r['best_val_acc'], '8.4f'):>8} "
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
    import torch

    from digitlab.runner import workers
    from digitlab.store import Store

    os.nice(workers.WORKER_NICE)  # training takes the CPU time that the app's answers leave
    torch.set_num_threads(workers.worker_threads())
    workers.work(Store(a.runs), a.data, a.slot)
    return 0


def cmd_supervise(a) -> int:
    from digitlab.runner.supervisor import Supervisor
    from digitlab.store import Store

    sup = Supervisor(Store(a.runs), a.data)
    if not sup.acting():
        raise UserError(f"A supervisor already keeps the run store in {sup.store.root}: stop it first.")
    print(f"supervising {sup.store.root} with {sup.slots} slot(s) ({type(sup.executor).__name__.lower()}); Ctrl-C stops",
          file=sys.stderr)
    sup.run()
    return 0


def cmd_restore(a) -> int:
    from digitlab.store import Store, runs_root

    used = Store.restore(a.runs, a.backup)
    print(f"restored {runs_root(a.runs) / 'runs.db'} from {used}; the damaged file is kept beside it")
    return 0


def cmd_cancel(a) -> int:
    from digitlab.store import Store

    store = Store(a.runs)
    store.get(a.run_id)  # no such run: one sentence
    store.request_cancel(a.run_id)
    print(f"run {a.run_id}: {store.get(a.run_id)['status']}, cancel requested")
    return 0


def cmd_roster(a) -> int:
    import getpass

    from digitlab import roster, settings

    path = a.roster or settings.current().classroom.roster
    if not path:
        raise UserError("No roster file: give --roster PATH, or set classroom.roster in the settings file.")
    if a.action == "list":
        for person in roster.load(path).values():
            print(f"{person.name:<32} {person.role:<8} {person.email}".rstrip())
        return 0
    if not a.name:
        raise UserError(f"`digitlab roster {a.action}` needs a NAME.")
    if a.action == "remove":
        roster.remove(path, a.name)
        print(f"{a.name} removed from {path}")
        return 0
    if a.action == "add" and not a.role:
        raise UserError("`digitlab roster add` needs --role student or --role teacher.")
    if a.no_password:
        password = None
    elif a.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {a.name}: ")
        if getpass.getpass("again: ") != password:
            raise UserError("The two passwords differ: run the command again.")
    person = roster.set_password(path, a.name, password, a.role, a.email)
    what = "added to" if a.action == "add" else "has a new password in" if password else "changed in"
    print(f"{person.name} ({person.role}{', ' + person.email if person.email else ''}) {what} {path}")
    return 0


def cmd_serve(a) -> int:
    import subprocess

    from digitlab import checkpoint, settings
    from digitlab.runner.supervisor import Supervisor
    from digitlab.store import Store

    s = settings.current()
    address = s.classroom.address if s.classroom.enabled else "localhost"
    flags = []
    if s.classroom.enabled:
        flags = _class_flags(s, a.port)
        os.umask(0o077)  # the run store, checkpoints and digits it writes: readable by this user only, as the roster
    store = Store(a.runs)
    env = {**os.environ, "DIGITLAB_RUNS": str(store.root)}
    if a.data:
        env["DIGITLAB_DATA"] = str(Path(a.data).resolve())
    # The supervisor lives here, from the start, whether or not anybody opens a page; the app's own stands by.
    Supervisor(store, a.data).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the app with us, not leave it behind
    script = "server_app.py" if s.classroom.enabled else "streamlit_app.py"  # class mode: with our session routes
    app = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(checkpoint.PROJECT / script),
                            "--server.address", address, "--server.port", str(a.port), *flags],
                           cwd=checkpoint.PROJECT, env=env)
    try:
        return app.wait()
    finally:
        if app.poll() is None:
            app.terminate()
            app.wait(10)


def _class_flags(s, port: int) -> list[str]:
    """Class mode's checks before it listens, and Streamlit's flags for HTTPS: the teacher's certificate, or one
    made beside the settings; its fingerprint printed for students to check. Plain HTTP only when the settings say."""
    import socket

    from digitlab import roster, sessions, settings, tls

    if not roster.load(s.classroom.roster):
        raise UserError(f"The roster {s.classroom.roster} has nobody in it: add a teacher with "
                        "`digitlab roster add NAME --role teacher`.")
    sessions.secret(settings.secret_file(s, "secret"))  # made now, or refused now if others may read it
    if s.classroom.plain_http:
        print("WARNING: class mode without encryption (classroom.plain_http = true): passwords and sessions cross "
              "the network in clear. Use it only behind a proxy that serves HTTPS.", file=sys.stderr)
        return []
    cert_path, key_path, own = tls.of_class(s)
    cert, made = tls.ensure(cert_path, key_path, own)
    print(f"HTTPS with {'a new certificate made for' if made else 'the certificate for'} {', '.join(tls.hosts(cert))}\n"
          f"  {cert_path}\n  SHA-256 fingerprint {tls.fingerprint(cert)}\n"
          f"  students open https://{socket.gethostname()}:{port} and check that their browser shows this "
          "fingerprint before they accept the certificate", flush=True)
    return ["--server.sslCertFile", str(cert_path), "--server.sslKeyFile", str(key_path)]


def cmd_presets(a) -> int:
    from digitlab.presets import PRESETS

    for name, p in PRESETS.items():
        print(f"{name:<18} " + " ".join(f"{k}={v}" for k, v in p.items()))
    return 0


def main(argv=None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        parser = build_parser()
        a, a.overrides = parser.parse_known_args(argv)
        if a.overrides and a.command != "ship":
            parser.error(f"unrecognized arguments: {' '.join(a.overrides)}")
        a.argv = argv
        a.runs, a.data = getattr(a, "runs", None), getattr(a, "data", None)
        if getattr(a, "ray", None):
            os.environ["DIGITLAB_RAY_ADDRESS"] = a.ray  # for this process and the supervisor it starts
        if getattr(a, "settings", None):
            from digitlab import settings

            os.environ[settings.ENV] = str(Path(a.settings).resolve())  # for this process and its workers
            settings.current()  # a bad file is one sentence now, not later
        return globals()[f"cmd_{a.command.replace('-', '_')}"](a)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `digitlab runs | head`: the reader has gone, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
