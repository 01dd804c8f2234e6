"""Lessons: the course as a guided path through the app. Each lesson is a TOML file in lessons/ (a teacher may edit
one or add one): what to do (the presets one click queues, the page and the controls it needs), what to watch, and
questions checked against the learner's own runs, read from the store. A question's answer comes from a named check
(CHECKS); only a question no run can decide (what the test set is for, say) carries its answer in the file.
"""

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitlab import UserError, settings
from digitlab.learn import metrics
from digitlab.learn.config import MNIST_TRAIN, NAMES, VAL_SIZE
from digitlab.learn.presets import COURSE, PRESETS, differences, preset
from digitlab.runs.store import Status, Store

FOLDER = Path(__file__).resolve().parents[2] / "lessons"
MAX_FILE = 64 * 1024   # bytes of one lesson file
MAX_ANSWER = 100       # characters of one answer a learner types
PAGES = ("data", "train", "runs", "draw", "digits", "inside")
KINDS = ("choice", "number")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass(frozen=True)
class Question:
    id: str
    ask: str
    kind: str                                   # choice (one of choices) or number
    check: str                                  # a name in CHECKS: what decides the answer
    choices: dict                               # choice: the value recorded -> what the learner reads
    presets: tuple                              # the runs it reads, by the preset they ran
    target: float                               # first_to_target, reached: the accuracy to reach (file: 0.97)
    split: str                                  # first_to_target: on which split (file: val)
    tolerance: float                            # number: how far an answer may be off (file: 0)
    answer: str                                 # fixed: the answer (no run decides it)
    why: str                                    # fixed: the reason shown after an answer
    hint: str = ""                              # what a first wrong answer is shown (default: its check's HINTS)


@dataclass(frozen=True)
class Lesson:
    id: str            # the file's stem, e.g. 3-optimizers
    number: int
    title: str
    page: str          # the page it works on
    text: str          # Markdown: what the lesson is about
    watch: str         # Markdown: what to look at while it trains
    launch: tuple      # presets one click queues (may be empty)
    controls: tuple    # Train settings the lesson uses (the rest stay hidden)
    course: str        # the course's own figures, to set beside the learner's
    questions: tuple
    splits: tuple = ("train", "val")  # the splits the lesson talks about: its link to Runs shows these
    measure: str = "val"               # the split its questions measure accuracy on (Runs' summary, from its link)


@dataclass(frozen=True)
class Expected:
    """What the learner's runs say the answer to a question is, and why."""
    expected: str      # the answer the learner's runs give (a choice's value, or a number as text)
    reason: str        # why, in figures from those runs
    tied: tuple = ()   # every answer the runs cannot tell apart from expected (a tie): each one is right


class Missing(UserError):
    """The runs a question reads are not there yet: which presets to launch, or to wait for while they train; a run
    of the same name with other settings is named with what differs (it does not decide the lesson's answers)."""

    def __init__(self, presets: list[str], training: list[str] = (), different: dict | None = None):
        todo = [p for p in presets if p not in training]
        said = [f"your {name} ran with {', '.join(what[:3])}, so it is not this lesson's run"
                for name, what in (different or {}).items() if name in todo]
        if training:
            said.append(f"{', '.join(training)} {'is' if len(training) == 1 else 'are'} still training: come back "
                        "when " + ("it finishes" if len(training) == 1 else "they finish"))
        if todo:
            said.append(f"launch {', '.join(todo)} first")
        super().__init__(f"Your runs do not answer this yet: {'; '.join(said)}.")
        self.presets, self.training = presets, list(training)


def _tied(values: dict, best) -> tuple:
    """Every key whose value equals best's: a tie accepts each of them."""
    return tuple(k for k, v in values.items() if v == values[best])


TEST_IMAGES = 10_000
# Two runs' train-validation gaps differ by more across seeds than their images alone explain: epochs-10 over seeds
# 1-4 ended with gaps of 1.24 to 1.70 points (a standard deviation of 0.20), so two runs' gaps, 2 x sqrt(2) x 0.20
GAP_SEEDS = 0.0056


def _spread(*parts: tuple[float, int]) -> float:
    """Two standard errors of a sum or difference of accuracies, each (accuracy, images it was measured on): how far
    apart two runs' figures fall from the images they were counted on alone, before any other luck of a run."""
    return 2 * float(np.sqrt(sum(a * (1 - a) / max(n, 1) for a, n in parts)))


def _close(q, values: dict, best, margin: dict, what: str) -> tuple[tuple, str]:
    """(every answer within the margin of best's value, what to say): a question decided by less than the spread of
    its measure is too close to call, and each answer inside it is right. margin: key -> its spread against best."""
    close = tuple(k for k, v in values.items() if k == best or abs(v - values[best]) < margin[k])
    if len(close) < 2:
        return close, ""
    gap = max(abs(values[k] - values[best]) for k in close) * 100
    spread = max(margin[k] for k in close if k != best) * 100
    return close, (f" Too close to call: {' and '.join(_label(q, k) for k in close)} differ by {gap:.2f} points, "
                   f"less than the {spread:.2f} points that two runs' {what} vary by (from the images they are counted "
                   "on, and from run to run), so each of them is right.")


def _tie_said(q, tied: tuple, what: str) -> str:
    return (f" A tie: {' and '.join(_label(q, k) for k in tied)} {what}, so each of them is right."
            if len(tied) > 1 else "")


def _right(q, values: dict, best, margin: dict, what: str, tie_what: str) -> tuple[tuple, str]:
    """(every answer that is right, what the reason adds): those tied with best, else those too close to call."""
    tied = _tied(values, best)
    if len(tied) > 1:
        return tied, _tie_said(q, tied, tie_what)
    return _close(q, values, best, margin, what)


# --- the checks: what the learner's runs say -------------------------------------------------------------------


def runs_by_preset(store: Store, owner: str | None, different: dict | None = None) -> dict[str, dict]:
    """The newest completed run of each preset of one owner (everyone's on a single-user machine) whose settings are
    the preset's (another seed or device still is: presets.differences); a run named after a preset with other
    settings (6 epochs of a 25-epoch lesson) never decides, and lands in different, {name: what differs}."""
    out = {}
    for run in store.runs(Status.COMPLETED, owner=owner):  # newest first
        name = run.config.get("name")
        if name not in PRESETS or name in out or run.best_val_acc is None:
            continue
        changed = differences(run.config, name)
        if not changed:
            out[name] = run
        elif different is not None:
            different.setdefault(name, changed)
    return out


def training(store: Store, owner: str | None) -> set[str]:
    """The presets of which one owner has a run still queued or training."""
    return {r.config.get("name") for r in store.runs(Status.QUEUED, Status.RUNNING, owner=owner)}


def _needed(q: Question, runs: dict, ctx: dict) -> list[dict]:
    missing = [p for p in q.presets if p not in runs]
    if missing:
        raise Missing(missing, [p for p in missing if p in ctx.get("training", ())], ctx.get("different"))
    return [runs[p] for p in q.presets]


def _label(q: Question, value: str) -> str:
    return q.choices.get(value, value)


SPLITS = {"train": "training", "val": "validation", "test": "test"}


def _first_to_target(q, store, runs, ctx) -> Expected:
    firsts = {}
    for name, run in zip(q.presets, _needed(q, runs, ctx)):
        accs = [e[f"{q.split}_acc"] for e in store.epochs(run.id)]
        firsts[name] = metrics.first_epoch_reaching(accs, q.target)
    reached = {k: v for k, v in firsts.items() if v is not None}
    said = "; ".join(f"{_label(q, k)} at epoch {v}" if v else f"{_label(q, k)} never" for k, v in firsts.items())
    if not reached:
        return Expected("none", f"In your runs none reached {q.target:.0%} {SPLITS[q.split]} accuracy ({said}).")
    first = min(reached, key=lambda k: (reached[k], q.presets.index(k)))
    tied = _tied(reached, first)
    return Expected(first, f"In your runs {SPLITS[q.split]} accuracy first reached {q.target:.0%}: {said}."
                           + _tie_said(q, tied, f"reached it at epoch {reached[first]}"), tied)


def _best_checkpoint(q, store, runs, ctx) -> Expected:
    accs = {name: run.test_acc for name, run in zip(q.presets, _needed(q, runs, ctx))}
    best = max(accs, key=lambda k: accs[k])
    said = "; ".join(f"{_label(q, k)} {v:.2%}" for k, v in accs.items())
    margin = {k: _spread((accs[k], TEST_IMAGES), (accs[best], TEST_IMAGES)) for k in accs}
    right, note = _right(q, accs, best, margin, "test accuracies", f"scored {accs[best]:.2%}")
    return Expected(best, f"The test accuracy of each run's kept checkpoint (its best validation epoch): {said}."
                          + note, right)


def _reached(q, store, runs, ctx) -> Expected:
    (run,) = _needed(q, runs, ctx)
    yes = run.test_acc >= q.target
    return Expected("yes" if yes else "no", f"Your run's kept checkpoint scored {run.test_acc:.2%} on the test set, "
                                           f"{'at or above' if yes else 'below'} {q.target:.2%}.")


def _largest_gap(q, store, runs, ctx) -> Expected:
    gaps, parts = {}, {}
    for name, run in zip(q.presets, _needed(q, runs, ctx)):
        last = store.epochs(run.id)[-1]
        gaps[name] = last["train_acc"] - last["val_acc"]
        val = run.config.get("val_size", VAL_SIZE)
        parts[name] = ((last["train_acc"], MNIST_TRAIN - val), (last["val_acc"], val))
    worst = max(gaps, key=lambda k: gaps[k])
    said = "; ".join(f"{_label(q, k)} {v * 100:+.2f} points" for k, v in gaps.items())
    margin = {k: max(GAP_SEEDS, _spread(*parts[k], *parts[worst])) for k in gaps}
    right, note = _right(q, gaps, worst, margin, "gaps", "share the largest gap")
    return Expected(worst, f"Training minus validation accuracy at each run's last epoch: {said}." + note, right)


def _params(q, store, runs, ctx) -> Expected:
    from digitlab.learn.models import build

    config = preset(q.presets[0])
    sizes = [784, *config.hidden, 10]
    terms = [f"{a}x{b} + {b}" for a, b in zip(sizes, sizes[1:])]
    n = build(config).num_params()
    return Expected(str(n), f"Each layer has inputs x outputs weights and a bias per output: {' + '.join(terms)} = "
                           f"{n:,}.")


def _turn_up(q, store, runs, ctx) -> Expected:
    (run,) = _needed(q, runs, ctx)
    losses = [e["val_loss"] for e in store.epochs(run.id)]
    low = int(np.argmin(losses))
    if low == len(losses) - 1:
        return Expected("0", f"Your run's validation loss fell to its last epoch ({losses[-1]:.4f} at epoch "
                            f"{len(losses)}): it never turned up, so the answer is 0.")
    return Expected(str(low + 2), f"Your run's validation loss was lowest at epoch {low + 1} ({losses[low]:.4f}) and "
                                 f"higher at epoch {low + 2} ({losses[low + 1]:.4f}): it turned up there.")


def _lowest_recall(q, store, runs, ctx) -> Expected:
    from digitlab.learn import checkpoint, evaluation

    (run,) = _needed(q, runs, ctx)
    if not run.checkpoint or not Path(run.checkpoint).exists():
        raise Missing(list(q.presets))
    per = evaluation.evaluate_checkpoint(checkpoint.load(run.checkpoint), ctx["mnist"]())["per_class"][:10]
    worst = min(per, key=lambda r: (r["recall"], r["digit"]))
    recalls = {r["digit"]: r["recall"] for r in per}
    margin = {r["digit"]: _spread((r["recall"], r["support"]), (worst["recall"], worst["support"])) for r in per}
    right, note = _right(q, recalls, worst["digit"], margin, "recalls", f"share it, {worst['recall']:.2%}")
    return Expected(str(worst["digit"]), f"Your run's checkpoint on the test set: recall of {worst['digit']} is "
                                        f"{worst['recall']:.2%}, the lowest (the best: "
                                        f"{max(r['recall'] for r in per):.2%})."
                                        + note, right)


FINE_TUNE = "a fine-tune on My digits (the My digits page: save 20 digits or more, then Fine-tune)"


def _digits_gain(q, store, runs, ctx) -> Expected:
    from digitlab.runs.runner.execution import my_digits_result

    owner = ctx.get("owner")
    for run in store.runs(Status.COMPLETED, owner=owner):  # the newest fine-tune that scored held-out digits
        done = my_digits_result(store, run.id) if run.config.get("my_digits") else None
        if done and done.get("before", {}).get("held_out_acc") is not None and "after" in done:
            before, after = done["before"]["held_out_acc"], done["after"]["held_out_acc"]
            went = "up" if after > before else "down" if after < before else "nowhere"
            return Expected({"up": "yes", "down": "no", "nowhere": "no"}[went],
                           f"Run {run.id} read {len(done['held_out'])} of your digits it never trained on: "
                           f"{before:.1%} before the fine-tune, {after:.1%} after ({went}).")
    raise Missing([FINE_TUNE])


def _fixed(q, store, runs, ctx) -> Expected:
    return Expected(q.answer, q.why)


HINTS = {  # what a first wrong answer is shown: where the deciding figure is, not the answer
    "first_to_target": "Look at each run's {split} accuracy epoch by epoch (Runs, the {split} split, or the summary "
                       "table's first epoch at or above the target): which crosses {target:.0%} first?",
    "best_checkpoint": "Compare the test accuracy of each run's kept checkpoint (the summary table's checkpoint test "
                       "acc on Runs), not the best or last epoch's.",
    "reached": "Look at the test accuracy of your run's kept checkpoint (Runs, the summary table) against "
               "{target:.2%}.",
    "largest_gap": "At each run's last epoch, subtract its validation accuracy from its training accuracy (Runs, "
                   "the train and val splits together): which difference is largest?",
    "params": "Each layer has inputs x outputs weights and one bias per output: add them up, layer by layer.",
    "turn_up": "Find the epoch with the lowest validation loss (Runs, the val split of the loss chart): the epoch "
               "after it is where the loss turned up.",
    "lowest_recall": "Open your run in depth on Runs: in its per-class table, which digit has the lowest recall?",
    "digits_gain": "Compare your fine-tune's accuracy on your held-out digits before and after (My digits, the "
                   "fine-tune table).",
    "fixed": "Read the lesson's text again: it says what each split is for.",
}
CHECKS = {"first_to_target": _first_to_target, "best_checkpoint": _best_checkpoint, "reached": _reached,
          "largest_gap": _largest_gap,
          "params": _params, "turn_up": _turn_up, "lowest_recall": _lowest_recall, "digits_gain": _digits_gain,
          "fixed": _fixed}
NEEDS = {"first_to_target": (2, None), "best_checkpoint": (2, None), "reached": (1, 1), "largest_gap": (2, None),
         "params": (1, 1),
         "turn_up": (1, 1), "lowest_recall": (1, 1), "digits_gain": (0, 0), "fixed": (0, 0)}  # how many presets each reads: (least, most)


# --- lesson files -------------------------------------------------------------------------------------------------

LESSON_KEYS = {"number", "title", "page", "text", "watch", "launch", "controls", "course", "questions", "splits",
               "measure"}
QUESTION_KEYS = {f for f in Question.__dataclass_fields__}


def _bad(path: Path, what: str) -> UserError:
    return UserError(f"Lesson file {path.name}: {what}.")


def parse(text: str, path: Path) -> Lesson:
    """A lesson from its file's text, every field checked: anything wrong is one sentence naming the file."""
    if not _ID.match(path.stem):
        raise _bad(path, "name it with lowercase letters, digits and dashes, like 3-optimizers.toml")
    try:
        raw = settings.toml(text)
    except ValueError as e:
        raise _bad(path, f"it is not valid TOML ({e})") from None
    unknown = sorted(set(raw) - LESSON_KEYS)
    if unknown:
        raise _bad(path, f"unknown key {unknown[0]!r}; the keys are {', '.join(sorted(LESSON_KEYS))}")
    for key, kind in (("number", int), ("title", str), ("page", str), ("text", str)):
        if not isinstance(raw.get(key), kind) or isinstance(raw.get(key), bool):
            raise _bad(path, f"{key} must be {'a whole number' if kind is int else 'text'}")
    if raw["page"] not in PAGES:
        raise _bad(path, f"page must be one of {', '.join(PAGES)}")
    launch, controls = raw.get("launch", []), raw.get("controls", [])
    for name, values, allowed in (("launch", launch, PRESETS), ("controls", controls, NAMES)):
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _bad(path, f"{name} must be a list of names")
        wrong = [v for v in values if v not in allowed]
        if wrong:
            raise _bad(path, f"{name} names {wrong[0]!r}, which is not a {'preset' if name == 'launch' else 'setting'}")
    splits, measure = raw.get("splits", ["train", "val"]), raw.get("measure", "val")
    if not isinstance(splits, list) or not splits or any(x not in SPLITS for x in splits):
        raise _bad(path, "splits must be a list of train, val and test")
    if measure not in SPLITS:
        raise _bad(path, "measure must be train, val or test")
    questions = raw.get("questions", [])
    if not isinstance(questions, list) or not questions or len(questions) > 10:
        raise _bad(path, "give 1 to 10 [[questions]]")
    parsed = tuple(_question(q, path) for q in questions)
    if len({q.id for q in parsed}) < len(parsed):
        raise _bad(path, "two questions share an id")
    return Lesson(path.stem, raw["number"], raw["title"], raw["page"], raw["text"], str(raw.get("watch", "")),
                  tuple(launch), tuple(controls), str(raw.get("course", "")), parsed, tuple(splits), measure)


def _question(raw, path: Path) -> Question:
    if not isinstance(raw, dict):
        raise _bad(path, "each [[questions]] must be a table")
    unknown = sorted(set(raw) - QUESTION_KEYS)
    if unknown:
        raise _bad(path, f"a question has an unknown key {unknown[0]!r}")
    qid = raw.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        raise _bad(path, "each question needs an id of lowercase letters, digits and dashes")
    where = f"question {qid}"
    if not isinstance(raw.get("ask"), str) or not raw["ask"].strip():
        raise _bad(path, f"{where} needs ask, the question as text")
    if raw.get("kind") not in KINDS:
        raise _bad(path, f"{where}: kind must be one of {', '.join(KINDS)}")
    if raw.get("check") not in CHECKS:
        raise _bad(path, f"{where}: check must be one of {', '.join(CHECKS)}")
    presets = raw.get("presets", [])
    if not isinstance(presets, list) or any(p not in PRESETS for p in presets):
        raise _bad(path, f"{where}: presets must be a list of preset names")
    least, most = NEEDS[raw["check"]]
    if len(presets) < least or (most is not None and len(presets) > most):
        raise _bad(path, f"{where}: the check {raw['check']} reads {least if least == most else f'{least} or more'} "
                         "preset(s)")
    choices = raw.get("choices", {})
    if not isinstance(choices, dict) or not all(isinstance(v, str) for v in choices.values()):
        raise _bad(path, f"{where}: choices must be a table of value = \"what the learner reads\"")
    if raw["kind"] == "choice" and len(choices) < 2:
        raise _bad(path, f"{where}: a choice question needs two choices or more")
    if raw["check"] == "fixed" and (not isinstance(raw.get("answer"), str) or not isinstance(raw.get("why"), str)):
        raise _bad(path, f"{where}: a fixed question needs its answer and why, as text")
    if raw["check"] == "fixed" and raw["kind"] == "choice" and raw["answer"] not in choices:
        raise _bad(path, f"{where}: its answer must be one of its choices")
    numbers = {k: raw[k] for k in ("target", "tolerance") if k in raw}
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1e6 for v in numbers.values()):
        raise _bad(path, f"{where}: target and tolerance must be numbers of 0 or more")
    if raw.get("split", "val") not in ("train", "val", "test"):
        raise _bad(path, f"{where}: split must be train, val or test")
    if not isinstance(raw.get("hint", ""), str):
        raise _bad(path, f"{where}: hint must be text")
    return Question(qid, raw["ask"], raw["kind"], raw["check"], dict(choices), tuple(presets),
                    float(raw.get("target", 0.97)), raw.get("split", "val"), float(raw.get("tolerance", 0)),
                    raw.get("answer", ""), raw.get("why", ""), raw.get("hint", ""))


def load(path) -> Lesson:
    path = Path(path)
    if path.stat().st_size > MAX_FILE:
        raise _bad(path, f"it has {path.stat().st_size:,} bytes, over the limit of {MAX_FILE:,}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _bad(path, "it is not UTF-8 text") from None
    return parse(text, path)


def all_lessons(folder=FOLDER) -> list[Lesson]:
    """Every lesson in the folder, by number; a bad file is one sentence (the others are not hidden by it)."""
    lessons = sorted((load(p) for p in Path(folder).glob("*.toml")), key=lambda lesson: (lesson.number, lesson.id))
    numbers = [lesson.number for lesson in lessons]
    if len(set(numbers)) < len(numbers):
        twice = next(n for n in numbers if numbers.count(n) > 1)
        raise UserError(f"Two lesson files in {folder} have number {twice}: give each its own.")
    return lessons


# --- answers -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Marked:
    correct: bool
    expected: str      # what the runs say, as the learner reads it
    reason: str
    hint: str = ""     # where to look: what a first wrong answer is shown instead of the answer
    tries: int = 1     # answers given to this question so far, this one included


def hint(q: Question) -> str:
    return q.hint or HINTS[q.check].format(split=SPLITS[q.split], target=q.target)


def shows_answer(marked: Marked, asked: bool = False) -> bool:
    """Whether the answer and its reason are shown: right, a second try or more, or asked for ("Show me"); a first
    wrong answer is shown only its hint."""
    return marked.correct or marked.tries >= 2 or asked


def clean(q: Question, answer) -> str:
    """A learner's answer, checked (type, length, one of the choices, a number) before anything reads it."""
    if not isinstance(answer, (str, int, float)) or isinstance(answer, bool):
        raise UserError("An answer is text or a number: type it again.")
    text = str(answer).strip()
    if not text and q.kind == "choice":
        raise UserError(f"Choose one of: {', '.join(q.choices.values())}.")
    if not text or len(text) > MAX_ANSWER:
        raise UserError(f"An answer is 1 to {MAX_ANSWER} characters: type it again.")
    if q.kind == "choice":
        by_label = {v.lower(): k for k, v in q.choices.items()} | {k.lower(): k for k in q.choices}
        if text.lower() not in by_label:
            raise UserError(f"Answer with one of: {', '.join(q.choices.values())}.")
        return by_label[text.lower()]
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise UserError(f"{q.ask.rstrip('?')}: answer with a number, such as 12.") from None
    if not np.isfinite(value):
        raise UserError("Answer with a finite number.")
    return f"{value:g}"


def mark(q: Question, answer: str, store: Store, owner: str | None, mnist=None) -> Marked:
    """Whether an answer (clean()'s) is right by the learner's own runs; Missing names the runs to launch first."""
    different: dict = {}
    runs = runs_by_preset(store, owner, different)
    verdict = CHECKS[q.check](q, store, runs, {"mnist": mnist, "owner": owner, "training": training(store, owner),
                                               "different": different})
    if q.kind == "number":
        right = abs(float(answer) - float(verdict.expected)) <= q.tolerance
        expected = f"{float(verdict.expected):,.10g}"
    else:
        right = answer == verdict.expected or answer in verdict.tied
        tied = verdict.tied if len(verdict.tied) > 1 else (verdict.expected,)
        expected = " or ".join(_label(q, k) for k in tied) if verdict.expected != "none" else "none of them"
    return Marked(right, expected, verdict.reason, hint(q))


def answer(lesson: Lesson, q: Question, given, store: Store, person: str, owner: str | None, mnist=None) -> Marked:
    """A learner's answer to one question, as the Lessons page and `digitlab lessons --answer` both take it: checked,
    marked by the learner's own runs (owner's; None: everyone's) and kept in the store under person's name. A
    malformed answer is a UserError, and so is Missing (the runs it reads are not finished): nothing is kept then."""
    value = clean(q, given)
    marked = mark(q, value, store, owner, mnist=mnist)
    tries = store.record_answer(person, lesson.id, q.id, value, marked.correct)
    return dataclasses.replace(marked, tries=tries)


def figure_runs(q: Question, store: Store, owner: str | None) -> tuple[list[tuple[str, list[dict]]], list[int],
                                                                       dict[str, int]]:
    """What the chart that decides a question is drawn from: (each of its runs the learner has, by the label the
    question gives it, with its epochs; their ids; the course's first epoch at the target, by label, where the course
    reached it). Empty while its runs are missing."""
    have = runs_by_preset(store, owner)
    found = [(p, have[p]) for p in q.presets if p in have]
    course = {_label(q, p): COURSE[p]["first_97"] for p, _ in found if "first_97" in COURSE.get(p, {})}
    return [(_label(q, p), store.epochs(r.id)) for p, r in found], [r.id for _, r in found], course


def runs_link(lesson: Lesson, store: Store, owner: str | None) -> dict[str, str] | None:
    """The Runs page's address for a lesson: its runs compared, on the splits it talks about and the split its
    questions measure; None before any of its runs has finished."""
    have = runs_by_preset(store, owner)
    ids = [str(have[p].id) for p in lesson.launch if p in have]
    if not ids:
        return None
    return {"compare": ",".join(ids), "splits": ",".join(lesson.splits), "on": lesson.measure}


def missing_runs(lesson: Lesson, store: Store, owner: str | None) -> list[str]:
    """The presets a lesson's questions read that the learner has not run to the end yet."""
    have = runs_by_preset(store, owner)
    return list(dict.fromkeys(p for q in lesson.questions for p in q.presets
                              if p not in have and q.check != "params"))
