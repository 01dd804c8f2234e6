"""Where a model can run: the one place that asks PyTorch which devices this machine has."""

import torch

from digitlab import UserError


def available() -> list[str]:
    """Device types usable here, the accelerator (cuda, mps, ...) first and cpu last."""
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    return ([accelerator.type] if accelerator is not None else []) + ["cpu"]


def resolve(name: str = "auto") -> torch.device:
    """auto picks this machine's accelerator, else the cpu; an explicit device must exist here."""
    here = available()
    if name == "auto":
        name = here[0]
    if name not in here:
        raise UserError(f"The device {name!r} is not available on this machine: use --device auto or cpu.")
    return torch.device(name)


def accelerators() -> int:
    """How many accelerators (GPUs) this machine has."""
    return torch.accelerator.device_count() if torch.accelerator.is_available() else 0
