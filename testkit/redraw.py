"""MNIST digits re-drawn the way people draw on the canvas: large, off-centre, thicker or thinner strokes.

A held-out check of the preprocessing: a model should read these about as well as the originals.
"""

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


def redraw(img28, size: int, top: int, left: int, thicken: int = 0, canvas: int = 280) -> np.ndarray:
    """One (28, 28) digit as a (canvas, canvas) uint8 drawing, white on black.

    size: pixels of the digit's longer side; (top, left): where its box starts;
    thicken: pixels added to (or, negative, taken from) each side of every stroke.
    """
    a = np.asarray(img28, dtype=np.float32)
    a = a / 255 if a.max() > 1 else a
    rows, cols = np.flatnonzero(a.max(1) > 0.1), np.flatnonzero(a.max(0) > 0.1)
    a = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    s = size / max(a.shape)
    h, w = max(1, round(a.shape[0] * s)), max(1, round(a.shape[1] * s))
    big = F.interpolate(torch.from_numpy(a)[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    big = big.clamp(0, 1).numpy()
    if thicken:
        disk = _disk(abs(thicken))
        op = ndimage.grey_dilation if thicken > 0 else ndimage.grey_erosion
        big = op(np.pad(big, abs(thicken)), footprint=disk)
        h, w = big.shape
    top, left = int(np.clip(top, 0, canvas - h)), int(np.clip(left, 0, canvas - w))
    out = np.zeros((canvas, canvas), np.float32)
    out[top : top + min(h, canvas), left : left + min(w, canvas)] = big[:canvas, :canvas]
    return (out * 255).round().astype(np.uint8)


def _disk(r: int) -> np.ndarray:
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= r * r


VARIANTS = [(size, thicken) for size in (110, 180, 250) for thicken in (-2, 0, 4, 8)]


def redraw_set(images, seed: int = 0, canvas: int = 280):
    """Every image in every VARIANT at a random position: yields (variant, index, drawing)."""
    rng = np.random.default_rng(seed)
    for v in VARIANTS:
        size, thicken = v
        for i, img in enumerate(images):
            room = canvas - size - 2 * max(thicken, 0)
            yield v, i, redraw(img, size, rng.integers(0, room + 1), rng.integers(0, room + 1), thicken, canvas)


def photo(drawing, seed: int = 0, size=(1200, 900), shadow: float = 0.4, noise: float = 0.03) -> np.ndarray:
    """A white-on-black drawing as a phone photo of ink on paper: (h, w, 3) uint8, the digit in the middle third,
    dark ink on paper lit unevenly (a gradient and a soft shadow darkening it by up to `shadow`), with sensor noise.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    ink = np.asarray(drawing, np.float32) / 255
    side = min(h, w) // 2
    ink = F.interpolate(torch.from_numpy(ink)[None, None], size=(side, side), mode="bilinear")[0, 0].numpy()
    canvas = np.zeros((h, w), np.float32)
    top, left = (h - side) // 2 + rng.integers(-h // 8, h // 8), (w - side) // 2 + rng.integers(-w // 8, w // 8)
    canvas[top : top + side, left : left + side] = ink
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    light = 0.95 - shadow * 0.5 * (1 + np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5))  # a gradient
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    light -= shadow * 0.5 * np.exp(-((yy * max(h, w) - cy) ** 2 + (xx * max(h, w) - cx) ** 2) / (0.3 * max(h, w)) ** 2)
    paper = light * (1 - 0.8 * canvas) + rng.normal(0, noise, (h, w))
    tint = np.array([1.0, 0.97, 0.9], np.float32)  # warm indoor light
    return (np.clip(paper[..., None] * tint, 0, 1) * 255).astype(np.uint8)
