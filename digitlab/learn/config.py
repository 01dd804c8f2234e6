"""Every hyperparameter of a training run, declared once: default, help, bounds and choices.

`validate`, the CLI's flags and the Train page's widgets all read the declarations below (`spec(name)`),
so a bound or a help text is written in one place only.
"""

import math
import re
import shlex
from dataclasses import asdict, dataclass, field, fields

from digitlab import UserError

MAX_NAME = 80  # characters in a run's name
LEGACY_KEYS = {"norm": "norm_layer", "normalize": "input_norm"}  # configs saved before the renames


@dataclass(frozen=True)
class Spec:
    """What a person needs to set one hyperparameter: its label, help, and the values allowed."""

    label: str                    # widget label and the subject of error messages
    help: str
    choices: tuple = ()           # allowed values of a str setting
    low: float | None = None      # bounds of a number (of each item, for a list)
    high: float | None = None
    low_open: bool = False        # True: low itself is not allowed
    high_open: bool = False
    items: tuple = (1, 16)        # a list's allowed length
    step: float | None = None     # the widget's step
    group: str = ""               # the Train form's section ("" = always shown)
    aliases: tuple = ()           # older CLI flags still accepted


def setting(default, label: str, help: str, **spec):
    """A dataclass field carrying its Spec; lists get a default_factory."""
    meta = {"spec": Spec(label, help, **spec)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


FINETUNE = "Start from a model, learn from one, more training data"
REGULARIZE, AUGMENT, SCHEDULE, MORE = ("Regularization and normalization", "Augmentation", "Momentum and schedule",
                                       "Precision and reproducibility")
MNIST_TRAIN = 60_000  # MNIST's training images, split into training and validation
MNIST_TEST = 10_000   # MNIST's test images: never used to choose anything
VAL_SIZE = 12_000     # the course's validation split, the default
TRAIN_SIZE = MNIST_TRAIN - VAL_SIZE  # training images after the default validation split


@dataclass
class TrainConfig:
    name: str = setting("", "Name", "Shown in run lists; empty means '<optimizer> <layer sizes>'.")
    model: str = setting("mlp", "Model", "mlp: fully connected layers; cnn: conv blocks (each ends in a 2x2 "
                         "max-pool), then the hidden layers as its head.", choices=("mlp", "cnn"))
    hidden: list[int] = setting([512, 128], "Hidden layer sizes", "Width of each hidden layer, e.g. 512, 128.",
                                low=1, high=65_536)
    channels: list[int] = setting([32, 64], "CNN channels", "cnn only: channels of each conv block, e.g. 32, 64.",
                                  low=1, high=1024, items=(1, 2))
    kernel: int = setting(5, "Kernel size", "cnn only: each convolution's kernel is this many pixels square (odd, "
                          "so that it keeps the image's size).", low=1, high=7, step=2)
    convs: int = setting(1, "Convolutions", "cnn only: convolutions a block has before its pool; two 3x3 see "
                         "as far as one 5x5 with fewer weights.", low=1, high=3)
    optimizer: str = setting("adam", "Optimizer", "momentum is SGD with momentum (Nesterov optional).",
                             choices=("sgd", "momentum", "adam", "adamw", "rmsprop"))
    batch_size: int = setting(64, "Batch size", "Examples per step.", low=1, high=TRAIN_SIZE, step=32)
    epochs: int = setting(10, "Epochs", "Passes over the training images (48k with the default validation split).",
                          low=1, high=1000)
    lr: float = setting(1e-3, "Learning rate", "The step size; the peak rate for the onecycle schedule.",
                        low=0, low_open=True, high=10, step=1e-4)
    device: str = setting("auto", "Device", "auto picks cuda, then mps, then cpu.",
                          choices=("auto", "cpu", "cuda", "mps"))
    dropout: float = setting(0.0, "Dropout", "Share of hidden units dropped after each hidden activation.",
                             low=0, high=1, high_open=True, step=0.05, group=REGULARIZE)
    norm_layer: str = setting("none", "Normalization layer", "A batch or layer normalization after each hidden "
                              "linear layer.", choices=("none", "batch", "layer"), group=REGULARIZE,
                              aliases=("--norm",))
    input_norm: str = setting("mnist", "Input normalization", "How pixels are scaled before the network: none "
                              "[0, 1], mnist (mean 0.1307, std 0.3081), symmetric [-1, 1].",
                              choices=("none", "mnist", "symmetric"), group=REGULARIZE, aliases=("--normalize",))
    weight_decay: float = setting(0.0, "Weight decay", "L2 penalty (decoupled for adamw).", low=0, high=10,
                                  step=1e-5, group=REGULARIZE)
    label_smoothing: float = setting(0.0, "Label smoothing", "Share of each target spread over the other classes.",
                                     low=0, high=1, high_open=True, step=0.05, group=REGULARIZE)
    rotate: float = setting(0.0, "Rotation", "Random rotation of up to this many degrees.", low=0, high=90, step=1.0,
                            group=AUGMENT)
    shear: float = setting(0.0, "Shear", "Random shear of up to this many degrees.", low=0, high=60, step=1.0,
                           group=AUGMENT)
    scale: float = setting(0.0, "Scale", "Random zoom by up to this fraction.", low=0, high=0.9, step=0.02,
                           group=AUGMENT)
    translate: float = setting(0.0, "Shift", "Random shift of up to this many pixels.", low=0, high=14, step=0.5,
                               group=AUGMENT)
    elastic: float = setting(0.0, "Elastic", "Elastic distortion of up to this many pixels.", low=0, high=14,
                             step=0.5, group=AUGMENT)
    thickness: float = setting(0.0, "Stroke width", "Share of images made bolder or thinner.", low=0, high=1,
                               step=0.1, group=AUGMENT)
    momentum: float = setting(0.9, "Momentum", "Used by the momentum optimizer.", low=0, high=1, high_open=True,
                              step=0.05, group=SCHEDULE)
    nesterov: bool = setting(False, "Nesterov", "Nesterov momentum (momentum optimizer only).", group=SCHEDULE)
    schedule: str = setting("none", "LR schedule", "How the learning rate changes over training.",
                            choices=("none", "step", "cosine", "onecycle"), group=SCHEDULE)
    step_size: int = setting(5, "Step size", "Epochs between decays of the step schedule.", low=1, high=1000,
                             group=SCHEDULE)
    gamma: float = setting(0.5, "Step gamma", "Decay factor of the step schedule.", low=0, low_open=True, high=1,
                           step=0.05, group=SCHEDULE)
    ema: float = setting(0.0, "Weight averaging", "Score and keep an exponential moving average of the weights, "
                         "updated every step with this decay (0.999: about the last thousand steps), rather than the "
                         "weights as they are at the epoch's end. 0: off.", low=0, high=1, high_open=True, step=0.001,
                         group=SCHEDULE)
    precision: str = setting("fp32", "Precision", "bf16 runs the forward pass in mixed precision: about twice as "
                             "fast on CPUs with AVX-512 BF16 or AMX and on recent GPUs; elsewhere it trains in fp32.",
                             choices=("fp32", "bf16"), group=MORE)
    seed: int = setting(0, "Seed", "Same seed, same numbers on the CPU.", low=0, high=2**32 - 1, group=MORE)
    shuffle: bool = setting(True, "Shuffle", "Reshuffle the training set every epoch.", group=MORE)
    val_size: int = setting(VAL_SIZE, "Validation images", f"How many of MNIST's {MNIST_TRAIN:,} training images are held out to "
                            "pick the best epoch's checkpoint; the rest train. The course holds out 12,000; fewer "
                            "train on more.", low=1_000, high=30_000, step=1_000, group=MORE)
    start_from: str = setting("", "Start from", "A model whose weights the run starts from: a shipped one (such as "
                              "mlp-default) or a run's best checkpoint (run:12). Its model, layer sizes, channels and "
                              "normalization layer must be the run's. Empty: random weights.", group=FINETUNE)
    my_digits: float = setting(0.0, "My digits", "Share of your saved digits added to the training set; the "
                               "rest is held out, never trained on, and scored before and after. 0: none.", low=0,
                               high=0.9, step=0.1, group=FINETUNE)
    teacher: str = setting("", "Teacher", "A model the run also learns from (knowledge distillation): its "
                           "probabilities for each training image, softened, are a second target beside the label. A "
                           "shipped model (such as cnn-default) or a run's best checkpoint (run:12), of any shape. "
                           "Empty: none.", group=FINETUNE)
    distill: float = setting(0.5, "Teacher's share", "With a teacher: the share of the loss that is matching its "
                             "probabilities (softened at temperature 4); the rest is the labels'.", low=0, high=1,
                             step=0.1, group=FINETUNE)
    fonts: float = setting(0.0, "Font digits", "Digits drawn from the training typefaces (serif, sans, mono, script, "
                           "handwriting) and stroke by stroke (flagged 1s, open 9s, crossed 7s) added to each epoch, "
                           "as a share of it: styles MNIST has few of. The held-out typefaces and variants never train. "
                           "Needs Debian's font packages (see README).", low=0, high=0.5, step=0.05, group=FINETUNE)

    def display_name(self) -> str:
        if self.name:
            return self.name
        if self.model == "cnn":
            convs = "" if (self.kernel, self.convs) == (5, 1) else f" ({self.convs}x {self.kernel}x{self.kernel})"
            return f"{self.optimizer} cnn {'-'.join(map(str, self.channels))}{convs}|{'-'.join(map(str, self.hidden))}"
        return f"{self.optimizer} {'-'.join(map(str, [784, *self.hidden, 10]))}"

    def train_size(self) -> int:
        """MNIST training images the run trains on (before font digits or My digits are added)."""
        return MNIST_TRAIN - self.val_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """A validated config from a saved dict; keys from before the renames are understood."""
        if not isinstance(values, dict):
            raise UserError(f"A configuration must be a mapping of settings, got {type(values).__name__}.")
        values = {LEGACY_KEYS.get(k, k): v for k, v in values.items()}
        unknown = sorted(str(k) for k in set(values) - set(NAMES))
        if unknown:
            raise UserError(f"Unknown setting {unknown[0]!r}: use one of {', '.join(NAMES)}.")
        return validate(cls(**values))


NAMES = tuple(f.name for f in fields(TrainConfig))
DEFAULTS = TrainConfig()


def spec(name: str) -> Spec:
    return next(f.metadata["spec"] for f in fields(TrainConfig) if f.name == name)


def kind(name: str) -> type:
    """The type of a setting's values: str, bool, int, float or list (of ints)."""
    return type(getattr(DEFAULTS, name))


def applies(name: str, model: str, optimizer: str, schedule: str) -> bool:
    """Whether a setting is used at all, given the model, optimizer and schedule (a form disables the others)."""
    cnn = model == "cnn"
    return {"channels": cnn, "kernel": cnn, "convs": cnn, "momentum": optimizer == "momentum",
            "nesterov": optimizer == "momentum", "step_size": schedule == "step",
            "gamma": schedule == "step"}.get(name, True)


def range_text(s: Spec) -> str:
    """'between 1 and 48000', 'greater than 0', 'at least 0 and below 1', ..."""
    low = None if s.low is None else f"{'greater than' if s.low_open else 'at least'} {s.low:g}"
    high = None if s.high is None else f"{'below' if s.high_open else 'at most'} {s.high:g}"
    if low and high and not s.low_open and not s.high_open:
        return f"between {s.low:g} and {s.high:g}"
    return " and ".join(filter(None, [low, high]))


def _in_range(v: float, s: Spec) -> bool:
    above = s.low is None or (v > s.low if s.low_open else v >= s.low)
    below = s.high is None or (v < s.high if s.high_open else v <= s.high)
    return above and below


def _number(name: str, v, integer: bool):
    """v as an int or a finite float, or a UserError naming the setting."""
    s = spec(name)
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    if ok and isinstance(v, float):
        ok = math.isfinite(v) and (v.is_integer() or not integer)
    if not ok:
        raise UserError(f"{s.label} must be a {'whole number' if integer else 'number'}, got {v!r}.")
    v = int(v) if integer else float(v)
    if not _in_range(v, s):
        raise UserError(f"{s.label} must be {range_text(s)}, got {v:g}.")
    return v


def _check(name: str, v):
    """One setting's value, checked against its Spec and converted to its kind."""
    s, k = spec(name), kind(name)
    if k is str:
        if not isinstance(v, str):
            raise UserError(f"{s.label} must be text, got {v!r}.")
        if s.choices and v not in s.choices:
            raise UserError(f"Unknown {s.label.lower()} {v!r}: choose one of {', '.join(s.choices)}.")
        if len(v) > MAX_NAME:
            raise UserError(f"{s.label} must be at most {MAX_NAME} characters, got {len(v)}.")
        return v
    if k is bool:
        if not isinstance(v, bool):
            raise UserError(f"{s.label} must be true or false, got {v!r}.")
        return v
    if k is list:
        lo, hi = s.items
        if not isinstance(v, (list, tuple)) or not lo <= len(v) <= hi:
            raise UserError(f"{s.label} must be a list of {lo} to {hi} whole numbers such as "
                            f"{', '.join(map(str, getattr(DEFAULTS, name)))}; got {v!r}.")
        return [_number(name, item, integer=True) for item in v]
    return _number(name, v, integer=k is int)


def validate(config: TrainConfig) -> TrainConfig:
    """Check every value once, at the edge; raise UserError with one sentence otherwise."""
    for name in NAMES:
        setattr(config, name, _check(name, getattr(config, name)))
    if config.kernel % 2 == 0:
        raise UserError(f"Kernel size must be odd (1, 3, 5 or 7) so that a convolution keeps the image's size, "
                        f"got {config.kernel}.")
    if config.nesterov and (config.optimizer != "momentum" or config.momentum == 0):
        raise UserError("Nesterov needs the momentum optimizer with momentum above 0.")
    for name, example in (("start_from", "mlp-default"), ("teacher", "cnn-default")):
        value = getattr(config, name)
        if value and not START_FROM.fullmatch(value):
            raise UserError(f"{spec(name).label} must name a shipped model (such as {example}) or a run (such as "
                            f"run:12), got {value!r}.")
    return config


START_FROM = re.compile(r"run:[0-9]{1,9}|[a-z0-9][a-z0-9._-]{0,63}")
ARCHITECTURE = ("model", "hidden", "channels", "kernel", "convs", "norm_layer", "input_norm")  # what a run shares with its start


def parse_sizes(text: str, name: str = "hidden") -> list[int]:
    """'512, 128' or '512 128' -> [512, 128]; a clear error for anything else."""
    try:
        sizes = [int(p) for p in text.replace(",", " ").split()]
    except ValueError:
        raise UserError(f"{spec(name).label} must be whole numbers separated by commas, such as 512, 128; "
                        f"got {text!r}.") from None
    return _check(name, sizes)


def changed(config: TrainConfig, base: TrainConfig = DEFAULTS) -> dict:
    """The settings of config that differ from base's (the defaults), in declaration order."""
    return {name: getattr(config, name) for name in NAMES if getattr(config, name) != getattr(base, name)}


def _text(v) -> str:
    """A setting's value as text that reads back exactly: repr for floats (0.1 stays 0.1, 1e-05 stays 1e-05)."""
    return repr(v) if isinstance(v, float) else str(v)


def command_line(config: TrainConfig) -> str:
    """The CLI command that reproduces a run's configuration exactly."""
    return " ".join(["digitlab train", shlex.join(to_argv(config))]).strip()


def to_argv(config: TrainConfig) -> list[str]:
    """The `digitlab train` arguments that rebuild config exactly (every setting off its default)."""
    argv = []
    for name, v in changed(config).items():
        flag = f"--{name.replace('_', '-')}"
        if isinstance(v, bool):
            argv.append(flag if v else f"--no-{flag[2:]}")
        else:
            argv += [flag, *map(_text, v if isinstance(v, list) else [v])]
    return argv


MAX_QUERY = 2000  # characters of one address's settings: far more than every setting at once needs


def to_query(config: TrainConfig, base: TrainConfig = DEFAULTS) -> dict[str, str]:
    """config as an address's query parameters: the settings that differ from base (the defaults, or the preset the
    address names), each as text."""
    out = {}
    for name, v in changed(config, base).items():
        if isinstance(v, bool):
            out[name] = "true" if v else "false"
        else:
            out[name] = ",".join(map(_text, v)) if isinstance(v, list) else _text(v)
    return out


def from_query(params: dict[str, str], base: TrainConfig = DEFAULTS) -> TrainConfig:
    """The config an address describes over base (to_query's reverse): every key a setting, every value checked; one
    sentence for anything else. Keys that are not settings are refused too: a mistyped link must not look like it
    worked."""
    if sum(len(str(k)) + len(str(v)) for k, v in params.items()) > MAX_QUERY:
        raise UserError(f"The address holds more than {MAX_QUERY} characters of settings: open the Train page without it.")
    values = {}
    for key, text in params.items():
        if key not in NAMES:
            raise UserError(f"The address names an unknown setting {key!r}: open the Train page without it, or fix "
                            "the link.")
        k, label = kind(key), spec(key).label
        if k is str:
            values[key] = text
        elif k is bool:
            if text not in ("true", "false"):
                raise UserError(f"{label} in the address must be true or false, got {text!r}.")
            values[key] = text == "true"
        elif k is list:
            values[key] = parse_sizes(text, key)
        else:
            try:
                values[key] = int(text) if k is int else float(text)
            except ValueError:
                raise UserError(f"{label} in the address must be a {'whole number' if k is int else 'number'}, got "
                                f"{text!r}.") from None
    return validate(TrainConfig(**{**base.to_dict(), **values}))
