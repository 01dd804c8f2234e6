"""Whether a run may be trained, decided in one place. The app's launch, `digitlab train`, a sweep's start (its
corners) and each of its trials all call `admit`, so that one request gets one answer whichever way it comes: the
settings checked, the price (a teacher's work included) within the limits, the model it starts from and its teacher
there (in class mode, a run named as either the owner's own unless they teach), font digits and My digits there,
pinned drawings well formed, MNIST prepared, and the owner's queue."""

import os
from dataclasses import dataclass

import numpy as np

from digitlab import UserError, settings
from digitlab.classroom import access, roster
from digitlab.datasets import data, handwriting
from digitlab.drawing import pictures
from digitlab.learn import cost, devices
from digitlab.runs import sources
from digitlab.classroom.access import Action, Resource
from digitlab.learn.config import TrainConfig, validate
from digitlab.runs.store import Status, Store
from digitlab.runs.store.digits import over_quota
from digitlab.runs.store.pins import check_pins


@dataclass(frozen=True)
class Admitted:
    config: TrainConfig     # validated
    estimate: cost.Estimate  # its price, a teacher's work included


def price(store: Store, config: TrainConfig, limits: settings.Limits, owner: str | None = None) -> cost.Estimate:
    """A validated config's price on its device, its teacher's work included; the UserError of a limit it exceeds,
    of an unavailable device or of a teacher that is not there (or, given owner, not theirs to use)."""
    device = devices.resolve(config.device)  # an unavailable device is refused now, not in the worker
    teacher = sources.teacher(store, config, owner)
    return cost.check(config, limits, device.type, teacher.config if teacher else None)


def pin(image: np.ndarray, label: int | None = None) -> tuple[int | None, bytes]:
    """A drawing to watch as a run trains: a 28x28 image (uint8, or floats in [0, 1]) and its label if known."""
    image = np.asarray(image)
    if image.shape != (28, 28):
        raise UserError(f"A pinned drawing must be a 28x28 image, got shape {image.shape}: pin it from the Draw page.")
    return label, (image if image.dtype == np.uint8 else pictures.to_bytes(image)).tobytes()


def held_to(owner: str) -> str | None:
    """Whose runs a run of owner's may start from or learn from: owner's own in class mode, unless owner is a teacher
    (or the machine's own CLI, with no owner); None (any run) on a single-user machine."""
    s = settings.current()
    if not s.classroom.enabled or not owner:
        return None
    person = roster.load(s.classroom.roster).get(owner) or roster.Person(owner, "student", "")  # removed: a student
    return access.whose(person, Action.USE, Resource.RUN)


def admit(store: Store, configs: list[TrainConfig], owner: str = "", pins=(), data_root=None,
          limits: settings.Limits | None = None, queued: bool = True) -> list[Admitted]:
    """Every config checked, priced and its sources found, then MNIST and (queued: these runs join the owner's
    waiting or running ones) the owner's queue: a group is admitted whole or not at all. One sentence otherwise."""
    limits = limits or settings.current().limits
    check_pins(pins)
    theirs = held_to(owner)
    admitted = []
    for config in configs:
        config = validate(config)
        estimate = price(store, config, limits, theirs)
        sources.start(store, config, theirs)
        sources.check_fonts(config)
        sources.check_digits(store, config, owner)
        admitted.append(Admitted(config, estimate))
    if not data.is_prepared(data_root):
        raise UserError(data.not_prepared())  # no folder: pages name the server's own
    if queued:
        mine = len(store.runs(Status.QUEUED, Status.RUNNING, owner=owner))
        if mine + len(admitted) > limits.queued_per_person:
            these = f", and these {len(admitted)} would pass" if len(admitted) > 1 else ","
            raise UserError(f"You have {mine} runs waiting or running{these} the limit of {limits.queued_per_person} "
                            "(limits.queued_per_person in the settings): wait for one to finish, or cancel one.")
    quota = handwriting.quota(limits, owner)
    if quota is not None:  # a run keeps a checkpoint and more: none is started by a person already at their quota
        kept = store.bytes_kept(owner)
        if sum(kept.values()) >= quota:
            raise over_quota(kept, quota)
    return admitted


def queue(store: Store, configs: list[TrainConfig], data_root=None, owner: str = "", pins=(), sweep: int | None = None,
          trials: list[int] | None = None, limits: settings.Limits | None = None) -> list[int]:
    """Queue runs that belong together (a comparison, a sweep's trials) once `admit` lets them all; returns their
    ids. Nothing is queued when anything is wrong. pins (from `pin`): drawings each run scores every few steps."""
    admitted = admit(store, configs, owner, pins, data_root, limits)
    return store.create_batch([a.config for a in admitted], owner, pins, sweep=sweep, trials=trials)


def launch(store: Store, config: TrainConfig, data_root=None, owner: str = "", pins=()) -> int:
    """Queue one run for the workers; returns its id."""
    return queue(store, [config], data_root, owner, pins)[0]


def start_here(store: Store, config: TrainConfig, data_root=None, owner: str = "", pins=(),
               limits: settings.Limits | None = None) -> tuple[int, Admitted]:
    """A run this process trains now (`digitlab train`): admitted as a queued one is, recorded as running."""
    admitted = admit(store, [config], owner, pins, data_root, limits)[0]
    return store.create(admitted.config, pid=os.getpid(), owner=owner, pins=pins), admitted
