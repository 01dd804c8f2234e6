"""Batched data augmentation on the training device: one grid_sample per batch, no per-sample Python.

Random affine (rotation, scale, translation, shear) and elastic distortion are folded into one sampling grid;
stroke thickness varies by a half-strength 3x3 dilation or erosion of a random share of the batch (full
strength wipes out thin strokes at 28x28). Grids and morphology are built from elementwise tensor ops: on a
2-core CPU, F.affine_grid, F.max_pool2d and F.interpolate cost 5-10x more for these tiny images.
"""

import functools
import math

import torch
import torch.nn.functional as F

from digitlab.learn.config import TrainConfig

COARSE = 5  # the elastic field is random on a COARSE x COARSE lattice, smoothly interpolated to 28 x 28


def enabled(config: TrainConfig) -> bool:
    return any((config.rotate, config.scale, config.translate, config.shear, config.elastic, config.thickness))


@functools.cache
def _lattice(device: torch.device):
    """Pixel centres in grid_sample's [-1, 1] coordinates, and the coarse-to-fine interpolation matrix."""
    t = (torch.arange(28, device=device, dtype=torch.float32) * 2 + 1) / 28 - 1  # (28,)
    knots = torch.linspace(-1, 1, COARSE, device=device)
    w = torch.relu(1 - (t[:, None] - knots[None]).abs() * (COARSE - 1) / 2)  # (28, COARSE) hat functions
    return t, w / w.sum(1, keepdim=True)


def _dilate(img: torch.Tensor, sign: float) -> torch.Tensor:
    """3x3 max (sign 1) or min (sign -1) filter of (B, 28, 28) as shifted maxima."""
    p = F.pad(img * sign, (1, 1, 1, 1), value=-1e9)
    out = p[:, 1:-1, 1:-1]
    for dy in range(3):
        for dx in range(3):
            out = torch.maximum(out, p[:, dy : dy + 28, dx : dx + 28])
    return out * sign


def augment(x: torch.Tensor, config: TrainConfig, background: float) -> torch.Tensor:
    """Distort a batch of normalized images (B, 784); background is the normalized value of a blank pixel."""
    b, dev = len(x), x.device
    img = x.view(b, 28, 28) - background  # so that what the grid pulls in from outside is blank

    def u(*shape, lo=-1.0, hi=1.0):
        return torch.empty(b, *shape, device=dev).uniform_(lo, hi)

    if config.rotate or config.scale or config.translate or config.shear or config.elastic:
        t, w = _lattice(dev)
        angle, shear = u(1, 1) * math.radians(config.rotate), u(1, 1) * math.radians(config.shear)
        zoom = 1 + u(1, 1) * config.scale
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        xs, ys = t[None, None, :], t[None, :, None]  # output pixel (x, y) -> input (gx, gy)
        gx = (cos * xs + (cos * tan - sin) * ys) / zoom + u(1, 1) * config.translate / 14
        gy = (sin * xs + (sin * tan + cos) * ys) / zoom + u(1, 1) * config.translate / 14
        if config.elastic:
            field = w @ u(2, COARSE, COARSE) @ w.T * (config.elastic / 14)  # (B, 2, 28, 28), smooth, in grid units
            gx, gy = gx + field[:, 0], gy + field[:, 1]
        grid = torch.stack([gx.expand(b, 28, 28), gy.expand(b, 28, 28)], -1)
        img = F.grid_sample(img[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0]
    img = img + background
    if config.thickness:
        which = u(1, 1, lo=0.0, hi=1.0)
        img = torch.where(which < config.thickness / 2, 0.5 * (img + _dilate(img, 1.0)),
                          torch.where(which > 1 - config.thickness / 2, 0.5 * (img + _dilate(img, -1.0)), img))
    return img.reshape(b, 784)


# What each augmentation looks like at a telling strength, for the Data page's previews.
SHOWN = {"rotate": 15.0, "shear": 15.0, "scale": 0.15, "translate": 3.0, "elastic": 2.0, "thickness": 1.0}


def examples(images: torch.Tensor, config: TrainConfig, copies: int = 7, seed: int = 0) -> torch.Tensor:
    """copies augmented versions of each image (N, 28, 28) in [0, 1]: (N, copies, 28, 28), the same for the same seed,
    without touching the global random state that training uses."""
    x = images.float().reshape(len(images), 1, 784).expand(-1, copies, -1).reshape(-1, 784)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = augment(x, config, background=0.0)
    return out.clamp(0, 1).reshape(len(images), copies, 28, 28)
