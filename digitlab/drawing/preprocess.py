"""Any digit image -> a 28x28 MNIST-like image: cropped, scaled into 20x20, centred by centre of mass."""

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from digitlab import UserError, settings
from digitlab.drawing import pictures
from digitlab.settings import Limits

INK = 0.2            # a pixel brighter than this (in [0, 1], ink bright) is ink
MIN_INK = 0.0015     # fewer ink pixels than this fraction of the image means "nothing drawn"
STROKE = 2.5         # MNIST's typical stroke width, in pixels of the 28x28 image
MAX_SIDE = 1024      # larger images are scaled down first, before any per-pixel work
WORK_SIDE = 112      # a cropped digit larger than this is scaled down to it before its strokes are normalized
BACKGROUND = 0.04    # a median brighter than this (ink bright) is no clean background: a photo, say
MIN_CONTRAST = 0.12  # on such a background, ink stands out from it by at least this much (sensor noise does not)
SMALL = 1 / 7        # ink whose box is shorter than this share of the image's longer side (40 px of the pad's 280)
                     # is too small to read: scaled up to 20x20, a dot becomes a disc and reads as a 0


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
    if np.issubdtype(a.dtype, np.floating):  # NaN and infinities are no ink; beyond 255 is full ink
        a = np.clip(np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 255.0)
    a = a.astype(np.float32)
    if a.max() > 1.0:
        a = a / scale
    a = np.clip(a, 0.0, 1.0)
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


def _otsu(values: np.ndarray) -> float:
    """The threshold that best splits values in [0, 1] into two classes (Otsu's method, on a 256-bin histogram)."""
    counts = np.histogram(values, bins=256, range=(0.0, 1.0))[0].astype(np.float64)
    centres = (np.arange(256) + 0.5) / 256
    w0 = np.cumsum(counts)
    m0 = np.cumsum(counts * centres)
    w1, total = w0[-1] - w0, m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (m0 * w1 - (total - m0) * w0) ** 2 / (w0 * w1)
    return float(centres[np.nanargmax(np.nan_to_num(between, nan=-1.0))])


def uneven(g: np.ndarray) -> bool:
    """Whether the ink lies on a background that is not clean black: a photo rather than a drawing or a scan.

    A drawing's background is exactly black, however much of it the digit covers; a small image is a digit already
    cut out."""
    return max(g.shape) >= 64 and np.median(g) > BACKGROUND and (g < 1 / 255).mean() < 0.25


def flatten(g: np.ndarray) -> np.ndarray:
    """Ink on an uneven background (paper under a lamp, a shadow, a grey board) -> ink on black.

    The background is what a grey opening wider than any stroke leaves of the image (worked out on a copy of at most
    128 pixels a side, then smoothed and scaled back up); the rest, stretched to full contrast, is ink where it is
    above an Otsu threshold, and only in the pieces of at least a twentieth of the largest one (so no speck of
    paper texture widens the crop).
    """
    small = shrink(g, 128)
    k = max(3, max(small.shape) // 5)  # wider than the strokes of a marker
    bg = ndimage.uniform_filter(ndimage.grey_opening(small, size=(k, k)), size=k)
    ink = ndimage.uniform_filter(np.clip(g - _resize(bg.astype(np.float32), *g.shape), 0.0, None), size=3)
    top = float(np.percentile(ink, 99.9))
    if top < MIN_CONTRAST:  # paper and its noise only: nothing drawn
        return np.zeros_like(g)
    ink = np.clip(ink / top, 0.0, 1.0)
    mask = ink > max(_otsu(ink), INK)
    labels, n = ndimage.label(mask)
    if n > 1:
        sizes = np.bincount(labels.ravel())[1:]
        mask = np.isin(labels, 1 + np.flatnonzero(sizes >= sizes.max() / 20))
    return np.where(mask, ink, 0.0).astype(np.float32)


def _crop(g: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero((g > INK).any(1)), np.flatnonzero((g > INK).any(0))
    return g[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def side_by_side(crop: np.ndarray) -> int:
    """How many digits stand side by side in a drawing cropped to its ink: pieces of ink whose columns do not overlap
    (a gap of at least 4% of the width between them), each with at least a sixth of the ink. A 5 whose bar does not
    touch it, or a 4 drawn in two strokes, is one digit: its pieces overlap in columns."""
    mask = crop > INK
    labels, n = ndimage.label(mask)
    if n < 2:
        return 1
    sizes = np.bincount(labels.ravel())[1:]
    spans = sorted((int(c.start), int(c.stop), int(sizes[k])) for k, (_, c) in enumerate(ndimage.find_objects(labels))
                   if sizes[k] >= 0.05 * sizes.sum())
    gap, total, groups = 0.04 * crop.shape[1], sizes.sum(), []
    for start, stop, ink in spans:
        if groups and start < groups[-1][1] + gap:
            groups[-1] = [groups[-1][0], max(groups[-1][1], stop), groups[-1][2] + ink]
        else:
            groups.append([start, stop, ink])
    return max(1, sum(ink >= total / 6 for _, _, ink in groups))


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


def shrink(a: np.ndarray, side: int) -> np.ndarray:
    """a scaled down (area-averaged) so that its longer side is at most side; small images are returned as they are."""
    h, w = a.shape
    if max(h, w) <= side:
        return a
    s = side / max(h, w)
    return _resize(a.astype(np.float32), max(1, round(h * s)), max(1, round(w * s)))


def too_small(img) -> bool:
    """Whether the ink drawn is too small to read (see SMALL): a dot, a tick. False when nothing is drawn."""
    g = to_gray(img)
    if g is None or not (g > INK).any():
        return False
    return max(_crop(g).shape) < SMALL * max(g.shape)


def to_mnist(img: np.ndarray) -> np.ndarray | None:
    """(28, 28) float32 in [0, 1] the way MNIST was made, or None when (almost) nothing is drawn.

    The cost is bounded whatever the size: large images are scaled down first, and a large cropped digit to
    WORK_SIDE, with its contrast stretched back so that thin lines stay ink, before its strokes are normalized.
    """
    made = steps(img)
    return made[-1][1] if made else None


def steps(img: np.ndarray) -> list[tuple[str, np.ndarray]] | None:
    """Every stage of to_mnist as (what was done, the image after it), for people to see; None when nothing is drawn."""
    g = to_gray(img)
    if g is None:
        return None
    g = shrink(g, MAX_SIDE)
    made = [("gray, ink bright", g)]
    if uneven(g):
        g = flatten(g)
        made.append(("background taken away", g))
    if (g > INK).sum() < max(4, MIN_INK * g.size):
        return None
    crop = _crop(g)
    if max(crop.shape) > WORK_SIDE:
        crop = shrink(crop, WORK_SIDE)
        crop = np.clip(crop / max(crop.max(), 1e-6), 0, 1)
    made.append(("cropped to the ink", crop))
    crop = normalize_stroke(crop)
    made.append(("strokes at MNIST's width", crop))
    h, w = crop.shape
    s = 20.0 / max(h, w)
    h, w = max(1, round(h * s)), max(1, round(w * s))
    digit = np.clip(_resize(crop, h, w), 0, 1)
    total = digit.sum()
    if not total > 0:
        return None
    made.append(("longer side scaled to 20", digit))
    row = (digit.sum(1) @ np.arange(h)) / total  # centre of mass
    col = (digit.sum(0) @ np.arange(w)) / total
    top = int(np.clip(round(13.5 - row), 0, 28 - h))
    left = int(np.clip(round(13.5 - col), 0, 28 - w))
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + h, left : left + w] = digit
    made.append(("centre of mass at the centre of 28×28", out))
    return made


def read_image(source, limits: Limits | None = None) -> np.ndarray:
    """An image file (a path, or an open binary file such as an upload) as an array of at most MAX_SIDE pixels a side.

    Its bytes and its width x height are checked against the limits before anything is decoded; a JPEG is decoded
    straight at a reduced scale. Anything that is not a readable image is one sentence.
    """
    limits = limits or settings.current().limits
    name = getattr(source, "name", str(source))
    if hasattr(source, "read"):
        size = source.seek(0, 2)
        source.seek(0)
    elif Path(source).is_file():
        size = Path(source).stat().st_size
    else:
        raise UserError(f"No file at {source}: give the path of a PNG or JPEG image.")
    limits.check_bytes("upload_mb", name, size)
    too_large = (f"larger than the limit of {limits.image_pixels:,} pixels (limits.image_pixels in the settings): "
                 "send a smaller picture.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked next
            im = Image.open(source)
        with im:
            width, height = im.size
            if width * height > limits.image_pixels:
                raise UserError(f"{name} is {width} x {height} pixels, {too_large}")
            if im.format == "JPEG":
                im.draft("RGB" if im.mode != "L" else "L", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale
            im.load()
            im = _eight_bit(im)
            im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
            return np.asarray(im)
    except UserError:
        raise
    except Image.DecompressionBombError:  # Pillow's own guard, before ours: far beyond any limit
        raise UserError(f"{name} is {too_large}") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise UserError(f"{name} is not an image digitlab can read: give a PNG or JPEG file.") from None


def _eight_bit(im: Image.Image) -> Image.Image:
    """Any PIL mode as L, or RGBA when it has transparency; 16- and 32-bit images scaled by their own range."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float32)
        top = float(a.max()) if a.size else 0.0
        return Image.fromarray(pictures.to_bytes(a / top if top > 255 else a / 255) if top > 0
                               else np.zeros(a.shape, np.uint8))
    has_alpha = "A" in im.getbands() or (im.mode == "P" and "transparency" in im.info)
    return im.convert("RGBA" if has_alpha else "L")
