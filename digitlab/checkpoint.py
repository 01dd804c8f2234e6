"""Checkpoint files: state_dict + the config that rebuilds the model, its normalization and metrics."""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from digitlab import UserError
from digitlab.config import TrainConfig
from digitlab.data import NORMALIZE
from digitlab.models import build

FORMAT = "digitlab-checkpoint"


def save(path, state_dict: dict, config: TrainConfig, metrics: dict) -> Path:
    """Write atomically: a temp file in the same folder, renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"format": FORMAT, "version": 1, "config": config.to_dict(), "normalize": config.normalize,
            "metrics": metrics, "state_dict": state_dict}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(blob, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass
class Checkpoint:
    model: torch.nn.Module
    config: TrainConfig
    metrics: dict
    path: Path

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @torch.no_grad()
    def predict_proba(self, images) -> np.ndarray:
        """(N, 28, 28) floats in [0, 1], ink bright -> (N, 10) probabilities."""
        x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, 784)
        mean, std = NORMALIZE[self.config.normalize]
        return self.model((x - mean) / std).softmax(-1).numpy()


def load(path) -> Checkpoint:
    """Load a checkpoint safely (weights_only) into a ready model on the CPU, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"No checkpoint at {path}: give the path of a .pt file written by digitlab.")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-sentence answer
        unsafe = "weights_only" in str(e) or "Unsupported global" in str(e)
        why = "holds code or objects that are not allowed" if unsafe else "is corrupt or not a PyTorch file"
        raise UserError(f"{path} {why}: use a checkpoint written by digitlab.") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise UserError(f"{path} is not a digitlab checkpoint: train one with `python -m digitlab train`.")
    try:
        config = TrainConfig.from_dict(blob["config"])
        model = build(config)
        model.load_state_dict(blob["state_dict"])
    except (UserError, KeyError, RuntimeError, TypeError):
        raise UserError(f"{path} does not match any model digitlab can build: train a new checkpoint.") from None
    model.eval()
    return Checkpoint(model, config, dict(blob.get("metrics", {})), path)
