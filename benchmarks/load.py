"""A class at once: N browser sessions drawing on the Draw page while a run trains, or N open Train pages.

Run: .venv/bin/python benchmarks/load.py [--sessions 1 10 20 40] [--strokes 8] [--mode draw|train]
It starts its own app (a fresh run store, the real MNIST when prepared) and one headless Chromium with N
contexts; the training run is queued as the Train page queues it, and trained by the app's own worker.
draw: the N pages open first (the time until all are ready is printed), then every session draws a 7 at a person's
pace (a stroke, the answer, Clear, a pause) while one training run goes on; it prints p50/p95 from stroke end to the
prediction on screen, failures (no answer in 15 s), the server's memory, and the CPU time the server and the browser
spent per answer. train: N sessions keep the Train page open while a run trains; it prints the run's epoch time
against the same run with no page open. Browsers and server share this machine's cores, so the figures are
pessimistic for a real class, whose browsers run on their own machines. Asserts nothing.
"""

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright

from digitlab import data
from digitlab.config import TrainConfig
from digitlab.store import Store
from testkit.browser import ARGS, CHROMIUM, PAD, READING, SEVEN, app_process
from testkit.fixtures import REAL_ROOT, digests, write_dataset

TRAIN = TrainConfig(hidden=[512, 128], epochs=5, batch_size=64, device="cpu", name="load")
NICE_CHROMIUM = """#!/bin/sh
exec nice -n {nice} {chromium} "$@"
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds() -> float:
    total = 0.0
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "comm").read_text().strip().startswith("chromium"):
                total += cpu_seconds(int(d.name))
        except OSError:  # gone meanwhile
            pass
    return total


def data_root() -> Path:
    if data.is_prepared(REAL_ROOT):
        return REAL_ROOT
    root = write_dataset(Path(tempfile.mkdtemp()) / "data", n_train=20_000, n_test=2_000)
    data.MD5.update(digests(root))
    data.prepare(root)
    return root


def start_training(runs: Path, epochs: int = TRAIN.epochs) -> int:
    """Queue the run as the app does: the app's supervisor trains it in a worker (at the workers' priority)."""
    return Store(runs).create(dataclasses.replace(TRAIN, epochs=epochs))


async def in_batches(opening, size: int = 5) -> list:
    """Open pages a few at a time, as a class arrives: forty at once would time out on two cores."""
    pages = []
    for k in range(0, len(opening), size):
        pages += await asyncio.gather(*opening[k : k + size])
    return pages


def finished(runs: Path, run_id: int) -> bool:
    return not Store(runs).get(run_id)["status"].active


async def open_draw_page(context, url: str, loads: list):
    page = await context.new_page()
    t0 = time.perf_counter()
    await page.goto(url)
    await page.locator(PAD).first.wait_for(timeout=120_000)
    await page.get_by_text("Draw a digit on the black square").wait_for(timeout=120_000)
    loads.append(time.perf_counter() - t0)
    return page


# In the page: a promise of the next answer shown after the answer was hidden (after Clear). A MutationObserver, so
# that waiting costs the browser nothing: Playwright's own waiting polls on every animation frame, and with 40 pages
# that polling alone would load the cores the server and the browsers share.
WATCH = """() => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot?.querySelector('.reading'));
  const reading = host.shadowRoot.querySelector('.reading');
  let cleared = reading.hidden;
  window.nextAnswer = new Promise(done => {
    const seen = () => {
      if (reading.hidden) cleared = true;
      else if (cleared) { observer.disconnect(); done(reading.querySelector('.headline').textContent); }
    };
    const observer = new MutationObserver(seen);
    observer.observe(reading, {attributes: true});
  });
}"""
ANSWER = "() => Promise.race([window.nextAnswer, new Promise((_, no) => setTimeout(() => no('no answer'), 15000))])"


async def draw_session(page, strokes: int, latencies: list, failures: list) -> None:
    box = await page.locator(PAD).first.bounding_box()
    clear = await page.get_by_role("button", name="Clear").bounding_box()
    for _ in range(strokes):
        try:
            await page.evaluate(WATCH)
            await page.mouse.move(box["x"] + SEVEN[0][0], box["y"] + SEVEN[0][1])
            await page.mouse.down()
            for x, y in SEVEN[1:]:
                await page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
            await page.mouse.up()
            t0 = time.perf_counter()
            await page.evaluate(ANSWER)
            latencies.append(time.perf_counter() - t0)
        except Exception:  # noqa: BLE001 - a stroke with no answer (or lost): counted, the session goes on
            failures.append(1)
        await asyncio.sleep(1.5)  # a person looks at the answer
        await page.mouse.click(clear["x"] + clear["width"] / 2, clear["y"] + clear["height"] / 2)
        await asyncio.sleep(1.0)


async def open_train_page(context, url: str):
    page = await context.new_page()
    await page.goto(f"{url}/train", timeout=180_000)
    await page.get_by_role("heading", name="Train").first.wait_for(timeout=180_000)
    return page


async def measure(n: int, mode: str, strokes: int, root: Path, browser_nice: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        with app_process({"DIGITLAB_RUNS": str(runs), "DIGITLAB_DATA": str(root)}) as (url, app):
            async with async_playwright() as pw:
                launcher = Path(tmp) / "chromium"
                launcher.write_text(NICE_CHROMIUM.format(nice=browser_nice, chromium=CHROMIUM))
                launcher.chmod(0o755)
                browser = await pw.chromium.launch(executable_path=launcher, args=ARGS)
                contexts = [await browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(n)]
                latencies, failures = [], []
                if mode == "draw":
                    loads = []  # the class arrives first: every page is open before anyone draws
                    pages = await in_batches([open_draw_page(c, url, loads) for c in contexts])
                    run_id = start_training(runs, epochs=50)  # trains all along; cancelled at the end
                    cpu = cpu_seconds(app.pid), browser_cpu_seconds()
                    await asyncio.gather(*(draw_session(p, strokes, latencies, failures) for p in pages))
                    cpu = cpu_seconds(app.pid) - cpu[0], browser_cpu_seconds() - cpu[1]
                else:
                    await in_batches([open_train_page(c, url) for c in contexts])
                    if not contexts:  # somebody opens the app once, which starts its supervisor
                        await (await browser.new_page()).goto(url)
                    run_id = start_training(runs)
                    cpu = cpu_seconds(app.pid), time.time()
                    while not finished(runs, run_id):
                        await asyncio.sleep(0.5)
                    cpu = (cpu_seconds(app.pid) - cpu[0]) / (time.time() - cpu[1])
                memory = rss_mb(app.pid)
                run = Store(runs).get(run_id)
                Store(runs).request_cancel(run_id)
                await browser.close()
    result = dict(sessions=n, server_mb=memory)
    if mode == "draw":
        s = sorted(latencies)
        result.update(page_load=max(loads), answers=len(s), failures=len(failures), server_cpu=cpu[0] / max(len(s), 1),
                      browser_cpu=cpu[1] / max(len(s), 1), p50=statistics.median(s) if s else None,
                      p95=s[min(len(s) - 1, int(0.95 * len(s)))] if s else None)
    else:
        result.update(train_seconds=run["train_seconds"], server_cpu=cpu)
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 20, 40])
    p.add_argument("--strokes", type=int, default=8, help="strokes per drawing session")
    p.add_argument("--mode", choices=("draw", "train"), default="draw")
    p.add_argument("--browser-nice", type=int, default=0,
                   help="run Chromium at this niceness; 19 lets training go first, as browsers on the students' own "
                        "machines would, so that the figures show the server's own cost")
    a = p.parse_args()
    root = data_root()
    print(f"data {root}; {os.cpu_count()} cores; mode {a.mode}; Chromium at nice {a.browser_nice}", flush=True)
    if a.mode == "train":
        base = asyncio.run(measure(0, "train", 0, root, a.browser_nice))
        print(f"  0 open Train pages: {base['train_seconds']:.1f} s of training", flush=True)
    for n in a.sessions:
        r = asyncio.run(measure(n, a.mode, a.strokes, root, a.browser_nice))
        if a.mode == "draw":
            fmt = lambda v: "-" if v is None else f"{v:.2f} s"  # noqa: E731
            print(f"{n:>3} sessions: {r['answers']} answers, p50 {fmt(r['p50'])}, p95 {fmt(r['p95'])}, "
                  f"{r['failures']} failures, server {r['server_mb']:.0f} MB; CPU per answer: "
                  f"server {r['server_cpu']:.3f} s, browser {r['browser_cpu']:.2f} s; slowest page opened in "
                  f"{r['page_load']:.0f} s", flush=True)
        else:
            slower = r["train_seconds"] / base["train_seconds"] - 1
            print(f"{n:>3} open Train pages: {r['train_seconds']:.1f} s of training ({slower:+.0%}), server "
                  f"{r['server_cpu']:.2f} CPU-s a second ({base['server_cpu']:.2f} with none), {r['server_mb']:.0f} MB",
                  flush=True)


if __name__ == "__main__":
    main()
