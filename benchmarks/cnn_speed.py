"""Where a CNN's training step spends its time on this machine, and what each CPU option does to it.

Run: .venv/bin/python benchmarks/cnn_speed.py [--steps 40] [--threads N] [--compile]
For the presets cnn (5x5 convolutions, the old cnn-default) and best-cnn (two 3x3 a block, the shipped one): the
time of a training step as train.py runs it (augmentation of the batch, forward, loss, backward, fused AdamW) in
fp32 and bf16 autocast, with contiguous and channels_last weights (and torch.compile with --compile), then
seconds an epoch (the step times steps an epoch, plus scoring validation and test). Then a torch.profiler
breakdown of one setting's steps by kind of work. Prints figures; asserts nothing (machines are noisy).
"""

import argparse
import collections
import time
from contextlib import nullcontext

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from digitlab.learn import augment, devices
from digitlab.learn.config import validate
from digitlab.datasets.data import blank_pixel
from digitlab.learn.models import build
from digitlab.learn.presets import preset
from digitlab.learn.train import make_optimizer

IMAGES = 55_000 + 8_250  # an epoch of best-cnn: 55,000 MNIST images and a 0.15 share of font digits
SCORED = 5_000 + 10_000  # validation and test, scored after every epoch


def stepper(name: str, bf16: bool, channels_last: bool, compiled: bool):
    config = validate(preset(name, device="cpu"))
    torch.manual_seed(0)
    model = build(config)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    run = torch.compile(model) if compiled else model
    opt = make_optimizer(config, model.parameters(), torch.device("cpu"))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    x, y = torch.randn(config.batch_size, 784), torch.randint(0, 10, (config.batch_size,))
    blank = blank_pixel(config.input_norm)
    precision = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else nullcontext

    def step():
        with record_function("augmentation"):
            distorted = augment.augment(x, config, blank)
        with precision():
            loss = loss_fn(run(distorted), y)
        loss.backward()
        with record_function("optimizer"):
            opt.step()
            opt.zero_grad(set_to_none=True)

    @torch.no_grad()
    def score():
        model.eval()
        with precision():
            run(torch.randn(8192, 784))
        model.train()

    return config, step, score


def timed(fn, times: int) -> float:
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    for _ in range(times):
        fn()
    return (time.perf_counter() - t0) / times


KINDS = [("convolution", ("conv",)), ("batch norm", ("batch_norm", "batchnorm")), ("pooling", ("pool",)),
         ("fully connected", ("addmm", "aten::mm", "linear")), ("activation", ("relu", "threshold")),
         ("loss", ("cross_entropy", "log_softmax", "nll_loss")), ("dropout", ("dropout", "bernoulli"))]


def breakdown(step, steps: int) -> list[tuple[str, float]]:
    """Self CPU time per kind of work, as shares: an op inside the augmentation or optimizer range counts there, the
    others by their name (and the names of the ops that called them: convolution_backward's mkldnn calls count as
    convolution)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    shares, total = collections.Counter(), 0.0
    for e in prof.events():
        names, up = [e.name], e.cpu_parent
        while up is not None:
            names.append(up.name)
            up = up.cpu_parent
        ranged = next((n for n in names if n in ("augmentation", "optimizer")), None)
        kind = ranged or next((k for n in names for k, words in KINDS if any(w in n.lower() for w in words)), "other")
        shares[kind] += e.self_cpu_time_total
        total += e.self_cpu_time_total
    return sorted(((k, v / total) for k, v in shares.items()), key=lambda kv: -kv[1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40, help="timed steps of each setting")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--compile", action="store_true", help="also time torch.compile of the model")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    native = devices.bf16_native(torch.device("cpu"))
    print(f"torch {torch.__version__}, {a.threads} threads, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"native bf16: {native}")
    best = None
    for name in ("cnn", "best-cnn"):
        for bf16 in (False, True):
            for channels_last in (False, True):
                for compiled in (False, True) if a.compile else (False,):
                    config, step, score = stepper(name, bf16, channels_last, compiled)
                    s, e = timed(step, a.steps), timed(score, 2)
                    epoch = s * IMAGES / config.batch_size + e * SCORED / 8192
                    layout = "channels_last" if channels_last else "contiguous"
                    print(f"  {name:9s} {'bf16' if bf16 else 'fp32'} {layout:13s}"
                          f"{' compiled' if compiled else ''}: {s * 1e3:6.1f} ms a step of {config.batch_size} -> "
                          f"about {epoch:5.1f} s an epoch", flush=True)
                    if name == "best-cnn" and bf16 == native and channels_last and not compiled:
                        best = step
    print("\nbest-cnn as train.py runs it here: where a step's time goes")
    for kind, share in breakdown(best, max(5, a.steps // 4)):
        print(f"  {kind:16s} {share:6.1%}")


if __name__ == "__main__":
    main()
