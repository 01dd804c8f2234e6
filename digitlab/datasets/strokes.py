"""Digits drawn stroke by stroke in the ways people write them that MNIST has few of: 1s with a flag and a foot,
9s with a straight, hooked or curled tail and a loop left open, crossed 7s, open 4s, flat-topped 3s.

Each variant is a few strokes in a unit box (x right, y down), drawn the way the Draw page receives a drawing:
white on a black 280x280 canvas, through a random slant, rotation, width and height, with every stroke's points
moved by a smooth wobble, at the pad's range of pen widths. Every other variant of a digit is held out: its
drawings only ever measure a model (benchmarks/styles.py), never train one, as synth's held-out typefaces.
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280
Stroke = list[tuple[float, float]]


def line(*points: tuple[float, float]) -> Stroke:
    return list(points)


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """An elliptic arc from angle start to end in degrees, on screen: 0 is right, 90 down, 270 up."""
    a = np.radians(np.linspace(start, end, max(8, int(abs(end - start) / 10))))
    return list(zip(cx + rx * np.cos(a), cy + ry * np.sin(a)))


@dataclass(frozen=True)
class Variant:
    digit: int
    name: str
    strokes: tuple
    held_out: bool


# (digit, name, strokes): the order within a digit decides which are held out (every other, from the second).
_VARIANTS = [
    (0, "oval", [arc(0.5, 0.5, 0.3, 0.46, 0, 360)]),
    (0, "oval, overlapping at the top", [arc(0.5, 0.5, 0.26, 0.45, 250, 640)]),
    (0, "round", [arc(0.5, 0.5, 0.38, 0.44, 270, 630)]),
    (1, "flag and foot", [line((0.3, 0.22), (0.55, 0.04), (0.55, 0.95)), line((0.28, 0.95), (0.82, 0.95))]),
    (1, "short flag and foot", [line((0.4, 0.16), (0.58, 0.03), (0.55, 0.97)), line((0.36, 0.97), (0.76, 0.97))]),
    (1, "flag", [line((0.33, 0.22), (0.6, 0.03), (0.6, 0.97))]),
    (1, "long flag", [line((0.27, 0.3), (0.6, 0.02), (0.57, 0.98))]),
    (1, "stick", [line((0.5, 0.03), (0.5, 0.97))]),
    (1, "curved flag and foot", [arc(0.62, 0.32, 0.3, 0.3, 160, 265) + [(0.59, 0.97)],
                                 line((0.3, 0.97), (0.86, 0.97))]),
    (2, "plain", [arc(0.5, 0.3, 0.3, 0.26, 190, 405) + [(0.18, 0.95), (0.86, 0.95)]]),
    (2, "looped", [arc(0.5, 0.28, 0.3, 0.24, 190, 400) + arc(0.3, 0.85, 0.1, 0.1, 300, 20) + [(0.88, 0.92)]]),
    (3, "two bowls", [arc(0.48, 0.27, 0.27, 0.22, 200, 450), arc(0.48, 0.72, 0.32, 0.26, 270, 500)]),
    (3, "flat top", [line((0.2, 0.05), (0.8, 0.05), (0.42, 0.42)), arc(0.48, 0.69, 0.32, 0.28, 270, 510)]),
    (4, "closed", [line((0.6, 0.03), (0.12, 0.66), (0.9, 0.66)), line((0.68, 0.3), (0.68, 0.98))]),
    (4, "open top", [line((0.22, 0.04), (0.16, 0.6), (0.86, 0.6)), line((0.7, 0.04), (0.7, 0.98))]),
    (4, "open top, one stroke", [line((0.25, 0.02), (0.2, 0.58), (0.72, 0.56), (0.72, 0.02), (0.72, 0.98))]),
    (5, "plain", [line((0.82, 0.05), (0.3, 0.05), (0.26, 0.45)), arc(0.5, 0.68, 0.31, 0.28, 220, 500)]),
    (5, "one stroke", [line((0.3, 0.05), (0.26, 0.45)) + arc(0.5, 0.68, 0.31, 0.28, 220, 500),
                       line((0.3, 0.05), (0.8, 0.07))]),
    (6, "plain", [arc(0.72, 0.62, 0.5, 0.58, 240, 180) + arc(0.47, 0.72, 0.25, 0.24, 180, 540)]),
    (6, "straight back", [line((0.7, 0.03), (0.25, 0.68)) + arc(0.5, 0.72, 0.25, 0.24, 180, 530)]),
    (7, "plain", [line((0.15, 0.08), (0.85, 0.08), (0.42, 0.97))]),
    (7, "crossed", [line((0.15, 0.08), (0.85, 0.08), (0.42, 0.97)), line((0.35, 0.5), (0.78, 0.5))]),
    (7, "hooked", [line((0.15, 0.22), (0.16, 0.06), (0.86, 0.08), (0.48, 0.97))]),
    (8, "two loops", [arc(0.5, 0.26, 0.22, 0.22, 0, 360), arc(0.5, 0.72, 0.28, 0.26, 0, 360)]),
    (8, "one stroke", [arc(0.5, 0.26, 0.22, 0.22, 90, -180) + arc(0.5, 0.72, 0.28, 0.26, 270, 630)]),
    (9, "straight tail", [arc(0.45, 0.3, 0.27, 0.25, 0, 360), line((0.72, 0.3), (0.7, 0.97))]),
    (9, "loop left open, straight tail", [arc(0.45, 0.3, 0.27, 0.25, 350, 660), line((0.72, 0.22), (0.66, 0.97))]),
    (9, "hooked tail", [arc(0.45, 0.3, 0.27, 0.25, 0, 360), line((0.72, 0.3), (0.72, 0.8))
                        + arc(0.5, 0.8, 0.22, 0.17, 0, 150)]),
    (9, "curled tail", [arc(0.47, 0.28, 0.27, 0.24, 0, 360) + arc(0.3, 0.28, 0.44, 0.69, 0, 95)]),
    (9, "one stroke, loop then tail", [arc(0.45, 0.3, 0.27, 0.25, 330, -30) + [(0.72, 0.3), (0.62, 0.97)]]),
    (9, "open loop, curled tail", [arc(0.45, 0.3, 0.27, 0.25, 340, 650) + [(0.72, 0.22)]
                                   + arc(0.32, 0.22, 0.4, 0.75, 0, 90)]),
    (9, "small loop, long tail", [arc(0.5, 0.18, 0.2, 0.16, 0, 360), line((0.7, 0.18), (0.66, 0.98))]),
    (9, "loop open at the bottom", [arc(0.45, 0.3, 0.27, 0.25, 10, -290), line((0.72, 0.08), (0.7, 0.97))]),
    (9, "angular loop", [line((0.72, 0.12), (0.3, 0.08), (0.2, 0.42), (0.72, 0.45)), line((0.72, 0.08), (0.7, 0.97))]),
    (9, "tail curled under", [arc(0.45, 0.27, 0.27, 0.23, 0, 360) + [(0.72, 0.27), (0.7, 0.75)]
                              + arc(0.45, 0.75, 0.25, 0.22, 0, 170)]),
    (1, "flag and wide foot", [line((0.32, 0.25), (0.52, 0.05), (0.52, 0.93)), line((0.12, 0.95), (0.9, 0.93))]),
    (1, "slanted flag, no foot", [line((0.2, 0.4), (0.62, 0.02), (0.5, 0.98))]),
]


def variants() -> list[Variant]:
    seen: dict[int, int] = {}
    out = []
    for digit, name, strokes in _VARIANTS:
        k = seen[digit] = seen.get(digit, -1) + 1
        out.append(Variant(digit, name, tuple(tuple(s) for s in strokes), held_out=k % 2 == 1))
    return out


def _wobble(points: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """points (N, 2) moved by a smooth random offset along the stroke: a hand is never a ruler."""
    knots = rng.normal(0, amount, (4, 2))
    t = np.linspace(0, 1, len(points))
    return points + np.stack([np.interp(t, np.linspace(0, 1, 4), knots[:, k]) for k in range(2)], 1)


def _dense(stroke: np.ndarray, step: float = 0.02) -> np.ndarray:
    """A polyline with points at most `step` apart, so that a wobble bends straight lines too."""
    out = [stroke[0]]
    for a, b in zip(stroke[:-1], stroke[1:]):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        out += [a + (b - a) * k / n for k in range(1, n + 1)]
    return np.array(out)


def render(variant: Variant, rng: np.random.Generator, canvas: int = CANVAS) -> np.ndarray:
    """One drawing of a variant as the pad would send it: (canvas, canvas) uint8, white on black, at a random
    height (40-90% of the canvas), width, slant (±15°), rotation (±8°), position and pen width (8-40 px)."""
    return draw(variant.strokes, rng, canvas)


def draw(strokes_: tuple, rng: np.random.Generator, canvas: int = CANVAS, size: tuple = (0.4, 0.9)) -> np.ndarray:
    """Strokes in a unit box drawn as render() draws a variant; size: the range of heights, as shares of the canvas."""
    height = rng.uniform(*size) * canvas
    width = height * rng.uniform(0.75, 1.25)
    slant, turn = np.tan(np.radians(rng.uniform(-15, 15))), np.radians(rng.uniform(-8, 8))
    cos, sin = np.cos(turn), np.sin(turn)
    strokes = []
    for s in strokes_:
        p = _wobble(_dense(np.array(s, np.float64)), 0.025, rng) - 0.5
        p = np.stack([p[:, 0] * width - p[:, 1] * height * slant, p[:, 1] * height], 1)
        strokes.append(p @ np.array([[cos, sin], [-sin, cos]]))
    every = np.concatenate(strokes)
    pen = rng.uniform(8, 40) * min(1.0, height / (0.7 * canvas))  # small digits are drawn with thinner pens too
    lo, hi = every.min(0) - pen, every.max(0) + pen
    room = np.maximum(canvas - (hi - lo), 0)
    shift = -lo + rng.uniform(0, 1, 2) * room
    shrink = min(1.0, (canvas - 4) / max(hi - lo))  # never off the canvas
    im = Image.new("L", (canvas, canvas))
    draw = ImageDraw.Draw(im)
    r = max(1, round(pen * shrink / 2))
    for p in strokes:
        xy = [(float(x), float(y)) for x, y in (p - lo) * shrink + lo + shift]
        draw.line(xy, fill=255, width=2 * r)
        for x, y in xy:  # a round pen: round ends and joints, as the pad draws them
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(im)


def drawings(held_out: bool = True, per_variant: int = 20, seed: int = 0):
    """Yields (variant, drawing) for every variant held out (or every other one), per_variant drawings each."""
    rng = np.random.default_rng(seed)
    for v in variants():
        if v.held_out == held_out:
            for _ in range(per_variant):
                yield v, render(v, rng)


def _star() -> Stroke:
    a = np.radians(np.arange(6) * 144 - 90)
    return list(zip(0.5 + 0.45 * np.cos(a), 0.5 + 0.45 * np.sin(a)))


def _scribble(rng: np.random.Generator) -> list[Stroke]:
    """A random zigzag or tangle: what a person draws who is not drawing a digit."""
    n = int(rng.integers(8, 16))
    return [[(float(x), float(y)) for x, y in rng.uniform(0, 1, (n, 2))]]


def _dots(rng: np.random.Generator) -> list[Stroke]:
    return [line((x, y), (x + 0.01, y)) for x, y in rng.uniform(0.3, 0.7, (int(rng.integers(1, 3)), 2))]


# Drawings that are not digits, by kind: letters that look like no digit (O, I, S, Z, B, G, q and T do), crosses,
# shapes, scribbles and dots. They only ever measure how often the Draw page says "not a digit?" (answers.py).
NON_DIGITS = {
    "letter": {
        "A": [line((0.1, 0.95), (0.5, 0.05), (0.9, 0.95)), line((0.28, 0.6), (0.72, 0.6))],
        "E": [line((0.8, 0.05), (0.2, 0.05), (0.2, 0.95), (0.8, 0.95)), line((0.2, 0.5), (0.65, 0.5))],
        "F": [line((0.8, 0.05), (0.25, 0.05), (0.25, 0.95)), line((0.25, 0.5), (0.65, 0.5))],
        "H": [line((0.2, 0.05), (0.2, 0.95)), line((0.8, 0.05), (0.8, 0.95)), line((0.2, 0.5), (0.8, 0.5))],
        "K": [line((0.2, 0.05), (0.2, 0.95)), line((0.8, 0.05), (0.2, 0.55), (0.8, 0.95))],
        "M": [line((0.1, 0.95), (0.15, 0.05), (0.5, 0.6), (0.85, 0.05), (0.9, 0.95))],
        "N": [line((0.2, 0.95), (0.2, 0.05), (0.8, 0.95), (0.8, 0.05))],
        "R": [line((0.25, 0.95), (0.25, 0.05)) + arc(0.4, 0.28, 0.3, 0.23, 270, 450) + [(0.25, 0.51), (0.8, 0.95)]],
        "W": [line((0.05, 0.05), (0.27, 0.95), (0.5, 0.35), (0.73, 0.95), (0.95, 0.05))],
        "V": [line((0.15, 0.05), (0.5, 0.95), (0.85, 0.05))],
        "a": [arc(0.45, 0.62, 0.3, 0.3, 330, 30), line((0.75, 0.3), (0.75, 0.95))],
        "h": [line((0.25, 0.02), (0.25, 0.95)), line((0.25, 0.6)) + arc(0.5, 0.6, 0.25, 0.22, 180, 360)
              + [(0.75, 0.95)]],
        "k": [line((0.25, 0.02), (0.25, 0.95)), line((0.75, 0.4), (0.25, 0.7), (0.75, 0.95))],
        "m": [line((0.1, 0.95), (0.1, 0.4)) + arc(0.3, 0.5, 0.2, 0.12, 180, 360) + [(0.5, 0.95)],
              line((0.5, 0.5)) + arc(0.7, 0.5, 0.2, 0.12, 180, 360) + [(0.9, 0.95)]],
        "x": [line((0.15, 0.1), (0.85, 0.9)), line((0.85, 0.1), (0.15, 0.9))],
    },
    "cross": {
        "plus": [line((0.5, 0.05), (0.5, 0.95)), line((0.05, 0.5), (0.95, 0.5))],
        "X of two strokes": [line((0.1, 0.05), (0.9, 0.95)), line((0.9, 0.05), (0.1, 0.95))],
        "hash": [line((0.35, 0.05), (0.3, 0.95)), line((0.7, 0.05), (0.65, 0.95)), line((0.1, 0.35), (0.9, 0.35)),
                 line((0.1, 0.65), (0.9, 0.65))],
        "asterisk": [line((0.5, 0.05), (0.5, 0.95)), line((0.1, 0.27), (0.9, 0.73)), line((0.9, 0.27), (0.1, 0.73))],
    },
    "shape": {
        "triangle": [line((0.5, 0.05), (0.95, 0.92), (0.05, 0.92), (0.5, 0.05))],
        "square": [line((0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9), (0.1, 0.1))],
        "star": [_star()],
        "heart": [arc(0.3, 0.3, 0.2, 0.2, 150, 360) + arc(0.7, 0.3, 0.2, 0.2, 180, 390) + [(0.5, 0.95), (0.13, 0.4)]],
        "arrow": [line((0.05, 0.5), (0.95, 0.5)), line((0.65, 0.2), (0.95, 0.5), (0.65, 0.8))],
        "check mark": [line((0.05, 0.55), (0.35, 0.9), (0.95, 0.05))],
        "spiral": [list(zip(0.5 + np.linspace(0.05, 0.45, 50) * np.cos(np.linspace(0, 3 * np.pi, 50)),
                            0.5 + np.linspace(0.05, 0.45, 50) * np.sin(np.linspace(0, 3 * np.pi, 50))))],
        "wave": [list(zip(np.linspace(0.02, 0.98, 40), 0.5 + 0.25 * np.sin(np.linspace(0, 4 * np.pi, 40))))],
        "smiley": [arc(0.5, 0.5, 0.45, 0.45, 0, 360), line((0.35, 0.35), (0.36, 0.36)),
                   line((0.65, 0.35), (0.66, 0.36)), arc(0.5, 0.55, 0.25, 0.2, 20, 160)],
        "equals": [line((0.1, 0.35), (0.9, 0.35)), line((0.1, 0.65), (0.9, 0.65))],
        "horizontal line": [line((0.05, 0.5), (0.95, 0.5))],
    },
}
RANDOM_NON_DIGITS = {"scribble": _scribble, "dot": _dots}


def non_digits(per_shape: int = 10, seed: int = 0):
    """Yields (kind, name, drawing) of things that are not digits: every letter, cross and shape per_shape times,
    and as many scribbles and dots, drawn the way render() draws a digit (dots small, as a dot is)."""
    rng = np.random.default_rng(seed)
    for kind, shapes in NON_DIGITS.items():
        for name, strokes_ in shapes.items():
            for _ in range(per_shape):
                yield kind, name, draw(tuple(tuple(s) for s in strokes_), rng)
    count = per_shape * len(NON_DIGITS["shape"])
    for kind, make in RANDOM_NON_DIGITS.items():
        for _ in range(count):
            size = (0.4, 0.9) if kind == "scribble" else (0.02, 0.08)
            yield kind, kind, draw(tuple(tuple(s) for s in make(rng)), rng, size=size)
