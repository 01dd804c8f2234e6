"""Commands for models: eval, predict, and the shipped ones made again (ship, gate)."""

import json
import shlex
import sys
import time
from pathlib import Path

from digitlab import UserError


def add(command) -> None:
    e = command("eval", "test accuracy, loss, macro F1 and per-class metrics of a checkpoint", cmd_eval)
    e.add_argument("checkpoint")
    e.add_argument("--digits", metavar="EXPORT.zip", help="score on digits exported from the My digits page (or any zip "
                                                          "of an IDX pair of 28x28 digits) instead of MNIST's test set")
    e.add_argument("--json", action="store_true")

    pr = command("predict", "classify PNG/JPEG images of digits", cmd_predict)
    pr.add_argument("checkpoint")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--json", action="store_true")

    g = command("gate", "train the gate that tells a drawing that is no digit (the Draw page's \"not a digit?\")",
                cmd_gate)
    g.add_argument("--save", default=None, help="where to write it (default: the shipped checkpoints/gate/gate.pt)")
    g.add_argument("--epochs", type=int, default=5, help="passes over its data (1 to 50; default 5)")
    g.add_argument("--per-kind", type=int, default=2500, help="drawings of each kind of non-digit (100 to 20000)")
    g.add_argument("--seed", type=int, default=0)
    s = command("ship", "retrain a shipped checkpoint from the command on its card, and rewrite the card", cmd_ship)
    s.add_argument("name", help="a shipped model, such as mlp-default")
    s.add_argument("--checkpoints", help="the folder of shipped checkpoints (default: the project's checkpoints/)")
    s.add_argument("--dry-run", action="store_true", help="print the command it would run, train nothing")
    s.epilog = "Any train flag given beside NAME (say --device cpu) overrides the card's and is recorded on the new card."


def cmd_eval(a) -> int:
    from digitlab import settings
    from digitlab.datasets import data, handwriting
    from digitlab.learn import checkpoint, evaluation

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
    from digitlab.drawing import answers, gate, preprocess
    from digitlab.learn import checkpoint

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


def cmd_gate(a) -> int:
    from digitlab.drawing import gate

    if not 1 <= a.epochs <= 50 or not 100 <= a.per_kind <= 20000:
        raise UserError("The gate takes --epochs from 1 to 50 and --per-kind from 100 to 20000: choose within them.")
    start = time.perf_counter()
    made = gate.build(per_kind=a.per_kind, epochs=a.epochs, seed=a.seed, report=lambda line: print(line, flush=True))
    made.card.update(command=shlex.join(["digitlab", *sys.argv[1:]]), seconds=round(time.perf_counter() - start))
    path = gate.save(made, a.save or gate.SHIPPED)
    print(f"saved {path}: flags a drawing when P(not a digit) > {made.threshold:.4f}, set on {made.card['calibrated_on']}")
    return 0


def cmd_ship(a) -> int:
    from digitlab.learn import checkpoint
    from digitlab.cli import training
    from digitlab.cli.common import parser

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
    t = parser(training).parse_args([*kept, "--save", str(path), "--json"])
    t.argv, t.runs, t.data = card_argv, a.runs, a.data  # the card records the command as a person would type it
    return training.cmd_train(t)
