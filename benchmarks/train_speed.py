"""Epoch time of the course's DataLoader pipeline vs digitlab's trainer, and the fast preset's time to 98%.

Run: .venv/bin/python benchmarks/train_speed.py [--epochs 3] [--device cpu]
Prints figures; asserts nothing (machines are noisy).
"""

import argparse
import json
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

from digitlab.datasets import data
from digitlab.learn import devices
from digitlab.learn.config import validate
from digitlab.learn.models import MLP
from digitlab.learn.presets import preset
from digitlab.learn.train import train


def course_pipeline(root, device: torch.device):
    """The course notebook's pipeline: per-sample ToTensor+Normalize through DataLoaders, same 48k/12k split."""
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    full = datasets.MNIST(str(root), train=True, download=False, transform=tf)
    perm = torch.randperm(60_000, generator=torch.Generator().manual_seed(data.SPLIT_SEED))
    loader = DataLoader(Subset(full, perm[data.VAL_SIZE :].tolist()), batch_size=64, shuffle=True)
    val = DataLoader(Subset(full, perm[: data.VAL_SIZE].tolist()), batch_size=1000)
    test = DataLoader(datasets.MNIST(str(root), train=False, download=False, transform=tf), batch_size=1000)
    torch.manual_seed(0)
    model = MLP([512, 128]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def epoch() -> tuple[float, float]:
        t0 = time.perf_counter()
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():  # validation and test every epoch, as digitlab's trainer does
            for x, y in val:
                loss_fn(model(x.to(device)), y.to(device)).item()
            correct = 0
            for x, y in test:
                correct += (model(x.to(device)).argmax(1) == y.to(device)).sum().item()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, correct / 10_000

    return epoch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3, help="timed epochs of each pipeline")
    p.add_argument("--device", default="auto")
    p.add_argument("--data")
    a = p.parse_args()
    device = devices.resolve(a.device)
    root = data.data_root(a.data)
    t0 = time.perf_counter()
    mnist = data.load(root)
    load_s = time.perf_counter() - t0
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; data load {load_s:.2f}s")

    # Epochs alternate between the two pipelines so that both see the same machine noise.
    course_epoch, course, ours = course_pipeline(root, device), [], []
    cfg = validate(preset("seed-ann", epochs=1, device=str(device)))
    for k in range(a.epochs):
        s, acc = course_epoch()
        course.append(s)
        m = train(cfg, mnist).epochs[0]
        ours.append(m["seconds"])
        print(f"  round {k + 1}: course pipeline {s:.2f}s (test acc {acc:.4f}), "
              f"digitlab {m['seconds']:.2f}s (test acc {m['test_acc']:.4f})", flush=True)
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    ratio = med(course) / med(ours)
    print("784-512-128-10, Adam 1e-3, batch 64, 48k training images/epoch plus validation (12k) and test (10k):")
    print(f"  course DataLoader pipeline {med(course):.2f}s/epoch, digitlab {med(ours):.2f}s/epoch -> {ratio:.1f}x faster")

    fast = train(validate(preset("fast", device=str(device))), mnist)
    to98 = next((sum(m["seconds"] for m in fast.epochs[:i + 1]) for i, m in enumerate(fast.epochs)
                 if m["test_acc"] >= 0.98), None)
    print(f"fast preset: test acc {fast.test_acc:.4f} (best-val checkpoint) after {fast.train_seconds:.2f}s of training; "
          f"first >= 98% test after {to98 if to98 is None else round(to98, 2)}s")
    print(json.dumps(dict(device=str(device), course_epoch_s=med(course), digitlab_epoch_s=med(ours), speedup=ratio,
                          fast_test_acc=fast.test_acc, fast_train_s=fast.train_seconds, fast_to_98_s=to98,
                          data_load_s=load_s)))


if __name__ == "__main__":
    main()
