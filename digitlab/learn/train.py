"""The training loop: a validated config and data in, results out, progress through a callback."""

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from digitlab import UserError
from digitlab.drawing import inside
from digitlab.learn import augment, devices, health
from digitlab.learn.config import TrainConfig
from digitlab.datasets.data import MNIST, NORMALIZE, Batches, blank_pixel, normalize
from digitlab.learn.health import Verdict
from digitlab.learn.models import build

LOG_EVERY = 50  # steps between host syncs for the per-step loss and the cancel check's report
TEMPERATURE = 4.0  # softens a teacher's probabilities (Hinton et al. 2015), so that its second choices teach too


def make_optimizer(config: TrainConfig, params, device: torch.device) -> torch.optim.Optimizer:
    fused = device.type in ("cpu", "cuda")  # one kernel per parameter: ~6% faster epochs on 2 CPU cores
    lr, decay = config.lr, config.weight_decay
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=decay)
    if config.optimizer == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, nesterov=config.nesterov, weight_decay=decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay, fused=fused)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay, fused=fused)
    return torch.optim.RMSprop(params, lr=lr, weight_decay=decay)


def make_schedule(config: TrainConfig, opt, steps_per_epoch: int):
    """Returns (scheduler or None, whether it steps every batch rather than every epoch)."""
    total = config.epochs * steps_per_epoch
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=config.step_size, gamma=config.gamma), False
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total), True
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total), True
    return None, False


def step(model: nn.Module, optimizer, loss_fn, x: torch.Tensor, y: torch.Tensor, bf16: bool = False):
    """One optimizer step on a batch: the forward pass and its loss (in bfloat16 autocast where bf16), the gradients,
    the update; returns (logits, loss)."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(x)
        loss = loss_fn(logits, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return logits, loss


def averaging(model: nn.Module, ema: float):
    """(the averaged model or None, the model that is scored and kept): with ema, an average of the weights over
    about the last 1 / (1 - ema) steps (Polyak averaging), buffers (BatchNorm's statistics) included."""
    if not ema:
        return None, model
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema), use_buffers=True)
    return averaged, averaged.module


@torch.no_grad()
def loss_and_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 8192) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of model on normalized (N, 784) x."""
    model.eval()
    loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    for i in range(0, len(x), batch):
        logits = model(x[i : i + batch])
        loss += nn.functional.cross_entropy(logits, y[i : i + batch], reduction="sum")
        correct += (logits.argmax(1) == y[i : i + batch]).sum()
    return loss.item() / len(x), correct.item() / len(x)


def teacher_logits(teacher: tuple[TrainConfig, dict], input_norm: str, device: torch.device):
    """A function from a batch normalized the student's way (B, 784) to the teacher's logits (B, 10): the teacher
    (its config and weights) sees the same pixels, normalized its own way."""
    config, state = teacher
    model = build(config).to(device)
    model.load_state_dict(state)
    model.eval()
    (mean, std), (t_mean, t_std) = NORMALIZE[input_norm], NORMALIZE[config.input_norm]
    scale, shift = std / t_std, (mean - t_mean) / t_std  # pixel = x * std + mean, then the teacher's normalization

    @torch.no_grad()
    def logits(x: torch.Tensor) -> torch.Tensor:
        return model(x * scale + shift)

    return logits


def distillation_loss(logits: torch.Tensor, taught: torch.Tensor) -> torch.Tensor:
    """How far the student's softened probabilities are from the teacher's (KL divergence, scaled by T^2 so that its
    gradients weigh as much as the labels' at any temperature)."""
    t = TEMPERATURE
    return nn.functional.kl_div((logits / t).log_softmax(-1), (taught / t).log_softmax(-1), log_target=True,
                                reduction="batchmean") * t * t


@dataclass
class Result:
    epochs: list[dict] = field(default_factory=list)  # one dict of metrics per finished epoch
    best_epoch: int = 0
    best_val_acc: float = 0.0
    test_acc: float = 0.0           # of the best-validation checkpoint
    train_seconds: float = 0.0      # the loop alone, data preparation excluded
    best_state: dict | None = None  # state_dict (on CPU) of the best epoch
    cancelled: bool = False
    health: Verdict | None = None  # diverged or not learning (stopped early where the evidence was clear)
    device: str = "cpu"
    precision: str = "fp32"         # what it trained in: bf16 asked for falls back to fp32 where it is emulated
    num_params: int = 0


def check_finite(losses: list[float], epoch: int, first_step: int) -> None:
    """A run whose loss stops being a number has diverged: stop it with the step where it happened."""
    bad = next((k for k, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is not None:
        raise UserError(f"Training diverged at epoch {epoch}, step {first_step + bad + 1}: the loss became "
                        f"{losses[bad]}; lower the learning rate.")


@torch.no_grad()
def probabilities(model: nn.Module, x: torch.Tensor) -> list[list[float]]:
    """(K, 10) probabilities of normalized x (K, 784) in eval mode; the model goes back to training mode."""
    model.eval()
    probs = model(x).float().softmax(-1).cpu().tolist()
    model.train()
    return probs


def _cpu_state(model: nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


EXTRA_SHARE = 0.05  # extra training images (My digits) are repeated to about this share of an epoch


def _mixed_in(x: torch.Tensor, y: torch.Tensor, n: int, gen: torch.Generator):
    """n of (x, y): all of them repeated when n is more, a random part when it is less."""
    idx = torch.arange(n) % len(x) if n >= len(x) else torch.randperm(len(x), generator=gen)[:n]
    return x[idx], y[idx]


def train(config: TrainConfig, data: MNIST, callback=None, should_stop=None, init_state: dict | None = None,
          extra: tuple[torch.Tensor, torch.Tensor] | None = None,
          fonts: tuple[torch.Tensor, torch.Tensor] | None = None, pinned: torch.Tensor | None = None,
          teacher: tuple[TrainConfig, dict] | None = None, resume: dict | None = None) -> Result:
    """Train config's model on data; callback(event, info) gets 'start', 'steps', 'epoch' and 'best' events
    (the last with the state_dict of a new best-validation epoch), 'resume' after each epoch but the last (everything
    the loop holds: given back as resume, training goes on from there exactly as if it had never stopped),
    'snapshot' (the first layer's weights, before
    training and after each epoch) and, given pinned drawings (uint8 (K, 28, 28)), 'pinned' (their probabilities
    every LOG_EVERY steps and after each epoch). init_state: weights to start from (a
    checkpoint's); extra: more training images and labels (uint8 (N, 28, 28), int64 (N,): My digits), repeated so
    that a few dozen weigh in an epoch of 48,000; fonts: font digits (synth.bank), config.fonts of an epoch;
    teacher: the config and weights of a model whose softened probabilities of each (distorted) training image are
    config.distill of the loss."""
    with denormals_flushed():
        return _train(config, data, callback or (lambda event, info: None), should_stop or (lambda: False),
                      init_state, extra, fonts, pinned, teacher, resume)


@contextmanager
def denormals_flushed():
    """Adam's second moments of weights that rarely get a gradient sink below 1e-38, where x86 CPUs take up to 100x
    longer per operation: flushed to zero while training, a 784-128-64 Adam epoch on one core takes 0.9 s instead of
    1.6 s (the same accuracy to the last digit). The flag is the thread's: put back after, so nothing else sees it."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _cpu(value):
    """value (tensors in dicts and lists, as a state_dict holds them) copied to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu(v) for v in value)
    return value


def _train(config, data, callback, should_stop, init_state, extra, fonts, pinned, teacher, resume) -> Result:
    device = devices.resolve(config.device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)

    on_device = data.to(device)
    splits = ("train", "val", "test")
    xs = {s: normalize(getattr(on_device, f"{s}_x"), config.input_norm) for s in splits}  # (N, 784)
    ys = {s: getattr(on_device, f"{s}_y") for s in splits}
    n = len(xs["train"])
    for more, count in ((extra, lambda k: min(1000 * k, max(k, round(EXTRA_SHARE * n)))),
                        (fonts, lambda k: round(config.fonts * n))):
        if more is not None and len(more[0]) and count(len(more[0])):
            x, y = _mixed_in(*more, count(len(more[0])), gen)
            xs["train"] = torch.cat([xs["train"], normalize(x.to(device), config.input_norm)])
            ys["train"] = torch.cat([ys["train"], y.to(device)])
    batches = Batches(xs["train"], ys["train"], config.batch_size, shuffle=config.shuffle, generator=gen)

    model = build(config).to(device)
    if init_state is not None:
        model.load_state_dict(init_state)
    if config.model == "cnn":  # convolutions in NHWC: 10-20% faster steps on the CPU (benchmarks/cnn_speed.py)
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(config, model.parameters(), device)
    sched, per_step = make_schedule(config, opt, len(batches))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    taught = teacher_logits(teacher, config.input_norm, device) if teacher is not None else None

    def with_teacher(x: torch.Tensor):
        """The loss of the batch x: the labels' and the teacher's (whose forward pass runs inside the step, at the
        student's precision)."""
        return lambda logits, y: ((1 - config.distill) * loss_fn(logits, y)
                                  + config.distill * distillation_loss(logits, taught(x)))

    distort = augment.enabled(config)
    blank = blank_pixel(config.input_norm)
    bf16 = config.precision == "bf16" and devices.bf16_native(device)
    res = Result(device=str(device), num_params=model.num_params(), precision="bf16" if bf16 else "fp32")
    callback("start", {"device": str(device), "steps_per_epoch": len(batches), "num_params": res.num_params,
                       "precision": res.precision})
    callback("snapshot", {"epoch": 0, "weights": inside.snapshot(model)})
    pins = normalize(pinned.to(device), config.input_norm) if pinned is not None and len(pinned) else None

    def score_pins(epoch: int, done: int) -> None:
        if pins is not None:
            callback("pinned", {"epoch": epoch, "global_step": done, "probs": probabilities(model, pins)})

    sizes = torch.full((len(batches),), float(config.batch_size), device=device)  # each step's batch, the last shorter
    sizes[-1] = len(xs["train"]) - config.batch_size * (len(batches) - 1)
    averaged, scored = averaging(model, config.ema)
    done, windows = 0, []  # done: steps taken; windows: the mean loss of each LOG_EVERY steps, for health
    first, before = 1, 0.0  # the epoch to start at, the seconds trained before a resume
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        if sched is not None:
            sched.load_state_dict(resume["schedule"])
        if averaged is not None:
            averaged.load_state_dict(resume["averaged"])
        gen.set_state(resume["generator"])
        torch.set_rng_state(resume["rng"])
        if device.type == "cuda" and resume.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(resume["cuda_rng"], device)
        done, windows, res.epochs = resume["done"], list(resume["windows"]), list(resume["epochs"])
        res.best_epoch, res.best_val_acc, res.test_acc = resume["best_epoch"], resume["best_val_acc"], resume["test_acc"]
        res.best_state, first, before = resume["best_state"], resume["epoch"] + 1, resume["seconds"]
    t_start = time.perf_counter()
    for epoch in range(first, config.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        step_losses = torch.zeros(len(batches), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        reported = 0
        for i, (x, y) in enumerate(batches):
            if distort:
                x = augment.augment(x, config, blank)
            logits, loss = step(model, opt, loss_fn if taught is None else with_teacher(x), x, y, bf16)
            if averaged is not None:
                averaged.update_parameters(model)
            if per_step:
                sched.step()
            with torch.no_grad():
                step_losses[i] = loss.detach()  # the epoch's mean loss is weighed from these at its end
                correct += (logits.argmax(1) == y).sum()
            done += 1
            if (i + 1) % LOG_EVERY == 0 or i + 1 == len(batches):
                losses = step_losses[reported : i + 1].tolist()  # one sync per LOG_EVERY
                check_finite(losses, epoch, reported)
                windows.append(sum(losses) / len(losses))
                res.health = health.during(windows, epoch)
                callback("steps", {"epoch": epoch, "step": i + 1, "global_step": done, "losses": losses})
                reported = i + 1
                if i + 1 < len(batches):  # the epoch's end is scored after its evaluation, below
                    score_pins(epoch, done)
            if res.health is not None:
                break
            if should_stop():
                res.cancelled = True
                break
        if res.cancelled or res.health is not None:
            break
        if sched is not None and not per_step:
            sched.step()
        n = len(xs["train"])
        train_loss, train_acc = (step_losses * sizes).sum().item() / n, correct.item() / n
        val_loss, val_acc = loss_and_accuracy(scored, xs["val"], ys["val"])
        test_loss, test_acc = loss_and_accuracy(scored, xs["test"], ys["test"])  # .item() inside syncs the device
        m = dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc, val_loss=val_loss, val_acc=val_acc,
                 test_loss=test_loss, test_acc=test_acc, seconds=time.perf_counter() - t0,
                 lr=opt.param_groups[0]["lr"])
        res.epochs.append(m)
        if val_acc > res.best_val_acc or res.best_state is None:  # its checkpoint before its record
            res.best_epoch, res.best_val_acc, res.test_acc = epoch, val_acc, test_acc
            res.best_state = _cpu_state(scored)
            callback("best", {"epoch": epoch, "metrics": m, "state": res.best_state})
        callback("epoch", m)
        callback("snapshot", {"epoch": epoch, "weights": inside.snapshot(model)})
        score_pins(epoch, done)
        res.health = health.after_epoch(windows, res.epochs, last=epoch == config.epochs)
        if res.health is not None and res.health.stop:
            break
        if epoch < config.epochs:
            callback("resume", {
                "epoch": epoch, "model": _cpu(model.state_dict()), "optimizer": _cpu(opt.state_dict()),
                "schedule": sched.state_dict() if sched is not None else None,
                "averaged": _cpu(averaged.state_dict()) if averaged is not None else None,
                "generator": gen.get_state(), "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                "done": done, "windows": list(windows), "epochs": list(res.epochs), "best_epoch": res.best_epoch,
                "best_val_acc": res.best_val_acc, "test_acc": res.test_acc, "best_state": res.best_state,
                "seconds": before + time.perf_counter() - t_start})
    res.train_seconds = before + time.perf_counter() - t_start
    return res
