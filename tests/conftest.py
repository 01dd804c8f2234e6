"""Shared fixtures: tiny IDX data sets written per test, and a fresh run store."""

from pathlib import Path

import numpy as np
import pytest
import torch

from digitlab import data

FIXTURES = Path(__file__).parent / "fixtures"
REAL = data.raw_dir(Path(__file__).parent.parent / "data")


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable stand-ins for digits: class k is a bright bar at rows 2+2k, over noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.uint8)
    x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 2 + 2 * k : 4 + 2 * k, 4:24] = 255
    return x, y


def write_dataset(root: Path, n_train: int = 500, n_test: int = 200) -> Path:
    raw = data.raw_dir(root)
    raw.mkdir(parents=True)
    xtr, ytr = synthetic_digits(n_train, 0)
    xte, yte = synthetic_digits(n_test, 1)
    data.write_idx(raw / "train-images-idx3-ubyte", xtr)
    data.write_idx(raw / "train-labels-idx1-ubyte", ytr)
    data.write_idx(raw / "t10k-images-idx3-ubyte", xte)
    data.write_idx(raw / "t10k-labels-idx1-ubyte", yte)
    return root


@pytest.fixture
def tiny_root(tmp_path) -> Path:
    return write_dataset(tmp_path / "data")


@pytest.fixture
def tiny(tiny_root) -> data.MNIST:
    return data.load(tiny_root, verify=False)


@pytest.fixture
def unverified(monkeypatch):
    """Let the CLI and workers use the tiny, unofficial files (they fail the official MD5s by design)."""
    real_load = data.load
    monkeypatch.setattr(data, "load", lambda root=None, verify=True: real_load(root, verify=False))
    monkeypatch.setattr(data, "prepare", lambda root=None, report=None: data.raw_dir(root))
    monkeypatch.setattr(data, "is_prepared", lambda root=None: True)


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("DIGITLAB_RUNS", str(root))
    return root


def real_mnist() -> data.MNIST | None:
    return data.load(REAL.parent.parent) if data.is_prepared(REAL.parent.parent) else None


needs_real = pytest.mark.skipif(not data.is_prepared(REAL.parent.parent), reason="the real MNIST is not prepared")


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)
