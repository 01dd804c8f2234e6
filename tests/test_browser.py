"""The app in a real browser: Debian's chromium driven by Playwright."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REAL

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
SEVEN = [(90, 60), (190, 55), (175, 100), (150, 160), (125, 230)]  # mouse path of a 7 on the 280x280 canvas
SHOTS = os.environ.get("DIGITLAB_SHOTS")  # a folder to save screenshots in, for people to look at

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    port = free_port()
    runs = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "DIGITLAB_RUNS": str(runs), "DIGITLAB_DATA": str(REAL.parent.parent)}
    root = Path(__file__).parent.parent
    p = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                          "--server.port", str(port)], cwd=root, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        assert time.time() < deadline and p.poll() is None, "the app did not start"
        time.sleep(0.5)
    yield url
    p.terminate()
    p.wait(10)
    subprocess.run(["pkill", "-f", f"digitlab worker --runs {runs}"], check=False)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 1100})
    yield pg
    pg.close()


def shot(pg, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def stroke(pg, canvas, points):
    box = canvas.bounding_box()
    pg.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    pg.mouse.down()
    for x, y in points[1:]:
        pg.mouse.move(box["x"] + x, box["y"] + y, steps=4)
    pg.mouse.up()


def test_draw_a_seven_and_read_the_prediction(app, page):
    page.goto(app)
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=30_000)
    hint = page.get_by_text("Draw a digit on the black square")
    hint.wait_for(timeout=10_000)  # an empty canvas shows a hint, not a prediction
    assert page.locator('[data-testid="stMetric"]').filter(has_text="Prediction").count() == 0
    stroke(page, canvas, SEVEN)
    t0 = time.perf_counter()
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
    metric.wait_for(timeout=15_000)
    latency = time.perf_counter() - t0
    value = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    print(f"prediction {value} shown {latency:.2f}s after the stroke ended")
    page.wait_for_timeout(800)
    shot(page, "draw")
    assert value == "7"
    assert page.get_by_text("What the model sees").count() == 1


@pytest.mark.skipif(not (REAL / "train-images-idx3-ubyte").exists(), reason="the real MNIST is not prepared")
def test_launch_a_run_see_it_complete_and_appear_on_runs(app, page):
    page.goto(f"{app}/train")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("textbox", name="Name").wait_for(timeout=30_000)
    sidebar.get_by_role("textbox", name="Name").fill("browser-e2e")
    sidebar.get_by_role("textbox", name="Hidden layer sizes").fill("64")
    sidebar.get_by_role("spinbutton", name="Epochs").fill("1")
    sidebar.get_by_role("button", name="Launch run").click()
    done = page.get_by_text("browser-e2e · completed")
    done.wait_for(timeout=120_000)
    shot(page, "train")
    page.goto(f"{app}/runs")
    page.get_by_text("One run in depth").wait_for(timeout=30_000)
    page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy").wait_for(timeout=60_000)
    assert page.get_by_text("browser-e2e").count() >= 1
    page.wait_for_timeout(1000)
    shot(page, "runs")


def test_upload_a_dark_on_light_photo_of_a_digit(app, page, tmp_path):
    import numpy as np
    from PIL import Image

    from digitlab import data, redraw
    from tests.conftest import FIXTURES

    x = data.read_idx(FIXTURES / "t10k-200-images-idx3-ubyte")
    y = data.read_idx(FIXTURES / "t10k-200-labels-idx1-ubyte")
    i = int(np.flatnonzero(y == 3)[0])
    photo = 255 - redraw.redraw(x[i], 300, 60, 90, 6, canvas=420)  # dark ink on white paper, off-centre
    Image.fromarray(photo).convert("RGB").save(tmp_path / "three.jpg")
    page.goto(app)
    page.get_by_text("Upload an image").click()
    page.locator('input[type="file"]').set_input_files(str(tmp_path / "three.jpg"))
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
    metric.wait_for(timeout=20_000)
    assert metric.locator('[data-testid="stMetricValue"]').inner_text().strip() == "3"
    shot(page, "upload")
