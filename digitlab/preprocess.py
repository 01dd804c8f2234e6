"""Any digit image -> a 28x28 MNIST-like image: cropped, scaled into 20x20, centred by centre of mass."""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from digitlab import UserError

INK = 0.2            # a pixel brighter than this (in [0, 1], ink bright) is ink
MIN_INK = 0.0015     # fewer ink pixels than this fraction of the image means "nothing drawn"
STROKE = 2.5         # MNIST's typical stroke width, in pixels of the 28x28 image


def to_gray(img) -> np.ndarray | None:
    """An image array -> (H, W) floats in [0, 1], ink bright; None when it is no image (wrong shape, empty).

    Takes (H, W), (H, W, 1..4) (gray, gray+alpha, RGB, RGBA), uint8/uint16/bool or floats (in [0, 1] or [0, 255]).
    """
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[-1] in (1, 2, 3, 4):
        channels = a.shape[-1]
    elif a.ndim == 2:
        channels = 0
    else:
        return None
    if a.size == 0 or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        return None
    scale = 65535.0 if a.dtype == np.uint16 else 255.0
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if a.max() > 1.0:
        a = a / scale
    a = np.clip(a, 0.0, 1.0).astype(np.float32)
    if channels:
        alpha = a[..., -1] if channels in (2, 4) else None
        if alpha is not None and alpha.min() < 0.99:  # strokes on a transparent background: ink is the alpha
            return alpha
        a = a[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32) if channels >= 3 else a[..., 0]
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    return 1.0 - a if np.median(border) > 0.5 else a  # dark on light -> light on dark


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(a))[None, None]
    return F.interpolate(t, size=(h, w), mode="bilinear", antialias=True, align_corners=False)[0, 0].numpy()


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary drawing: twice its area over its boundary length."""
    boundary = (mask & ~ndimage.binary_erosion(mask)).sum()
    return 2.0 * mask.sum() / max(boundary, 1)


def _crop(g: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero((g > INK).any(1)), np.flatnonzero((g > INK).any(0))
    return g[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def normalize_stroke(crop: np.ndarray) -> np.ndarray:
    """Thicken or thin the strokes of a large drawing so that, scaled into 20x20, they are about MNIST's width."""
    scale = 20.0 / max(crop.shape)
    if scale > 0.4:  # small images (such as 28x28 digits) are left as they are
        return crop
    r = round((STROKE / scale - stroke_width(crop > 0.5)) / 2)
    if r == 0:
        return crop
    disk = np.hypot(*np.mgrid[-abs(r) : abs(r) + 1, -abs(r) : abs(r) + 1]) <= abs(r)
    if r > 0:
        return _crop(ndimage.grey_dilation(np.pad(crop, r), footprint=disk))
    thin = ndimage.grey_erosion(crop, footprint=disk)
    return _crop(thin) if (thin > INK).sum() > 0.3 * (crop > INK).sum() else crop  # never erase the digit


def to_mnist(img: np.ndarray) -> np.ndarray | None:
    """(28, 28) float32 in [0, 1] the way MNIST was made, or None when (almost) nothing is drawn."""
    g = to_gray(img)
    if g is None or (g > INK).sum() < max(4, MIN_INK * g.size):
        return None
    crop = normalize_stroke(_crop(g))
    h, w = crop.shape
    s = 20.0 / max(h, w)
    h, w = max(1, round(h * s)), max(1, round(w * s))
    digit = np.clip(_resize(crop, h, w), 0, 1)
    total = digit.sum()
    if not total > 0:
        return None
    row = (digit.sum(1) @ np.arange(h)) / total  # centre of mass
    col = (digit.sum(0) @ np.arange(w)) / total
    top = int(np.clip(round(13.5 - row), 0, 28 - h))
    left = int(np.clip(round(13.5 - col), 0, 28 - w))
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + h, left : left + w] = digit
    return out


def read_image(source) -> np.ndarray:
    """An image file (a path or an open binary file) as an array; a clear error when it is not one."""
    name = getattr(source, "name", str(source))
    if not hasattr(source, "read") and not Path(source).is_file():
        raise UserError(f"No file at {source}: give the path of a PNG or JPEG image.")
    try:
        with Image.open(source) as im:
            im.load()
            return np.asarray(im.convert("RGBA" if "A" in im.getbands() else "L"))
    except (UnidentifiedImageError, OSError, ValueError):
        raise UserError(f"{name} is not an image digitlab can read: give a PNG or JPEG file.") from None
