"""How far a running run is, and how long it has left, from its record alone."""


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
