"""Driving the app in Debian's chromium with Playwright: start the app, draw strokes on the canvas."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
PAD = 'canvas[aria-label="Drawing pad"][data-ready]'  # the Draw page's canvas (app/components/pad.py), once its script
# listens: found through its shadow root
READING = ".reading"  # the Draw page's answer (app/components/answer.js), shown once something is drawn
SEVEN = [(90, 60), (190, 55), (175, 100), (150, 160), (125, 230)]  # mouse path of a 7 on the 280x280 canvas
PROJECT = Path(__file__).resolve().parent.parent
NAV = ["Lessons", "Draw", "Train", "Runs", "Inside", "Sweeps", "My digits", "Data"]  # the sidebar's pages, in order
SHOTS = os.environ.get("DIGITLAB_SHOTS")  # a folder: the browser tests leave screenshots there


def shot(pg, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def nav_items(pg) -> list[str]:
    links = pg.locator('[data-testid="stSidebarNav"] a')
    links.first.wait_for(timeout=30_000)
    return [t.split("\n")[-1].strip() for t in links.all_inner_texts()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(env: dict[str, str], timeout: float = 60):
    """The app on a free port of localhost, with env added to this environment; yields its URL."""
    with app_process(env, timeout) as (url, _):
        yield url


def wait_healthy(url: str, p: subprocess.Popen, timeout: float, why, context=None) -> None:
    """Until the app at url answers its health check; RuntimeError(why()) when it has not within timeout or its
    process ended."""
    deadline = time.time() + timeout
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2, context=context).read() == b"ok":
                return
        except OSError:
            pass
        if time.time() > deadline or p.poll() is not None:
            raise RuntimeError(why())
        time.sleep(0.5)


@contextlib.contextmanager
def app_process(env: dict[str, str], timeout: float = 60):
    """The app on a free port of localhost; yields (its URL, its process)."""
    port = free_port()
    p = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                          "--server.port", str(port)], cwd=PROJECT, env={**os.environ, **env},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    try:
        wait_healthy(url, p, timeout, lambda: "the app did not start")
        yield url, p
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@contextlib.contextmanager
def served(env: dict[str, str], ca_file: str | None = None, port: int | None = None, timeout: float = 90):
    """`digitlab serve` on port (default: a free one; class mode over HTTPS when env's settings say so; ca_file: the
    CA to trust, None for plain HTTP); yields (its URL, its process, the file its output goes to)."""
    import ssl
    import tempfile

    port = port or free_port()
    log = Path(tempfile.mkstemp(prefix="digitlab-serve-", suffix=".log")[1])
    with open(log, "w") as out:
        p = subprocess.Popen([sys.executable, "-m", "digitlab", "serve", "--port", str(port)], cwd=PROJECT,
                             env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"{'https' if ca_file else 'http'}://localhost:{port}"
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    try:
        wait_healthy(url, p, timeout, lambda: f"digitlab serve did not start: {log.read_text()[-2000:]}", context)
        yield url, p, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, 15)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()
        log.unlink(missing_ok=True)


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def stroke(page, canvas, points) -> None:
    """One mouse stroke through points (x, y) in the canvas's own pixels."""
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
    page.mouse.up()
