"""Arrays as pictures a person reads: heat maps, saliency over a drawing, many small maps tiled into one image.
RGB uint8 out, crisp pixels (no Streamlit: the pages show them with st.image)."""

import numpy as np

POSITIVE = np.array([230, 60, 40], np.float32)   # red: speaks for the class, or a unit firing
NEGATIVE = np.array([40, 110, 230], np.float32)  # blue: speaks against it


def _scaled(a: np.ndarray) -> np.ndarray:
    """a divided by its largest magnitude (so -1..1), or zeros for an all-zero array."""
    a = np.nan_to_num(np.asarray(a, dtype=np.float32))
    top = float(np.abs(a).max(initial=0.0))
    return a / top if top > 0 else np.zeros_like(a)


def to_bytes(a) -> np.ndarray:
    """Pixels in [0, 1] (NaN as 0, the rest clipped) as uint8, rounded: the one way a float image becomes bytes."""
    return (np.clip(np.nan_to_num(np.asarray(a, dtype=np.float32)), 0, 1) * 255).round().astype(np.uint8)


def enlarge(rgb: np.ndarray, scale: int) -> np.ndarray:
    """(H, W[, 3]) -> (H*scale, W*scale[, 3]) by repeating pixels."""
    return rgb.repeat(scale, 0).repeat(scale, 1)


def heat(a: np.ndarray, scale: int = 1) -> np.ndarray:
    """A signed map as RGB: red for positive, blue for negative, black for zero, each at its share of the largest."""
    s = _scaled(a)[..., None]
    rgb = np.where(s >= 0, s * POSITIVE, -s * NEGATIVE)
    return enlarge(rgb.round().astype(np.uint8), scale)


def overlay(image: np.ndarray, attribution: np.ndarray, scale: int = 8, strength: float = 0.75) -> np.ndarray:
    """The drawing in grey with the attribution over it: red where a pixel speaks for the class, blue against."""
    grey = np.clip(np.asarray(image, dtype=np.float32), 0, 1)[..., None] * 0.45 * 255  # dimmed, so colour shows
    s = _scaled(attribution)[..., None]
    colour = np.where(s >= 0, POSITIVE, NEGATIVE)
    mix = np.abs(s) * strength
    rgb = grey * (1 - mix) + colour * mix
    return enlarge(np.clip(rgb, 0, 255).round().astype(np.uint8), scale)


def tile(maps: np.ndarray, cols: int | None = None, gap: int = 1) -> np.ndarray:
    """(K, H, W) maps side by side in rows of `cols` (about square by default), `gap` pixels of NaN between them."""
    k, h, w = maps.shape
    cols = cols or int(np.ceil(np.sqrt(k)))
    rows = -(-k // cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan, np.float32)
    for i, m in enumerate(maps):
        r, c = divmod(i, cols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = m
    return out


def each_scaled(maps: np.ndarray) -> np.ndarray:
    """Every map of (K, H, W) divided by its own largest magnitude: each unit's pattern readable on its own."""
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32))
    top = np.abs(maps).reshape(len(maps), -1).max(1)
    return maps / np.where(top > 0, top, 1)[:, None, None]


def heat_tiles(maps: np.ndarray, scale: int = 4, cols: int | None = None, each: bool = False) -> np.ndarray:
    """Maps tiled and drawn as a heat map, gaps in grey; `each`: every map at its own scale."""
    tiled = tile(each_scaled(maps) if each else np.asarray(maps, dtype=np.float32), cols)
    gaps = np.isnan(tiled)
    rgb = heat(np.where(gaps, 0, tiled))
    rgb[gaps] = 70
    return enlarge(rgb, scale)


def units(vector: np.ndarray, cols: int = 32) -> np.ndarray:
    """A layer's activations (N,) as a (rows, cols) grid, padded with NaN: one cell a unit."""
    v = np.asarray(vector, dtype=np.float32).ravel()
    cols = min(cols, len(v))
    rows = -(-len(v) // cols)
    out = np.full(rows * cols, np.nan, np.float32)
    out[: len(v)] = v
    return out.reshape(rows, cols)


def grey(image: np.ndarray, scale: int = 8) -> np.ndarray:
    """A (28, 28) image in [0, 1] as an enlarged grey RGB image."""
    g = to_bytes(image)
    return enlarge(np.repeat(g[..., None], 3, -1), scale)
