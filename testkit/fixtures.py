"""Data for tests and benchmarks: tiny synthetic IDX sets, the 200 official test digits that ship with the tests,
and the real MNIST when it is prepared."""

import hashlib
import struct
import time
import zlib
from pathlib import Path

import numpy as np

from digitlab.datasets import data

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT / "tests" / "fixtures"
REAL_ROOT = PROJECT / "data"  # where scripts/setup prepares the real set
REAL = data.raw_dir(REAL_ROOT)


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable stand-ins for digits: class k is a bright bar at rows 2+2k, over noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.uint8)
    x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 2 + 2 * k : 4 + 2 * k, 4:24] = 255
    return x, y


def write_dataset(root: Path, n_train: int = 500, n_test: int = 200) -> Path:
    """A tiny set in torchvision's layout under root; returns root."""
    raw = data.raw_dir(root)
    raw.mkdir(parents=True)
    xtr, ytr = synthetic_digits(n_train, 0)
    xte, yte = synthetic_digits(n_test, 1)
    data.write_idx(raw / "train-images-idx3-ubyte", xtr)
    data.write_idx(raw / "train-labels-idx1-ubyte", ytr)
    data.write_idx(raw / "t10k-images-idx3-ubyte", xte)
    data.write_idx(raw / "t10k-labels-idx1-ubyte", yte)
    return root


def prepared_dataset(root: Path) -> Path:
    """write_dataset, then prepared (and stamped) through the real MD5 check, its own digests standing in for the
    official ones only while it is: for servers and subprocesses that read the set as it is on disk."""
    write_dataset(root)
    official = data.MD5
    data.MD5 = digests(root)
    try:
        data.prepare(root)
    finally:
        data.MD5 = official
    return root


def digests(root: Path) -> dict[str, str]:
    """MD5 of each of a set's four files: what a tiny set's 'official' checksums are."""
    raw = data.raw_dir(root)
    return {name: hashlib.md5((raw / name).read_bytes()).hexdigest() for name in data.MD5}


def real_prepared() -> bool:
    return data.is_prepared(REAL_ROOT)


def official_test_digits(n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """The first n official test digits (uint8) and labels: from the real set when prepared, else the 200 shipped."""
    if (REAL / "t10k-images-idx3-ubyte").exists():
        folder, prefix = REAL, "t10k"
    else:
        folder, prefix = FIXTURES, "t10k-200"
    x = data.read_idx(folder / f"{prefix}-images-idx3-ubyte")
    y = data.read_idx(folder / f"{prefix}-labels-idx1-ubyte")
    return x[:n], y[:n].astype(int)


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height and whose data is one tiny compressed row."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def wait_for(condition, seconds: float = 60, what: str = "the condition") -> None:
    """Poll condition until it holds; fail the test, naming what never happened, after seconds."""
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
