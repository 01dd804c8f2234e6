"""How far a running run is, how long it has left, and how this machine's measured pace compares to the estimates
that price a waiting run."""

from digitlab.learn import cost
from digitlab.learn.config import TrainConfig
from digitlab.runs.store import Run

CALIBRATE_ON = 10  # the newest completed runs whose measured training time scales the estimates of waiting ones
PACE_LIMITS = (0.2, 5.0)  # a pace outside these is clamped: one odd run must not make every estimate absurd


def progress(run: Run, epochs_done: int) -> dict:
    """How far a running run is: the share done, its current epoch and step, for a progress bar."""
    per_epoch = run.steps_per_epoch or 1
    total_epochs = run.config["epochs"]
    in_epoch = run.step if run.epoch > epochs_done else 0  # steps of the epoch under way
    done = epochs_done * per_epoch + in_epoch
    return dict(fraction=min(1.0, done / (total_epochs * per_epoch)), epoch=min(max(run.epoch, 1), total_epochs),
                epochs=total_epochs, step=run.step, steps_per_epoch=per_epoch)

def seconds_left(run: Run, fraction: float, now: float) -> float | None:
    """Time to finish a running run, from its pace so far; None before it has a pace."""
    if not run.started or fraction <= 0.02:
        return None
    return (now - run.started) * (1 - fraction) / fraction


def estimated_seconds(run: Run) -> float:
    """A run's training time as cost prices it from its config, on the device it trained (or will train) on."""
    config = TrainConfig.from_dict(run.config)
    device = (run.device or config.device or "cpu").split(":")[0]
    return cost.estimate(config, "cpu" if device == "auto" else device).minutes * 60


def pace(runs: list[Run]) -> tuple[float, int]:
    """How this machine's measured training time compares to the estimates: the total train_seconds of the newest
    completed runs over their total estimated seconds (1.0 before any), and how many runs it comes from."""
    done = [r for r in runs if r.status == "completed" and r.train_seconds and not r.health]
    done = sorted(done, key=lambda r: r.id, reverse=True)[:CALIBRATE_ON]
    if not done:
        return 1.0, 0
    ratio = sum(r.train_seconds for r in done) / max(1e-9, sum(estimated_seconds(r) for r in done))
    return min(max(ratio, PACE_LIMITS[0]), PACE_LIMITS[1]), len(done)
