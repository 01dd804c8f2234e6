"""What the pages and the CLI show about runs, as plain rows and numbers: computed here, tested here, drawn there."""

from pathlib import Path

from digitlab import metrics
from digitlab.checkpoint import SHIPPED
from digitlab.presets import COURSE
from digitlab.store import Status, Store

MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>~$:&=\"'@/")


def as_text(text: str) -> str:
    """Text a person typed, made literal inside Markdown: no link, image, emphasis, icon or shortcode survives.

    Backslash escapes stop the Markdown; a zero-width space after ':', '@' and '.' stops the automatic links
    that GitHub-flavoured Markdown makes of bare addresses (http://..., www...., a@b.c), which escapes do not.
    """
    return "".join(f"\\{ch}\u200b" if ch in ":@." else f"\\{ch}" if ch in MARKDOWN_SPECIAL else ch
                   for ch in str(text))


def progress(run: dict, epochs_done: int) -> dict:
    """How far a running run is: the share done, its current epoch and step, for a progress bar."""
    per_epoch = run["steps_per_epoch"] or 1
    total_epochs = run["config"]["epochs"]
    in_epoch = run["step"] if run["epoch"] > epochs_done else 0  # steps of the epoch under way
    done = epochs_done * per_epoch + in_epoch
    return dict(fraction=min(1.0, done / (total_epochs * per_epoch)), epoch=min(max(run["epoch"], 1), total_epochs),
                epochs=total_epochs, step=run["step"], steps_per_epoch=per_epoch)


def seconds_left(run: dict, fraction: float, now: float) -> float | None:
    """Time to finish a running run, from its pace so far; None before it has a pace."""
    if not run.get("started") or fraction <= 0.02:
        return None
    return (now - run["started"]) * (1 - fraction) / fraction


def run_row(run: dict) -> dict:
    """One run as a row of the runs table."""
    cfg = run["config"]
    seconds = run["finished"] - run["started"] if run["started"] and run["finished"] else None
    return {"id": run["id"], "name": run["name"], "owner": run["owner"], "status": str(run["status"]),
            "optimizer": cfg["optimizer"],
            "lr": cfg["lr"], "batch": cfg["batch_size"], "hidden": "-".join(map(str, cfg["hidden"])),
            "dropout/norm": f"{cfg['dropout']:g} / {cfg['norm_layer']}", "epochs": cfg["epochs"],
            "params": run["num_params"], "best val acc": run["best_val_acc"], "test acc": run["test_acc"],
            "duration (s)": round(seconds, 1) if seconds else None}


def summary_rows(runs: list[tuple[str, list[dict]]], target: float, split: str,
                 presets: list[str | None] | None = None) -> list[dict]:
    """The course's comparison table: per run, the first epoch reaching target, the best accuracy at any epoch
    against the test accuracy of the checkpoint kept (the best validation epoch), the last values, and what the
    course reached with the same recipe."""
    rows = []
    for (label, epochs), name in zip(runs, presets or [None] * len(runs)):
        s = metrics.run_summary(epochs, target, split)
        kept = max(epochs, key=lambda e: e["val_acc"]) if epochs else None
        course = COURSE.get(name, {})
        said = [f"{course['acc']:.2%}"] if "acc" in course else []
        if "first_97" in course:
            said.append(f"97% at epoch {course['first_97']}")
        rows.append({"run": label,
                     f"first epoch ≥ {target:.1%}": "not reached" if s["first_epoch"] is None else str(s["first_epoch"]),
                     f"best {split} acc (any epoch)": s["best_acc"], "at epoch": s["best_epoch"],
                     "test acc of the checkpoint (best val epoch)": kept["test_acc"] if kept else None,
                     f"last {split} acc": s["last_acc"], "last train loss": s["last_train_loss"],
                     "last test loss": s["last_test_loss"], "course": " · ".join(said)})
    return rows


def default_comparison(runs: list[dict]) -> list[int]:
    """The runs to compare when a person opens the Runs page: the newest batch queued together (the optimizer
    comparison, say) whose runs all completed, else the three newest completed runs; never a running, failed or
    cancelled one."""
    done = sorted((r for r in runs if r["status"] == Status.COMPLETED), key=lambda r: r["id"], reverse=True)
    for first in done:
        batch = [r for r in runs if first.get("batch") is not None and r.get("batch") == first["batch"]]
        if len(batch) > 1 and all(r["status"] == Status.COMPLETED for r in batch):
            return sorted(r["id"] for r in batch)
    return [r["id"] for r in done[:3]]


def batch_of(run: dict, runs: list[dict]) -> list[dict]:
    """The other runs queued together with run (none for a run queued alone), oldest first."""
    if run.get("batch") is None:
        return []
    return sorted((r for r in runs if r.get("batch") == run["batch"] and r["id"] != run["id"]), key=lambda r: r["id"])


def ids_in(text: str, most: int = 50) -> list[int]:
    """Run ids from an address ('3,4,12'): whatever is not a plain number is left out, and no more than `most`."""
    parts = str(text)[:1000].split(",")
    return [int(p) for p in parts if p.isascii() and p.isdigit() and len(p) <= 9][:most]


def best_completed(runs: list[dict]) -> int | None:
    """The completed run with the best test accuracy (of its kept checkpoint)."""
    done = [r for r in runs if r["status"] == Status.COMPLETED and r["test_acc"] is not None]
    return max(done, key=lambda r: r["test_acc"])["id"] if done else None


def model_choices(store: Store, shipped: Path = SHIPPED, owner: str | None = None) -> dict[str, str]:
    """Label -> checkpoint path: the shipped models (mlp-default first), then every finished run with a checkpoint
    (only owner's, when given)."""
    files = sorted(shipped.glob("*.pt"), key=lambda p: (p.stem != "mlp-default", p.stem))
    out = {f"{p.stem} (shipped)": str(p) for p in files}
    for run in store.runs(Status.COMPLETED, Status.CANCELLED, owner=owner):
        if run["checkpoint"] and Path(run["checkpoint"]).exists():
            acc = f", test {run['test_acc']:.2%}" if run["test_acc"] is not None else ""
            out[f"run {run['id']}: {run['name']}{acc}"] = run["checkpoint"]
    return out


def start_choices(store: Store, owner: str | None = None, shipped: Path = SHIPPED) -> dict[str, str]:
    """What a run may start from (TrainConfig.start_from) -> its label: nothing, a shipped model, a finished run."""
    out = {"": "random weights"}
    out |= {p.stem: f"{p.stem} (shipped)" for p in sorted(shipped.glob("*.pt"), key=lambda p: (p.stem != "mlp-default",
                                                                                                p.stem))}
    for run in store.runs(Status.COMPLETED, Status.CANCELLED, owner=owner):
        if run["checkpoint"] and Path(run["checkpoint"]).exists():
            out[f"run:{run['id']}"] = f"run {run['id']}: {run['name']}"
    return out


def my_digits_rows(runs: list[dict], results: dict[int, dict]) -> list[dict]:
    """One row per run that trained on My digits or started from a model: what it held out and the accuracy
    before and after, on the held-out digits and on MNIST's test set (fractions; None where not measured)."""
    rows = []
    for run in runs:
        r = results.get(run["id"])
        if r is None:
            continue
        before, after = r.get("before", {}), r.get("after", {})
        rows.append({"run": f"{run['id']}: {run['name']}", "status": str(run["status"]),
                     "start from": run["config"].get("start_from") or "random weights",
                     "trained on": len(r.get("trained", [])), "held out": len(r.get("held_out", [])),
                     "held-out acc before": before.get("held_out_acc"), "held-out acc after": after.get("held_out_acc"),
                     "MNIST test before": before.get("test_acc"), "MNIST test after": after.get("test_acc")})
    return rows


def class_rows(store: Store, people) -> list[dict]:
    """Per person of the roster: name, role, their runs, and how many of those wait or run."""
    runs = store.runs()
    return [{"name": p.name, "role": p.role, "runs": sum(r["owner"] == p.name for r in runs),
             "active": sum(r["owner"] == p.name and r["status"].active for r in runs)} for p in people]


def board_rows(store: Store) -> list[dict]:
    """The class board: everyone's finished runs, best first (name, owner, accuracy; nothing to act on)."""
    done = [r for r in store.runs(Status.COMPLETED, Status.CANCELLED) if r["test_acc"] is not None]
    return [{"run": r["name"], "owner": r["owner"], "model": "-".join(map(str, r["config"]["hidden"])),
             "optimizer": r["config"]["optimizer"], "best val acc": r["best_val_acc"], "test acc": r["test_acc"]}
            for r in sorted(done, key=lambda r: -r["test_acc"])]


SURE = 0.6  # below this top probability the answer is "not sure", with the two likeliest digits


def reading(probs, digits: int = 1) -> dict:
    """What the Draw page says of ten class probabilities: the digit, or "not sure" between the two likeliest; or,
    when the drawing holds several digits side by side (digits > 1), that the model reads one digit at a time."""
    p = [float(v) for v in probs]
    first, second = sorted(range(10), key=lambda k: -p[k])[:2]
    if digits > 1:
        return {"digit": first, "sure": False, "headline": "one digit?",
                "detail": f"{digits} digits side by side: the model reads one digit at a time", "short": "one digit?"}
    if p[first] >= SURE:
        return {"digit": first, "sure": True, "headline": str(first), "detail": f"{p[first]:.1%} confident",
                "short": f"{first} · {p[first]:.0%}"}
    return {"digit": first, "sure": False, "headline": f"{first} or {second}?",
            "detail": f"not sure: {p[first]:.0%} {first}, {p[second]:.0%} {second}", "short": f"{first} or {second}?"}
