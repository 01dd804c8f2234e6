"""Every hyperparameter of a training run, as one typed, validated dataclass."""

from dataclasses import asdict, dataclass, field, fields

from digitlab import UserError

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")
NORMS = ("none", "batch", "layer")
NORMALIZATIONS = ("none", "mnist", "symmetric")
SCHEDULES = ("none", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")
MODELS = ("mlp", "cnn")


@dataclass
class TrainConfig:
    name: str = ""                       # shown in run lists; empty means "<optimizer> <hidden>"
    model: str = "mlp"                   # mlp, or cnn (conv blocks, then the hidden layers as its head)
    hidden: list[int] = field(default_factory=lambda: [512, 128])  # hidden layer widths
    channels: list[int] = field(default_factory=lambda: [32, 64])  # cnn: channels of each 5x5 conv block
    dropout: float = 0.0                 # after each hidden activation, in [0, 1)
    norm: str = "none"                   # none / batch / layer, after each hidden linear
    normalize: str = "mnist"             # input normalization: none [0,1], mnist, symmetric [-1,1]
    optimizer: str = "adam"              # sgd, momentum, adam, adamw, rmsprop
    lr: float = 1e-3                     # learning rate (peak rate for onecycle)
    momentum: float = 0.9                # used by the momentum optimizer
    nesterov: bool = False               # Nesterov momentum for the momentum optimizer
    weight_decay: float = 0.0            # L2 penalty (decoupled for adamw)
    batch_size: int = 64
    epochs: int = 10
    shuffle: bool = True                 # reshuffle the training set every epoch
    schedule: str = "none"               # LR schedule: none, step, cosine, onecycle
    step_size: int = 5                   # epochs between decays for the step schedule
    gamma: float = 0.5                   # decay factor for the step schedule
    label_smoothing: float = 0.0         # in [0, 1)
    rotate: float = 0.0                  # augmentation: random rotation up to this many degrees
    scale: float = 0.0                   # augmentation: random zoom by up to this fraction
    translate: float = 0.0               # augmentation: random shift up to this many pixels
    shear: float = 0.0                   # augmentation: random shear up to this many degrees
    elastic: float = 0.0                 # augmentation: elastic distortion of up to this many pixels
    thickness: float = 0.0               # augmentation: share of images dilated or eroded (stroke width)
    seed: int = 0                        # same seed, same numbers on CPU
    device: str = "auto"                 # auto (cuda > mps > cpu), cpu, cuda, mps
    precision: str = "fp32"              # fp32, or bf16: mixed-precision forward pass (faster on CPUs with AVX512-BF16 and GPUs)

    def display_name(self) -> str:
        if self.name:
            return self.name
        if self.model == "cnn":
            return f"{self.optimizer} cnn {'-'.join(map(str, self.channels))}|{'-'.join(map(str, self.hidden))}"
        return f"{self.optimizer} {'-'.join(map(str, [784, *self.hidden, 10]))}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UserError(f"Unknown setting {unknown[0]!r}: use one of {', '.join(sorted(known))}.")
        return validate(cls(**d))


def _choice(value: str, options: tuple, what: str) -> None:
    if value not in options:
        raise UserError(f"Unknown {what} {value!r}: choose one of {', '.join(options)}.")


def validate(c: TrainConfig, train_size: int = 48_000) -> TrainConfig:
    """Check every value once, at the edge; raise UserError with one sentence otherwise."""
    _choice(c.model, MODELS, "model")
    _choice(c.optimizer, OPTIMIZERS, "optimizer")
    _choice(c.norm, NORMS, "norm")
    _choice(c.normalize, NORMALIZATIONS, "normalization")
    _choice(c.schedule, SCHEDULES, "schedule")
    _choice(c.device, DEVICES, "device")
    _choice(c.precision, PRECISIONS, "precision")
    if not c.hidden:
        raise UserError("An MLP needs at least one hidden layer: give sizes such as --hidden 512 128.")
    if any(int(h) != h or h < 1 for h in c.hidden):
        raise UserError(f"Hidden sizes must be whole numbers of at least 1, got {c.hidden}.")
    if c.model == "cnn" and (not 1 <= len(c.channels) <= 2 or any(int(k) != k or k < 1 for k in c.channels)):
        raise UserError(f"A cnn takes one or two conv blocks of at least 1 channel, such as --channels 32 64; got {c.channels}.")
    if not c.lr > 0:
        raise UserError(f"The learning rate must be greater than 0, got {c.lr}.")
    if not 1 <= c.batch_size <= train_size:
        raise UserError(f"The batch size must be between 1 and {train_size} (the training set), got {c.batch_size}.")
    if c.epochs < 1:
        raise UserError(f"Train for at least 1 epoch, got {c.epochs}.")
    if not 0 <= c.dropout < 1:
        raise UserError(f"Dropout must be in [0, 1), got {c.dropout}.")
    if not 0 <= c.label_smoothing < 1:
        raise UserError(f"Label smoothing must be in [0, 1), got {c.label_smoothing}.")
    if not 0 <= c.momentum < 1:
        raise UserError(f"Momentum must be in [0, 1), got {c.momentum}.")
    if c.nesterov and (c.optimizer != "momentum" or c.momentum == 0):
        raise UserError("Nesterov needs the momentum optimizer with momentum above 0.")
    if c.weight_decay < 0:
        raise UserError(f"Weight decay must be 0 or more, got {c.weight_decay}.")
    for name, hi in (("rotate", 90), ("scale", 0.9), ("translate", 14), ("shear", 60), ("elastic", 14),
                     ("thickness", 1)):
        if not 0 <= getattr(c, name) <= hi:
            raise UserError(f"The {name} augmentation must be between 0 and {hi}, got {getattr(c, name)}.")
    if c.step_size < 1 or not 0 < c.gamma <= 1:
        raise UserError("The step schedule needs a step size of at least 1 epoch and a gamma in (0, 1].")
    c.hidden = [int(h) for h in c.hidden]
    c.channels = [int(k) for k in c.channels]
    return c


def parse_hidden(text: str, what: str = "Hidden sizes") -> list[int]:
    """'512, 128' or '512 128' -> [512, 128]; a clear error for anything else."""
    parts = text.replace(",", " ").split()
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise UserError(f"{what} must be whole numbers separated by commas, such as 512, 128; got {text!r}.") from None
    if not sizes or min(sizes) < 1:
        raise UserError(f"{what}: give at least one number, each at least 1, such as 512, 128; got {text!r}.")
    return sizes
