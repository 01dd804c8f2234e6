"""Digits in many writing styles, rendered from installed fonts the way the Draw page receives a drawing: white on
a black 280x280 canvas, at the canvas's range of sizes, positions, slants and pen widths.

Typefaces are grouped by style (serif, sans, mono, script, handwriting). Every other typeface of each style is held
out: its digits only ever measure a model (benchmarks/styles.py), never train one. Debian's font packages provide
them (see FONT_PACKAGES); a typeface that is not installed is left out, and says so.
"""

import glob
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from digitlab import UserError
from digitlab.datasets import strokes
from digitlab.drawing import pictures, preprocess
from digitlab.files import write_atomically

CANVAS = 280
FONT_PACKAGES = ("fonts-dejavu-core fonts-liberation fonts-urw-base35 fonts-texgyre fonts-freefont-ttf "
                 "fonts-comic-neue fonts-linuxlibertine fonts-crosextra-caladea fonts-crosextra-carlito "
                 "fonts-cantarell fonts-open-sans fonts-lato fonts-roboto-unhinted fonts-inconsolata fonts-hack "
                 "fonts-breip fonts-dkg-handwriting fonts-bwht fonts-dancingscript fonts-ecolier-court "
                 "fonts-femkeklaver fonts-humor-sans fonts-kaushanscript fonts-quicksand")
_U, _T = "/usr/share/fonts", "/usr/share/texmf/fonts/opentype/public/tex-gyre"

# (style, typeface, file pattern): the order within a style decides which are held out (every other, from the first).
TYPEFACES = [
    ("serif", "DejaVu Serif", f"{_U}/truetype/dejavu/DejaVuSerif*.ttf"),
    ("serif", "Liberation Serif", f"{_U}/truetype/liberation/LiberationSerif-*.ttf"),
    ("serif", "C059 (Century Schoolbook)", f"{_U}/opentype/urw-base35/C059-*.otf"),
    ("serif", "P052 (Palatino)", f"{_U}/opentype/urw-base35/P052-*.otf"),
    ("serif", "URW Bookman", f"{_U}/opentype/urw-base35/URWBookman-*.otf"),
    ("serif", "Nimbus Roman (Times)", f"{_U}/opentype/urw-base35/NimbusRoman-*.otf"),
    ("serif", "Linux Libertine", f"{_U}/opentype/linux-libertine/LinLibertine_R*.otf"),
    ("serif", "FreeSerif", f"{_U}/truetype/freefont/FreeSerif*.ttf"),
    ("serif", "Caladea", f"{_U}/truetype/crosextra/Caladea-*.ttf"),
    ("serif", "TeX Gyre Bonum", f"{_T}/texgyrebonum-*.otf"),
    ("sans", "DejaVu Sans", f"{_U}/truetype/dejavu/DejaVuSans-*.ttf"),
    ("sans", "Liberation Sans", f"{_U}/truetype/liberation/LiberationSans-*.ttf"),
    ("sans", "URW Gothic", f"{_U}/opentype/urw-base35/URWGothic-*.otf"),
    ("sans", "Nimbus Sans (Helvetica)", f"{_U}/opentype/urw-base35/NimbusSans-*.otf"),
    ("sans", "Lato", f"{_U}/truetype/lato/Lato-*.ttf"),
    ("sans", "Open Sans", f"{_U}/truetype/open-sans/OpenSans-*.ttf"),
    ("sans", "Roboto", f"{_U}/truetype/roboto/unhinted/RobotoTTF/Roboto-*.ttf"),
    ("sans", "Cantarell", f"{_U}/opentype/cantarell/Cantarell-*.otf"),
    ("sans", "Carlito", f"{_U}/truetype/crosextra/Carlito-*.ttf"),
    ("sans", "Quicksand", f"{_U}/truetype/quicksand/Quicksand-*.ttf"),
    ("mono", "DejaVu Sans Mono", f"{_U}/truetype/dejavu/DejaVuSansMono*.ttf"),
    ("mono", "Liberation Mono", f"{_U}/truetype/liberation/LiberationMono-*.ttf"),
    ("mono", "Nimbus Mono (Courier)", f"{_U}/opentype/urw-base35/NimbusMonoPS-*.otf"),
    ("mono", "Hack", f"{_U}/truetype/hack/Hack-*.ttf"),
    ("mono", "FreeMono", f"{_U}/truetype/freefont/FreeMono*.ttf"),
    ("mono", "Inconsolata", f"{_U}/truetype/inconsolata/Inconsolata*.otf"),
    ("script", "Z003 (Zapf Chancery)", f"{_U}/opentype/urw-base35/Z003-*.otf"),
    ("script", "Dancing Script", f"{_U}/opentype/dancingscript/DancingScript-*.otf"),
    ("script", "TeX Gyre Chorus", f"{_T}/texgyrechorus-*.otf"),
    ("script", "Kaushan Script", f"{_U}/opentype/kaushanscript/KaushanScript-*.otf"),
    ("script", "Ecolier", f"{_U}/truetype/ecolier-court/Ecolier-*.ttf"),
    ("handwriting", "Comic Neue", f"{_U}/opentype/comic-neue/ComicNeue-*.otf"),
    ("handwriting", "Because We Had To (6 hands)", f"{_U}/opentype/bwht/BecauseWe*.otf"),
    ("handwriting", "DKG Handwriting", f"{_U}/truetype/fifthhorseman/dkg*.ttf"),
    ("handwriting", "Breip", f"{_U}/truetype/breip/Breip.ttf"),
    ("handwriting", "Humor Sans", f"{_U}/truetype/humor-sans/Humor-Sans.ttf"),
    ("handwriting", "Femkeklaver", f"{_U}/truetype/femkeklaver/femkeklaver.ttf"),
]


@dataclass(frozen=True)
class Typeface:
    style: str
    name: str
    files: tuple[str, ...]
    held_out: bool


def typefaces() -> list[Typeface]:
    """The typefaces installed here, each with its files and whether it is held out of training."""
    out, seen = [], {}
    for style, name, pattern in TYPEFACES:
        k = seen[style] = seen.get(style, -1) + 1
        files = tuple(sorted(f for f in glob.glob(pattern) if _renders_digits(f)))
        if files:
            out.append(Typeface(style, name, files, held_out=k % 2 == 0))
    return out


@lru_cache(maxsize=None)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=None)
def _renders_digits(path: str) -> bool:
    """Whether a font has ten distinct digit glyphs (a symbol font, say, has none)."""
    try:
        shapes = {_glyph(path, str(d)).tobytes() for d in range(10)}
    except OSError:
        return False
    return len(shapes) == 10


@lru_cache(maxsize=4096)
def _glyph(path: str, char: str) -> np.ndarray:
    """A digit's glyph at 160 px, white on black, cropped to its ink: float32 in [0, 1]."""
    font = _font(path, 160)
    im = Image.new("L", (320, 320))
    ImageDraw.Draw(im).text((60, 40), char, fill=255, font=font)
    a = np.asarray(im, np.float32) / 255
    rows, cols = np.flatnonzero(a.max(1) > 0.3), np.flatnonzero(a.max(0) > 0.3)
    if len(rows) == 0:
        raise OSError("no glyph")
    return a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _disk(r: int) -> np.ndarray:
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= r * r


def render(path: str, digit: int, rng: np.random.Generator, canvas: int = CANVAS) -> np.ndarray:
    """One digit of a font as the pad would send it drawn: (canvas, canvas) uint8, white on black, at a random
    height (40-90% of the canvas), position, slant (±12°) and pen width (the pad's 8-40 px range)."""
    g = _glyph(path, str(digit))
    height = rng.uniform(0.4, 0.9) * canvas
    scale = height / g.shape[0]
    if g.shape[1] * scale > 0.9 * canvas:  # a wide glyph: its width sets the scale
        scale = 0.9 * canvas / g.shape[1]
    h, w = max(1, round(g.shape[0] * scale)), max(1, round(g.shape[1] * scale))
    a = np.asarray(Image.fromarray(pictures.to_bytes(g)).resize((w, h), Image.Resampling.BILINEAR),
                   np.float32) / 255
    pen = rng.uniform(8, 40) * min(1.0, height / (0.7 * canvas))  # small digits are drawn with thinner pens too
    r = int(np.clip(round((pen - preprocess.stroke_width(a > 0.5)) / 2), -12, 12))
    if r > 0:
        a = ndimage.grey_dilation(np.pad(a, r), footprint=_disk(r))
    elif r < 0:
        thin = ndimage.grey_erosion(a, footprint=_disk(-r))
        a = thin if (thin > 0.5).sum() > 0.35 * (a > 0.5).sum() else a  # never erase the digit
    slant = np.tan(np.radians(rng.uniform(-12, 12)))
    hh, ww = a.shape
    extra = int(abs(slant) * hh)
    im = Image.fromarray(pictures.to_bytes(a)).transform(
        (ww + extra, hh), Image.Transform.AFFINE, (1, slant, -extra if slant > 0 else 0, 0, 1, 0),
        Image.Resampling.BILINEAR)
    if max(im.size) > canvas - 4:
        im.thumbnail((canvas - 4, canvas - 4), Image.Resampling.BILINEAR)
    out = Image.new("L", (canvas, canvas))
    out.paste(im, (int(rng.integers(0, canvas - im.size[0] + 1)), int(rng.integers(0, canvas - im.size[1] + 1))))
    return np.asarray(out)


def redraw(img28, size: int, top: int, left: int, thicken: int = 0, canvas: int = 280) -> np.ndarray:
    """One (28, 28) digit (of MNIST, say) as the pad would send it drawn: (canvas, canvas) uint8, white on black.

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


def style_set(held_out: bool = True, per_font: int = 2, seed: int = 0):
    """Yields (style, typeface, font file, digit, drawing) for every font of the held-out typefaces (or the
    others), per_font drawings of each digit."""
    rng = np.random.default_rng(seed)
    for face in typefaces():
        if face.held_out != held_out:
            continue
        for path in face.files:
            for digit in range(10):
                for _ in range(per_font):
                    yield face.style, face.name, path, digit, render(path, digit, rng)


BANK_VERSION = 2  # bump when render(), the stroke variants or the preprocessing change what a bank holds
STROKES_PER_DIGIT = 400  # drawings of each digit's training stroke variants (strokes.py) in a bank


def bank(root, per_font: int = 30, seed: int = 0, report=None,
         strokes_per_digit: int = STROKES_PER_DIGIT) -> tuple[np.ndarray, np.ndarray]:
    """Font digits of the training typefaces only, and the training variants of stroke digits (strokes.py: flagged
    1s, 9s with open loops and curled tails, ...), as the model sees them: uint8 (N, 28, 28) and int64 labels.

    Made once (about a minute) and kept in the data folder, named by what it was made from; made again when the
    fonts installed change. report(line) hears about the making.
    """
    files = [path for face in typefaces() if not face.held_out for path in face.files]
    if not files:
        raise UserError(f"Font digits need Debian's font packages: apt-get install {FONT_PACKAGES}.")
    key = hashlib.sha256(repr((BANK_VERSION, per_font, seed, files, strokes_per_digit)).encode()).hexdigest()[:16]
    path = Path(root) / "synth" / f"font-digits-{key}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["x"], z["y"]
    (report or (lambda line: None))(f"drawing {len(files) * 10 * per_font} font digits and {10 * strokes_per_digit} "
                                    f"stroke digits once, into {path}")
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for font in files:
        for digit in range(10):
            for _ in range(per_font):
                seen = preprocess.to_mnist(render(font, digit, rng))
                if seen is not None:
                    xs.append(pictures.to_bytes(seen))
                    ys.append(digit)
    trained = [v for v in strokes.variants() if not v.held_out]
    for digit in range(10):
        mine = [v for v in trained if v.digit == digit]
        for k in range(strokes_per_digit):
            seen = preprocess.to_mnist(strokes.render(mine[k % len(mine)], rng))
            if seen is not None:
                xs.append(pictures.to_bytes(seen))
                ys.append(digit)
    x, y = np.stack(xs), np.array(ys, np.int64)
    # whole or not at all: two workers making it at once both end with a good file
    write_atomically(path, lambda f: np.savez_compressed(f, x=x, y=y))
    return x, y
