"""MNIST digits re-drawn the way people draw on the canvas: large, off-centre, thicker or thinner strokes.

A held-out check of the preprocessing: a model should read these about as well as the originals.
"""

import numpy as np
import torch
import torch.nn.functional as F

from digitlab.datasets.synth import redraw  # noqa: F401 - tests and benchmarks call it from here


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
