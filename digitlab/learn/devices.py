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


def bf16_native(device: torch.device) -> bool:
    """Whether the device computes bfloat16 in hardware (a recent x86 CPU's AVX-512 BF16 or AMX, or a GPU that has
    it): elsewhere bf16 is emulated, slower than fp32, and a run asking for it trains in fp32."""
    if device.type == "cpu":
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "mps"
