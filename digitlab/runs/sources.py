"""What a run takes besides MNIST: the model it starts from, a teacher it learns from, its owner's saved digits, and
font digits. Found and checked here, by admission before a run is queued and by execution when it trains."""

from pathlib import Path

import numpy as np

from digitlab import UserError
from digitlab.datasets import synth
from digitlab.learn import checkpoint
from digitlab.learn.checkpoint import SHIPPED
from digitlab.learn.config import ARCHITECTURE, TrainConfig, spec

MIN_DIGITS = 10  # saved digits a run needs to train on a share of them and score the rest


def start_path(store, name: str, use: str = "start from", owner: str | None = None) -> Path:
    """The checkpoint file a start_from (or a teacher) names: a shipped model's, or a run's best. With owner (a run
    being admitted in class mode): a run that is not the owner's is refused, as if it were not there."""
    if name.startswith("run:"):
        run = store.get(int(name[4:]))
        if owner is not None and run.owner != owner:
            raise UserError(f"Run {run.id} is not yours to {use}: pick one of your own runs, or a shipped model.")
        if not run.checkpoint or not Path(run.checkpoint).exists():
            raise UserError(f"Run {run.id} has no checkpoint to {use}: pick a run that finished an epoch.")
        return Path(run.checkpoint)
    path = SHIPPED / f"{name}.pt"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.pt")))
        raise UserError(f"There is no shipped model {name!r} to {use}: choose one of {names}, or run:ID.")
    return path


def teacher(store, config: TrainConfig, owner: str | None = None) -> checkpoint.Checkpoint | None:
    """The model a run learns from besides the labels (config.teacher), of any shape; None if none."""
    return checkpoint.load(start_path(store, config.teacher, "learn from", owner)) if config.teacher else None


def start(store, config: TrainConfig, owner: str | None = None) -> checkpoint.Checkpoint | None:
    """The checkpoint a run starts from (config.start_from), checked to have the run's architecture; None if none."""
    name = config.start_from
    if not name:
        return None
    ck = checkpoint.load(start_path(store, name, owner=owner))
    for field in ARCHITECTURE:
        theirs, ours = getattr(ck.config, field), getattr(config, field)
        if theirs != ours:
            raise UserError(f"{spec(field).label} must be {theirs} to start from {name}, got {ours}: a run that starts "
                            "from a model keeps its shape.")
    return ck


def check_fonts(config: TrainConfig) -> None:
    """Font digits need the training typefaces on this machine."""
    if config.fonts and not any(not face.held_out for face in synth.typefaces()):
        raise UserError(f"Font digits need Debian's font packages: apt-get install {synth.FONT_PACKAGES}; or set Font "
                        "digits to 0.")


def check_digits(store, config: TrainConfig, owner: str) -> None:
    """A run that trains on My digits needs enough of its owner's."""
    if config.my_digits:
        have = len(store.digits(owner, images=False))
        if have < MIN_DIGITS:
            raise UserError(f"Training on My digits needs at least {MIN_DIGITS} saved digits, and you have {have}: "
                            "save more on the Draw page, or set My digits to 0.")


def digits_split(rows: list[dict], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """My digits split into the part a run trains on and the part it holds out, at random by its seed."""
    order = np.random.default_rng(seed).permutation(len(rows))
    n = int(round(share * len(rows)))
    trained, held = sorted(order[:n]), sorted(order[n:])
    return [rows[i] for i in trained], [rows[i] for i in held]
