"""The learning-rate range test: a short run whose learning rate grows exponentially every step, the loss it gives,
and a suggested learning rate where the loss fell fastest."""

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from digitlab import UserError
from digitlab.learn import augment, cost, devices
from digitlab.learn.config import TrainConfig
from digitlab.datasets.data import MNIST, blank_pixel, normalize
from digitlab.learn.models import build
from digitlab.learn.train import make_optimizer, step

LOW, HIGH = 1e-6, 10.0  # the range swept; HIGH is the largest learning rate a config allows
STEPS = 100             # enough to see the valley for every recipe of the course; ~1 s for a 512-128 MLP on a CPU
MAX_STEPS = 1000
SMOOTH = 0.9            # exponential moving average of the loss, bias-corrected
BLOW_UP = 4.0           # the test stops once the smoothed loss passes this many times its lowest
PAGE_SECONDS = 20       # the longest range test a page runs (a server shared by a class); the CLI has no such cap


@dataclass
class Finding:
    lrs: list[float]
    losses: list[float]     # raw, one per step
    smoothed: list[float]
    suggestion: float       # where the smoothed loss falls fastest, before its lowest point
    lowest: float           # the learning rate of the lowest smoothed loss


def check_time(config: TrainConfig, steps: int = STEPS, most_seconds: float = PAGE_SECONDS) -> float:
    """The range test's estimated seconds on config's device, or one sentence when it would take longer than most."""
    device = devices.resolve(config.device).type
    seconds = steps * cost.step_seconds(config, device)
    if seconds > most_seconds:
        raise UserError(f"The range test of this model would take about {seconds:,.0f} s on {device}, more than the "
                        f"{most_seconds:g} s a page may spend: use a smaller model or batch here, or run `digitlab "
                        "lr-find` with the same flags.")
    return seconds


def lr_find(config: TrainConfig, data: MNIST, steps: int = STEPS, low: float = LOW, high: float = HIGH) -> Finding:
    """Train config's model from its seed for `steps` batches of the training split, multiplying the learning rate
    by the same factor every step from low to high; the model and the data are left as they were."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 10 <= steps <= MAX_STEPS:
        raise UserError(f"The range test takes 10 to {MAX_STEPS} steps, got {steps!r}.")
    if not 0 < low < high:
        raise UserError(f"The range test needs 0 < lowest < highest learning rate, got {low:g} and {high:g}.")
    device = devices.resolve(config.device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    x_all = data.train_x.to(device)
    y_all = data.train_y.to(device)
    model = build(config).to(device).train()
    if config.model == "cnn":  # the step the run will train with: its memory format and precision
        model = model.to(memory_format=torch.channels_last)
    bf16 = config.precision == "bf16" and devices.bf16_native(device)
    opt = make_optimizer(config, model.parameters(), device)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    factor = (high / low) ** (1 / (steps - 1))
    blank, distort = blank_pixel(config.input_norm), augment.enabled(config)
    lrs, losses, smoothed, avg, best = [], [], [], 0.0, math.inf
    for k in range(steps):
        lr = low * factor**k
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(len(x_all), (config.batch_size,), generator=gen).to(device)
        x = normalize(x_all[idx], config.input_norm)  # (B, 784)
        if distort:
            x = augment.augment(x, config, blank)
        _, loss = step(model, opt, loss_fn, x, y_all[idx], bf16)
        value = loss.item()  # one sync a step: the test is a hundred steps, and it must stop when the loss explodes
        if not math.isfinite(value):
            break
        avg = SMOOTH * avg + (1 - SMOOTH) * value
        smooth = avg / (1 - SMOOTH ** (k + 1))
        lrs.append(lr)
        losses.append(value)
        smoothed.append(smooth)
        best = min(best, smooth)
        if smooth > BLOW_UP * best and k > steps // 10:
            break
    if len(lrs) < 5:
        raise UserError("The loss blew up within the first steps of the range test: lower the lowest learning rate.")
    return Finding(lrs, losses, smoothed, suggest(lrs, smoothed), lrs[int(np.argmin(smoothed))])


def suggest(lrs: list[float], smoothed: list[float]) -> float:
    """The learning rate at the steepest fall of the smoothed loss against log(lr), before its lowest point: large
    enough to learn fast, well short of where it diverges."""
    lowest = int(np.argmin(smoothed))
    if lowest < 2:
        return lrs[lowest]
    slope = np.gradient(np.asarray(smoothed[: lowest + 1]), np.log(np.asarray(lrs[: lowest + 1])))
    skip = max(1, lowest // 10)  # the first steps' loss is noise around its start
    return float(lrs[skip + int(np.argmin(slope[skip:]))]) if lowest > skip else float(lrs[lowest])
