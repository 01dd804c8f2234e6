"""How well the shipped models read digits in writing styles MNIST has few of: a held-out set, never trained on.

Run: .venv/bin/python benchmarks/styles.py [--per-font 2] [--models checkpoints/mlp-default.pt ...]
The set: every font of the held-out typefaces of digitlab.datasets.synth (serif, sans, mono, script, handwriting; install
them with `apt-get install $FONT_PACKAGES`, listed in synth.py), each digit drawn per_font times on the 280x280
canvas at random sizes, positions, slants and pen widths; the held-out variants of stroke digits (digitlab.datasets.strokes:
flagged 1s, 9s with open loops and curled tails, ...); plus MNIST test digits re-drawn on the canvas (testkit).
Every drawing goes through the app's own preprocessing (preprocess.to_mnist). Prints accuracy per style, per
typeface, per digit, the commonest confusions, and the time per drawing; asserts nothing.

--browser N also sends N of the held-out drawings through the real app in headless Chromium (uploaded as PNGs on
the Draw page, the shipped MLP reading them) and counts how often what the page shows is the label, and how often
it is what the core computes here.
"""

import argparse
import collections
import time

import numpy as np

from digitlab.datasets import strokes, synth
from digitlab.drawing import preprocess
from digitlab.learn import checkpoint
from digitlab.learn.checkpoint import SHIPPED
from testkit import redraw
from testkit.fixtures import official_test_digits


def drawings(per_font: int, seed: int):
    """(style, typeface, digit, 28x28 the model sees) of the held-out set."""
    for style, face, _, digit, img in synth.style_set(held_out=True, per_font=per_font, seed=seed):
        yield style, face, digit, preprocess.to_mnist(img)
    for v, img in strokes.drawings(held_out=True, per_variant=10 * per_font, seed=seed):
        yield "strokes", f"{v.digit}: {v.name}", v.digit, preprocess.to_mnist(img)
    x, y = official_test_digits(500)
    for (size, thicken), i, img in redraw.redraw_set(x[:250], seed=seed):
        yield "MNIST re-drawn", f"size {size}, stroke {thicken:+d}", int(y[i]), preprocess.to_mnist(img)


def through_the_browser(n: int, seed: int) -> None:
    import tempfile
    from pathlib import Path

    from PIL import Image
    from playwright.sync_api import sync_playwright

    from testkit.browser import READING, launch_browser, running_app

    ck = checkpoint.load(SHIPPED / "mlp-default.pt")
    rng = np.random.default_rng(seed)
    every = list(synth.style_set(held_out=True, per_font=1, seed=seed))
    picked = [every[i] for i in rng.choice(len(every), min(n, len(every)), replace=False)]
    shown, core, t = [], [], []
    with tempfile.TemporaryDirectory() as tmp, running_app({"DIGITLAB_RUNS": tmp}) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for k, (style, face, _, digit, img) in enumerate(picked):
            path = Path(tmp) / f"{k}-{digit}.png"
            Image.fromarray(img).save(path)
            page.goto(url)  # a fresh page each time: the answer on screen is this drawing's
            page.get_by_text("Upload an image").click()
            t0 = time.perf_counter()
            page.locator('input[type="file"]').set_input_files(str(path))
            page.locator(READING).first.wait_for(timeout=20_000)
            t.append(time.perf_counter() - t0)
            headline = page.locator(".headline").first.inner_text().strip()
            mine = int(ck.predict_proba(preprocess.to_mnist(img)[None])[0].argmax())
            shown.append(headline == str(digit))
            core.append(headline.split(" ")[0] == str(mine))
        browser.close()
    print(f"\n== through the browser: {len(picked)} held-out font drawings uploaded on the Draw page (mlp-default)")
    print(f"   the page read {np.mean(shown):.2%} right; it showed what the core computes in {np.mean(core):.2%}; "
          f"median {np.median(t):.2f} s from upload to answer")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-font", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--browser", type=int, default=0, help="also send this many drawings through the real app")
    p.add_argument("--models", nargs="+", default=[str(SHIPPED / "mlp-default.pt"), str(SHIPPED / "cnn-default.pt")])
    a = p.parse_args()
    faces = synth.typefaces()
    print(f"typefaces installed: {len(faces)}, held out: {sum(f.held_out for f in faces)} "
          f"({', '.join(f.name for f in faces if f.held_out)})")
    t0 = time.perf_counter()
    rows = list(drawings(a.per_font, a.seed))
    seconds = time.perf_counter() - t0
    print(f"{len(rows)} drawings, {seconds / len(rows) * 1000:.1f} ms each to render and preprocess")
    x = np.stack([r[3] if r[3] is not None else np.zeros((28, 28), np.float32) for r in rows])
    y = np.array([r[2] for r in rows])
    for path in a.models:
        ck = checkpoint.load(path)
        pred = np.concatenate([ck.predict_proba(x[i : i + 4096]).argmax(1) for i in range(0, len(x), 4096)])
        hit = pred == y
        print(f"\n== {path}: {hit.mean():.2%} of all {len(y)}")
        for key, title in ((0, "style"), (1, "typeface")):
            groups = collections.defaultdict(list)
            for r, h in zip(rows, hit):
                groups[r[key] if key == 0 else (r[0], r[1])].append(h)
            order = sorted(groups, key=lambda g: np.mean(groups[g]))
            shown = order if key == 0 else order[:12]
            print(f"-- per {title}" + ("" if key == 0 else " (the 12 hardest)"))
            for g in shown:
                print(f"   {g if key == 0 else ' / '.join(g):<48} {np.mean(groups[g]):7.2%}  of {len(groups[g])}")
        kind = np.array([{"MNIST re-drawn": 2, "strokes": 1}.get(r[0], 0) for r in rows])
        print("-- per digit (fonts / strokes / MNIST re-drawn)")
        for d in range(10):
            print(f"   {d}: " + " / ".join(f"{hit[(kind == k) & (y == d)].mean():7.2%}" for k in range(3)))
        wrong = collections.Counter((int(t), int(q)) for t, q in zip(y[~hit], pred[~hit]))
        print("-- commonest mistakes (true -> read): " + ", ".join(f"{t}->{q} x{n}" for (t, q), n in wrong.most_common(8)))
    if a.browser:
        through_the_browser(a.browser, a.seed)


if __name__ == "__main__":
    main()
