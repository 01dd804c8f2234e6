"""Which runs and models a page offers: the models to read a drawing with or start from (one list of the shipped ones
and the finished runs, each page labelling it its way), and the runs a comparison opens on."""

from pathlib import Path

from digitlab.learn.checkpoint import SHIPPED
from digitlab.runs.store import Run, Status, Store


def shipped_models(shipped: Path = SHIPPED) -> list[Path]:
    """The shipped checkpoints, mlp-default first."""
    return sorted(shipped.glob("*.pt"), key=lambda p: (p.stem != "mlp-default", p.stem))


def finished_runs(store: Store, owner: str | None = None, flagged: bool = False) -> list[dict]:
    """Completed or cancelled runs whose best checkpoint is on disk, newest first (only owner's, when given); runs
    that diverged or did not learn (health) only when flagged is asked for."""
    return [r for r in store.runs(Status.COMPLETED, Status.CANCELLED, owner=owner)
            if r.checkpoint and Path(r.checkpoint).exists() and (flagged or not r.health)]


def model_choices(store: Store, shipped: Path = SHIPPED, owner: str | None = None,
                  flagged: bool = False) -> dict[str, str]:
    """Label -> checkpoint path: the shipped models (mlp-default first), then every finished run with a checkpoint
    (only owner's, when given; those that did not learn only when flagged is asked for, and labelled so)."""
    out = {f"{p.stem} (shipped)": str(p) for p in shipped_models(shipped)}
    for run in finished_runs(store, owner, flagged):
        acc = f", test {run.test_acc:.2%}" if run.test_acc is not None else ""
        warning = f" ⚠ {run.health['flag']}" if run.health else ""
        out[f"run {run.id}: {run.name}{acc}{warning}"] = run.checkpoint
    return out


def start_choices(store: Store, owner: str | None = None, shipped: Path = SHIPPED) -> dict[str, str]:
    """What a run may start from (TrainConfig.start_from) -> its label: nothing, a shipped model, a finished run."""
    out = {"": "random weights"} | {p.stem: f"{p.stem} (shipped)" for p in shipped_models(shipped)}
    return out | {f"run:{run.id}": f"run {run.id}: {run.name}" for run in finished_runs(store, owner)}


def default_comparison(runs: list[Run]) -> list[int]:
    """The runs to compare when a person opens the Runs page: the newest batch queued together (the optimizer
    comparison, say) whose runs all completed, else the three newest completed runs; never a running, failed or
    cancelled one, nor one that diverged or did not learn."""
    def fine(r: dict) -> bool:
        return r.status == Status.COMPLETED and not r.health

    done = sorted(filter(fine, runs), key=lambda r: r.id, reverse=True)
    for first in done:
        batch = [r for r in runs if first.batch is not None and r.batch == first.batch]
        if len(batch) > 1 and all(map(fine, batch)):
            return sorted(r.id for r in batch)
    return [r.id for r in done[:3]]

def batch_of(run: Run, runs: list[Run]) -> list[Run]:
    """The other runs queued together with run (none for a run queued alone), oldest first."""
    if run.batch is None:
        return []
    return sorted((r for r in runs if r.batch == run.batch and r.id != run.id), key=lambda r: r.id)

def best_completed(runs: list[Run]) -> int | None:
    """The completed run with the best test accuracy (of its kept checkpoint)."""
    done = [r for r in runs if r.status == Status.COMPLETED and r.test_acc is not None]
    return max(done, key=lambda r: r.test_acc).id if done else None
