"""Checkpoint files (state_dict + the config that rebuilds the model + its metrics) and the cards of shipped ones."""

import json
import os
import platform
import shlex
import shutil
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from digitlab import UserError, settings
from digitlab.datasets import data
from digitlab.learn import cost, devices
from digitlab.learn.config import TrainConfig
from digitlab.files import write_atomically
from digitlab.learn.models import Classifier, build
from digitlab.settings import Limits

FORMAT = "digitlab-checkpoint"
PROJECT = Path(__file__).resolve().parents[2]
SHIPPED = PROJECT / "checkpoints"  # the trained models the app ships with, each with a JSON card


def save(path, state_dict: dict, config: TrainConfig, metrics: dict) -> Path:
    blob = {"format": FORMAT, "version": 1, "config": config.to_dict(), "metrics": metrics, "state_dict": state_dict}
    return write_atomically(Path(path), lambda f: torch.save(blob, f))


@dataclass
class Checkpoint:
    model: Classifier
    config: TrainConfig
    metrics: dict
    path: Path

    @property
    def num_params(self) -> int:
        return self.model.num_params()

    @torch.no_grad()
    def predict_proba(self, images) -> np.ndarray:
        """(N, 28, 28) uint8, or floats in [0, 1], ink bright -> (N, 10) probabilities: the one prediction path."""
        x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images))  # a copy, writable
        return self.model(data.normalize(x, self.config.input_norm)).softmax(-1).numpy()


def _check_size(path: Path, limits: Limits) -> None:
    """The file, and what its archive says it holds unpacked, within limits.checkpoint_mb: before anything is read."""
    limits.check_bytes("checkpoint_mb", str(path), path.stat().st_size)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                unpacked = sum(info.file_size for info in z.infolist())
        except (zipfile.BadZipFile, OSError, ValueError):
            raise UserError(f"{path} is corrupt or not a PyTorch file: use a checkpoint written by digitlab.") from None
        limits.check_bytes("checkpoint_mb", str(path), unpacked, verb="unpacks to")


def load(path, limits: Limits | None = None) -> Checkpoint:
    """Load a checkpoint safely into a ready model on the CPU, in eval mode, at a cost bounded by the limits.

    weights_only: a file can hold no code that runs. Its size, its archive's declared sizes and the model its
    config describes are all checked before any of it is unpacked or built.
    """
    limits = limits or settings.current().limits
    path = Path(path)
    if not path.is_file():
        raise UserError(f"No checkpoint at {path}: give the path of a .pt file written by digitlab.")
    _check_size(path, limits)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-sentence answer
        # a pickle in torch's archive naming code to run; anything else (a file cut short, whose bytes may happen to
        # read as a pickle's GLOBAL) is just not a checkpoint
        unsafe = "global" in str(e).lower() and zipfile.is_zipfile(path)
        why = "holds code or objects that are not allowed" if unsafe else "is corrupt or not a PyTorch file"
        raise UserError(f"{path} {why}: use a checkpoint written by digitlab.") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise UserError(f"{path} is not a digitlab checkpoint: train one with `digitlab train`.")
    try:
        config = TrainConfig.from_dict(blob["config"])
    except (UserError, KeyError, TypeError, ValueError):
        raise UserError(f"{path} does not match any model digitlab can build: train a new checkpoint.") from None
    n = cost.params(config)
    if n > limits.max_params:
        raise UserError(f"{path} holds a model of {n:,} parameters, over the limit of "
                        f"{limits.max_params:,} (limits.max_params in the settings): use a smaller model.")
    try:
        model = build(config)
        model.load_state_dict(blob["state_dict"])
    except (KeyError, RuntimeError, TypeError, ValueError):
        raise UserError(f"{path} does not match any model digitlab can build: train a new checkpoint.") from None
    model.eval()
    metrics = blob.get("metrics")
    return Checkpoint(model, config, dict(metrics) if isinstance(metrics, dict) else {}, path)


# --- cards: how a shipped checkpoint was made ---------------------------------------------------

def git_commit() -> str | None:
    """The project's commit, with '-dirty' when tracked files have changed since; None outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=PROJECT, capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")


def machine(run) -> dict:
    """What trained a run, for its card: the processor, the threads PyTorch used and the precision it trained in."""
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
    except OSError:
        names = []
    device = torch.device(run.device or "cpu")
    bf16 = run.config.get("precision") == "bf16" and devices.bf16_native(device)
    return dict(processor=names[0] if names else platform.processor() or platform.machine(), cores=os.cpu_count(),
                threads=torch.get_num_threads(), precision="bf16" if bf16 else "fp32")


def card_path(checkpoint_path) -> Path:
    return Path(checkpoint_path).with_suffix(".json")


def write_card(checkpoint_path, run, argv: list[str]) -> Path:
    """The JSON card beside a shipped checkpoint: the command, seed, data, code and torch that made it, and its scores."""
    card = dict(command="digitlab " + shlex.join(argv), seed=run.config["seed"], config=run.config,
                data_md5=data.MD5, test_acc=run.test_acc, best_val_acc=run.best_val_acc, best_epoch=run.best_epoch,
                train_seconds=round(run.train_seconds, 2), num_params=run.num_params, device=run.device,
                torch=torch.__version__, git_commit=git_commit(), machine=machine(run),
                trained=time.strftime("%Y-%m-%d", time.gmtime(run.finished)))
    text = json.dumps(card, indent=2) + "\n"
    return write_atomically(card_path(checkpoint_path), lambda f: f.write(text.encode()))


def publish(run, dest, argv: list[str]) -> Path:
    """Copy a run's best checkpoint to dest (a .pt path) and write its card beside it."""
    dest = Path(dest)
    with open(run.checkpoint, "rb") as src:
        write_atomically(dest, lambda f: shutil.copyfileobj(src, f))
    write_card(dest, run, argv)
    return dest


def read_card(checkpoint_path) -> dict:
    path = card_path(checkpoint_path)
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError(f"No readable card at {path}: a shipped checkpoint needs the JSON card written beside it.") from None
    if not isinstance(card, dict) or not isinstance(card.get("command"), str):
        raise UserError(f"{path} has no command to retrain from: write the card with `digitlab train --save`.")
    return card


def card_argv(card: dict) -> list[str]:
    """The digitlab arguments of a card's command ('digitlab train ...' or 'python -m digitlab train ...')."""
    words = shlex.split(card["command"])
    if "train" not in words:
        raise UserError(f"The card's command {card['command']!r} is not a `digitlab train` command: fix the card.")
    return words[words.index("train"):]
