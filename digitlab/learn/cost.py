"""What a run will cost before anything is built: parameters, peak memory, work and time, checked against limits.

All from the config alone (no model is built, no memory spent), so that any request, however large, is priced
for free. Memory and time are estimates (within about 2x on the machines measured); parameters are exact.
"""

from dataclasses import dataclass, replace

import torch

from digitlab import UserError
from digitlab.learn import augment, devices
from digitlab.learn.config import MNIST_TEST, MNIST_TRAIN, TrainConfig
from digitlab.settings import Limits

TEST_SIZE = MNIST_TEST    # test images, scored every epoch with the validation ones
ALL_IMAGES = MNIST_TRAIN + MNIST_TEST  # every image is held on the training device, as bytes and normalized
EVAL_BATCH = 8192         # train.loss_and_accuracy's batch
RUNTIME_MB = 150          # PyTorch itself
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "rmsprop": 1, "adam": 2, "adamw": 2}
# Measured on the 2-core development machine and a lent H100: sustained FLOP/s of dense layers and of
# convolutions, and the fixed cost of one optimizer step (launches, Python).
SPEED = {"cpu": (150e9, 60e9, 0.8e-3), "cuda": (10e12, 5e12, 1.6e-3), "mps": (2e12, 1e12, 1.0e-3)}
BF16_SPEEDUP = 2.5  # bf16 autocast where the device computes it in hardware (benchmarks/cnn_speed.py: 2.4-2.8x)
AUGMENT_SECONDS = {"cpu": 2e-5, "cuda": 1e-6, "mps": 2e-6}  # distorting one training image


@dataclass(frozen=True)
class Estimate:
    params: int
    memory_mb: float        # peak, on the training device
    steps: int              # optimizer steps of the whole run
    gflop_per_epoch: float
    minutes: float          # training time, all epochs

    def describe(self) -> str:
        return (f"{self.params:,} parameters · about {self.memory_mb:,.0f} MB · {self.steps:,} steps · "
                f"{self.gflop_per_epoch:,.0f} GFLOP an epoch · about {duration(self.minutes)}")


def duration(minutes: float) -> str:
    """A span of minutes as a person says it: 40 s, 3 min, 2.5 h."""
    if minutes < 1:
        return f"{max(1, round(minutes * 60))} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def _layers(config: TrainConfig):
    """Per layer: (parameters, forward FLOPs per image, activations per image, is a convolution)."""
    out, width = [], 28 * 28
    if config.model == "cnn":
        in_channels, side, bn = 1, 28, config.norm_layer == "batch"
        area = config.kernel**2
        for channels in config.channels:
            for _ in range(config.convs):
                params = area * in_channels * channels + (2 * channels if bn else channels)
                out.append((params, 2 * area * in_channels * channels * side * side, 3 * channels * side * side,
                            True))
                in_channels = channels
            side //= 2
        width = in_channels * side * side
    norm = config.model == "mlp" and config.norm_layer != "none"
    for h in config.hidden:
        out.append((width * h + h + (2 * h if norm else 0), 2 * width * h, 3 * h, False))
        width = h
    out.append((width * 10 + 10, 2 * width * 10, 10, False))
    return out


def params(config: TrainConfig) -> int:
    """The exact number of trainable parameters of the model config describes."""
    return sum(p for p, _, _, _ in _layers(config))


def estimate(config: TrainConfig, device: str = "cpu", teacher: TrainConfig | None = None) -> Estimate:
    """teacher: the config of the model the run learns from (config.teacher), whose forward pass of every training
    image is part of the run's work."""
    layers = _layers(config)
    n = sum(p for p, _, _, _ in layers)
    train = config.train_size() + round(config.fonts * config.train_size())  # font digits join every epoch
    steps = config.epochs * -(-train // config.batch_size)
    acts = sum(a for _, _, a, _ in layers)
    passes = 3 * train + config.val_size + TEST_SIZE  # an epoch's images through the model, a training one counting 3
    seconds = _seconds(config, layers, device, config.epochs * passes, steps, config.epochs * train)
    weights = 4 * n * (3 + OPTIMIZER_STATES[config.optimizer])  # weights, gradients, best copy, optimizer states
    data = ALL_IMAGES * 784 * 5  # uint8 and float32
    widest = max(a for _, _, a, _ in layers) / 3  # one layer's output per image
    activations = 4 * max(2 * acts * config.batch_size, 2 * widest * EVAL_BATCH)  # a training step, or scoring
    if teacher is not None:
        taught = _layers(teacher)
        # the teacher reads each batch inside the student's step, so at the student's precision, not its own
        seconds += _seconds(replace(teacher, precision=config.precision), taught, device, config.epochs * train, 0, 0)
        weights += 4 * sum(p for p, _, _, _ in taught)
        activations += 4 * sum(a for _, _, a, _ in taught) / 3 * config.batch_size  # its forward pass of a batch
    memory = RUNTIME_MB + (weights + data + activations) / 2**20
    return Estimate(n, memory, steps, sum(f for _, f, _, _ in layers) * passes / 1e9, seconds / 60)


def step_seconds(config: TrainConfig, device: str = "cpu") -> float:
    """The estimated time of one training step of config's model (forward, backward, update) on a device."""
    return _seconds(config, _layers(config), device, 3 * config.batch_size, 1, config.batch_size)


def _bf16_here(device: str) -> bool:
    """Whether bf16 runs in hardware on a device of this kind: this machine's CPU asked, a GPU assumed to."""
    return devices.bf16_native(torch.device("cpu")) if device == "cpu" else device in ("cuda", "mps")


def _seconds(config: TrainConfig, layers: list, device: str, passes: float, steps: float, distorted: float) -> float:
    """Seconds of work on a device: `passes` images through the model (forward; a training image counts 3: forward,
    backward, update), `steps` optimizer steps, and `distorted` images augmented when config augments."""
    dense = sum(f for _, f, _, conv in layers if not conv)
    conv = sum(f for _, f, _, conv in layers if conv)
    dense_speed, conv_speed, step_cost = SPEED.get(device, SPEED["cpu"])
    faster = BF16_SPEEDUP if config.precision == "bf16" and _bf16_here(device) else 1.0
    seconds = passes * (dense / dense_speed + conv / conv_speed) / faster + steps * step_cost
    if augment.enabled(config):
        seconds += distorted * AUGMENT_SECONDS.get(device, AUGMENT_SECONDS["cpu"])
    return seconds


def check(config: TrainConfig, limits: Limits, device: str = "cpu", teacher: TrainConfig | None = None) -> Estimate:
    """The run's estimate, or a UserError naming the limit exceeded and the setting that sets it."""
    e = estimate(config, device, teacher)
    over = [(e.params, limits.max_params, "max_params", "parameters", "use fewer or smaller layers"),
            (e.memory_mb, limits.max_memory_mb, "max_memory_mb", "MB of memory (estimated)",
             "use smaller layers or a smaller batch"),
            (e.steps, limits.max_steps, "max_steps", "training steps", "use fewer epochs or a larger batch"),
            (e.minutes, limits.max_run_minutes, "max_run_minutes", "minutes of training (estimated)",
             "use fewer epochs or a smaller model")]
    for value, limit, key, what, fix in over:
        if value > limit:
            raise UserError(f"This run needs {value:,.0f} {what}, over the limit of {limit:,} (limits.{key} in the "
                            f"settings): {fix}.")
    return e
