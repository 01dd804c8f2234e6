"""The exported script of a preset against digitlab's own run of it, on the full MNIST: test accuracy of each, and
the script's epoch time against digitlab's and the course's DataLoader pipeline (benchmarks/train_speed.py).

Run: .venv/bin/python benchmarks/export_parity.py [--presets compare-adam seed-assignment] [--epochs N]
Each exported script runs in its own process (python run.py --data ...), as a student would run it. Prints figures;
asserts nothing (machines are noisy).
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from train_speed import course_pipeline

from digitlab.course import export
from digitlab.datasets import data
from digitlab.learn import devices
from digitlab.learn.presets import preset
from digitlab.learn.train import train


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["compare-adam", "seed-assignment"])
    p.add_argument("--epochs", type=int, help="instead of each preset's own")
    p.add_argument("--course-epochs", type=int, default=2, help="epochs of the course's pipeline to time")
    a = p.parse_args()
    root = data.data_root()
    data.prepare(root)
    device = devices.resolve("cpu")
    epoch = course_pipeline(root, device)
    course = [epoch()[0] for _ in range(a.course_epochs)]
    print(f"course DataLoader pipeline (784-512-128-10, batch 64): {sum(course) / len(course):.2f} s/epoch")
    for name in a.presets:
        config = preset(name, device="cpu", **({"epochs": a.epochs} if a.epochs else {}))
        t0 = time.perf_counter()
        res = train(config, data.load(root, val_size=config.val_size))
        ours = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as d:
            script = Path(d) / "run.py"
            script.write_text(export.script(config, name))
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, str(script), "--data", str(root), "--out", str(Path(d) / "run.pt")],
                                 capture_output=True, text=True, check=True).stdout
            theirs = time.perf_counter() - t0
            saved = torch.load(Path(d) / "run.pt", weights_only=True)["metrics"]
        seconds = [float(s) for s in re.findall(r"\((\d+\.\d+) s\)", out)]
        print(f"\n{name} ({config.epochs} epochs, {config.display_name()}):")
        print(f"  digitlab: test {res.test_acc:.2%} (best epoch {res.best_epoch}), "
              f"{res.train_seconds / config.epochs:.2f} s/epoch, {ours:.0f} s in all")
        print(f"  exported script: test {saved['test_acc']:.2%} (best epoch {saved['epoch']}), "
              f"{sum(seconds) / len(seconds):.2f} s/epoch, {theirs:.0f} s in all with its start")
        print(f"  difference: {abs(saved['test_acc'] - res.test_acc) * 100:.2f} percentage points")


if __name__ == "__main__":
    main()
