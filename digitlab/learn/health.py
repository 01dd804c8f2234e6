"""Whether a run is learning: a run whose loss blows up without ever becoming NaN, or whose accuracy stays at
chance, is flagged with the reason and a hint, and stopped where the evidence is clear.

Judged from what the training loop already has: the mean loss of each LOG_EVERY window of steps, and each epoch's
validation accuracy. A run that is merely slow (its accuracy climbing, however little) is never flagged.
"""

import math
from dataclasses import asdict, dataclass

GUESS = math.log(10)  # the cross-entropy of a uniform guess over ten digits: about where a fresh model starts
BLOWN_UP = 10         # a window's mean loss this many times a guess's: diverged, stopped at once
CHANCE = 0.2          # validation accuracy at or below this (a guess gets 10%) ...
STALLED = 0.02        # ... that gained less than this since epoch 1: not learning
HALF = 0.5            # or accuracy under this that gained nothing, with the loss not falling ...
FLAT = 0.98           # ... the last window's mean loss at least this share of the first's
RISING = 5            # windows in a row whose mean loss rose ...
RISEN = 2.0           # ... to this many times the lowest window mean so far: diverging

DIVERGED, NOT_LEARNING = "diverged", "not learning"
HINT_LR = "Is the learning rate too high? Try a tenth of it."
HINT_SLOW = "Is the learning rate too low, or the model too small? Try ten times the rate, or the fast preset."


@dataclass(frozen=True)
class Verdict:
    flag: str      # DIVERGED or NOT_LEARNING
    reason: str    # one sentence with the figures that decided it
    hint: str      # what to try instead
    stop: bool     # the evidence is clear: training stops now

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "stop"}


def state(run) -> str:
    """What a run's status says to a person: its flag when it diverged or did not learn, else its status."""
    return run.health["flag"] if run.health else str(run.status)


def during(windows: list[float], epoch: int) -> Verdict | None:
    """After each window of steps: windows is the mean loss of every window so far, the newest last."""
    last = windows[-1]
    if last > BLOWN_UP * GUESS:
        return Verdict(DIVERGED, f"the training loss reached {last:,.4g} in epoch {epoch}, over {BLOWN_UP} times the "
                                 f"{GUESS:.2f} of a uniform guess.", HINT_LR, stop=True)
    return None


def after_epoch(windows: list[float], epochs: list[dict], last: bool) -> Verdict | None:
    """After each epoch (epochs: their metrics so far, the newest last); last: it was the run's final epoch.
    Not learning: after two epochs or more, accuracy that gained nothing since the first and is at chance, or under
    half with the loss not falling either; after a single last epoch, accuracy at chance with the loss not falling."""
    acc, first = epochs[-1]["val_acc"], epochs[0]["val_acc"]
    flat = len(windows) >= 2 and windows[-1] >= FLAT * windows[0]
    if len(epochs) >= 2:
        stuck = acc - first < STALLED and (acc <= CHANCE or acc < HALF and flat)
    else:
        stuck = last and acc <= CHANCE and flat
    if stuck:
        gain = f", {acc - first:+.1%} since epoch 1" if len(epochs) >= 2 else ""
        loss = f", its training loss {windows[0]:.3g} then {windows[-1]:.3g}" if flat else ""
        return Verdict(NOT_LEARNING, f"validation accuracy {acc:.1%} after epoch {len(epochs)}{gain}{loss} (a guess "
                                     "gets 10%).", HINT_SLOW, stop=True)
    if last:
        return rising(windows)
    return None


def rising(windows: list[float]) -> Verdict | None:
    """At the end: a loss that rose window after window to well above its lowest point was diverging."""
    tail = windows[-RISING - 1:]
    low = min(windows)
    if len(tail) == RISING + 1 and all(b > a for a, b in zip(tail, tail[1:])) and tail[-1] > RISEN * low:
        return Verdict(DIVERGED, f"the training loss rose {RISING} times in a row to {tail[-1]:.4g}, over {RISEN:g} "
                                 f"times its lowest, {low:.4g}.", HINT_LR, stop=False)
    return None
