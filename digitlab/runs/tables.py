"""What the pages and the CLI show about runs as tables: plain rows of numbers, computed and tested here, drawn there."""

from digitlab.learn import health, metrics
from digitlab.markdown import as_text
from digitlab.learn.presets import COURSE, differences
from digitlab.runs.store import Run, Status, Store


def layers(cfg: dict) -> str:
    """A run's layer sizes as a person reads them: an MLP's hidden layers, a CNN's conv channels then its head."""
    hidden = "-".join(map(str, cfg["hidden"]))
    if cfg.get("model") != "cnn":
        return hidden
    convs, kernel = cfg.get("convs", 1), cfg.get("kernel", 5)
    return f"conv {'-'.join(map(str, cfg['channels']))} ({convs}x {kernel}x{kernel}) | {hidden}"


def run_row(run: Run) -> dict:
    """One run as a row of the runs table."""
    cfg = run.config
    seconds = run.finished - run.started if run.started and run.finished else None
    status = health.state(run) + (" ⚠" if run.health else "")  # a run that did not learn says so
    return {"id": run.id, "name": run.name, "owner": run.owner, "status": status,
            "optimizer": cfg["optimizer"],
            "lr": cfg["lr"], "batch": cfg["batch_size"], "hidden": layers(cfg),
            "dropout/norm": f"{cfg['dropout']:g} / {cfg['norm_layer']}", "epochs": cfg["epochs"],
            "params": run.num_params, "best val acc": run.best_val_acc, "test acc": run.test_acc,
            "duration": round(seconds, 1) if seconds else None}

def summary_rows(runs: list[tuple[str, list[dict]]], target: float, split: str) -> list[dict]:
    """The course's comparison table: per run, the first epoch reaching target, the best accuracy at any epoch
    against the test accuracy of the checkpoint kept (the best validation epoch) and the last values (what the course
    reached with the same recipe is course_lines', above the table where the eye goes)."""
    rows = []
    for label, epochs in runs:
        s = metrics.run_summary(epochs, target, split)
        kept = max(epochs, key=lambda e: e["val_acc"]) if epochs else None
        rows.append({"run": label,
                     f"first epoch ≥ {target:.1%}": "not reached" if s["first_epoch"] is None else str(s["first_epoch"]),
                     f"best {split} acc (any epoch)": s["best_acc"], "at epoch": s["best_epoch"],
                     "checkpoint test acc": kept["test_acc"] if kept else None,
                     f"last {split} acc": s["last_acc"], "last train loss": s["last_train_loss"],
                     "last test loss": s["last_test_loss"]})
    return rows

def course_rows(runs: list[tuple[str, list[dict]]], presets: list[str | None],
                configs: list[dict] | None = None) -> list[dict]:
    """A row per run of a course preset, the course's figures beside the run's, on the same measures: the test
    accuracy of the checkpoint kept and the first epoch whose test accuracy reached 97% (the course measured both on
    its test set); why: what explains a difference, where the course's story is not ours. A run named after a
    preset with other settings (configs: each run's) gets no course figure, but what differs."""
    rows = []
    for k, ((label, epochs), name) in enumerate(zip(runs, presets)):
        course = COURSE.get(name)
        if not course or not epochs:
            continue
        changed = differences(configs[k], name) if configs is not None else []
        if changed:
            rows.append({"run": label, "preset": name, "you": "other settings", "course": "not set beside it",
                         "why": f"it ran with {', '.join(changed[:3])}"})
            continue
        kept = max(epochs, key=lambda e: e["val_acc"])
        first = metrics.first_epoch_reaching([e["test_acc"] for e in epochs], 0.97)
        you = [f"test {kept['test_acc']:.2%}"]
        said = [f"{course['acc']:.2%}"]
        if "first_97" in course:
            you.append(f"97% first at epoch {first}" if first else "97% not reached")
            said.append(f"97% first at epoch {course['first_97']}")
        rows.append({"run": label, "preset": name, "you": ", ".join(you), "course": ", ".join(said),
                     "why": course.get("why", "")})
    return rows


def course_lines(runs: list[tuple[str, list[dict]]], presets: list[str | None],
                 configs: list[dict] | None = None) -> list[str]:
    """course_rows as lines of Markdown, for the Runs page."""
    return [f"**{as_text(r['run'])}** ({r['preset']}): you {r['you']} · the course {r['course']}"
            + (f" · {r['why']}" if r["why"] else "") for r in course_rows(runs, presets, configs)]


def my_digits_rows(runs: list[Run], results: dict[int, dict]) -> list[dict]:
    """One row per run that trained on My digits or started from a model: what it held out and the accuracy
    before and after, on the held-out digits and on MNIST's test set (fractions; None where not measured)."""
    rows = []
    for run in runs:
        r = results.get(run.id)
        if r is None:
            continue
        before, after = r.get("before", {}), r.get("after", {})
        rows.append({"run": f"{run.id}: {run.name}", "status": str(run.status),
                     "start from": run.config.get("start_from") or "random weights",
                     "trained on": len(r.get("trained", [])), "held out": len(r.get("held_out", [])),
                     "held-out acc before": before.get("held_out_acc"), "held-out acc after": after.get("held_out_acc"),
                     "MNIST test before": before.get("test_acc"), "MNIST test after": after.get("test_acc")})
    return rows

def class_rows(store: Store, people, quota: int | None = None) -> list[dict]:
    """Per person of the roster: name, role, their runs, how many of those wait or run, and the MB they keep (their
    drawings and runs' files) with its share of quota."""
    runs = store.runs()
    rows = []
    for p in people:
        kept = sum(store.bytes_kept(p.name).values())
        rows.append({"name": p.name, "role": p.role, "runs": sum(r.owner == p.name for r in runs),
                     "active": sum(r.owner == p.name and r.status.active for r in runs),
                     "stored MB": round(kept / 2**20, 1),
                     "of quota": f"{kept / quota:.0%}" if quota else None})
    return rows

def lesson_rows(store: Store, people, lessons) -> list[dict]:
    """Per student of the roster: for each lesson, how many of its questions they answered right ("2/2"), and in
    all; what the Class page shows a teacher."""
    answers = store.answers()
    rows = []
    for p in people:
        if p.role != "student":
            continue
        row = {"name": p.name}
        for lesson in lessons:
            right = sum(a["owner"] == p.name and a["lesson"] == lesson.id and a["correct"] for a in answers)
            row[f"{lesson.number}. {lesson.title}"] = f"{right}/{len(lesson.questions)}"
        row["answers given"] = sum(a["owner"] == p.name for a in answers)
        rows.append(row)
    return rows


def board_rows(store: Store, flagged: bool = False) -> list[dict]:
    """The class board: everyone's finished runs, best first (name, owner, accuracy; nothing to act on); runs that
    diverged or did not learn only when flagged is asked for."""
    done = [r for r in store.runs(Status.COMPLETED, Status.CANCELLED) if r.test_acc is not None
            and (flagged or not r.health)]
    return [{"run": r.name, "owner": r.owner, "model": "-".join(map(str, r.config["hidden"])),
             "optimizer": r.config["optimizer"], "best val acc": r.best_val_acc, "test acc": r.test_acc,
             **({"learned": r.health["flag"] if r.health else "yes"} if flagged else {})}
            for r in sorted(done, key=lambda r: -r.test_acc)]
