"""A class at once: N sessions drawing on the Draw page while a run trains, or N open Train pages, or a class signed
in over HTTPS for a lesson's stretch.

Run: .venv/bin/python benchmarks/load.py [--sessions 1 10 20 40] [--strokes 8] [--mode draw|train|class]
                                         [--client browser|protocol] [--minutes 15]
It starts its own app (a fresh run store, the real MNIST when prepared) and, with --client browser, one headless
Chromium with N contexts; with --client protocol, N sessions that speak the app's websocket protocol from Python
(testkit.protocol: the messages a browser sends, nothing rendered), which leave the cores to the server as a class's
own machines would. The training run is queued as the Train page queues it, and trained by the app's own worker.
draw: the N pages open first (the time until all are ready is printed), then every session draws a 7 at a person's
pace (a stroke, the answer, Clear, a pause) while one training run goes on; it prints p50/p95 from stroke end to the
prediction on screen, failures (no answer in 15 s), the server's memory, and the CPU time the server and the browser
spent per answer. train: N sessions keep the Train page open while a run trains; it prints the run's epoch time
against the same run with no page open. Browsers and server share this machine's cores, so the browser figures are
pessimistic for a real class, whose browsers run on their own machines; the protocol figures are the server's own
(from the message a stroke sends to the answer's message received; a browser adds its own drawing of the answer,
about 0.07 s with one page here). class: `digitlab serve` in class mode over HTTPS (a certificate it made), N
students in its roster, each a protocol session signed in by its session cookie (a token made with the class's
secret, as the sign-in's route gives a browser), drawing for --minutes while runs train; it prints p50/p95 from
stroke to answer per minute and overall, failures, sessions that lost their sign-in, and the app server's memory
every minute with its slope. Asserts nothing.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from playwright.async_api import async_playwright

from digitlab.datasets import data
from digitlab.learn.config import TrainConfig
from digitlab.runs.store import Store
from testkit import protocol
from testkit.browser import ARGS, CHROMIUM, PAD, SEVEN, app_process, served
from testkit.fixtures import REAL_ROOT, digests, write_dataset

TRAIN = TrainConfig(hidden=[512, 128], epochs=22, batch_size=64, device="cpu", name="load")
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


def percentile(ordered: list[float], q: float) -> float | None:
    """The value a share q of the sorted values lie below (None for none)."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


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


PAD_NAME, ANSWER_NAME = "digitlab.drawing_pad", "digitlab.drawing_answer"


def answered(session: protocol.Session) -> bool:
    """The answer on the session's page is of a drawing (not the empty pad's)."""
    return (session.components[ANSWER_NAME]["data"] or {}).get("seen") is not None


async def open_protocol_page(url: str, page: str, stack: contextlib.AsyncExitStack, loads: list):
    t0 = time.perf_counter()
    session = await stack.enter_async_context(protocol.Session(url, page))
    await session.wait(lambda s: s.finished > 0, 180)
    loads.append(time.perf_counter() - t0)
    return session


async def protocol_draw_session(session: protocol.Session, strokes: int, latencies: list, failures: list) -> None:
    """draw_session's person, in messages: the pad's PNG of a 7, the answer, Clear, a pause."""
    seven = protocol.pad_image(SEVEN)
    for _ in range(strokes):
        try:
            latencies.append(await protocol.timed(session, PAD_NAME, {"image": seven}, answered))
            await asyncio.sleep(1.5)
            await session.set_state(PAD_NAME, {"image": None})
            await session.wait(lambda s: not answered(s), 15)
        except TimeoutError:
            failures.append(1)
        await asyncio.sleep(1.0)
    if session.errors:
        failures.append(len(session.errors))


async def measure(n: int, mode: str, strokes: int, root: Path, browser_nice: int, client: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        with app_process({"DIGITLAB_RUNS": str(runs), "DIGITLAB_DATA": str(root)}) as (url, app):
            own = cpu_seconds(os.getpid())
            if client == "browser":
                r = await in_browsers(n, mode, strokes, url, runs, app, Path(tmp), browser_nice)
            else:
                r = await in_protocol(n, mode, strokes, url, runs, app)
            r.update(sessions=n, server_mb=rss_mb(app.pid), client_cpu=cpu_seconds(os.getpid()) - own)
            run = Store(runs).get(r.pop("run_id"))
            Store(runs).request_cancel(run.id)
    if mode == "draw":
        s = sorted(r.pop("latencies"))
        r.update(answers=len(s), p50=statistics.median(s) if s else None, p95=percentile(s, 0.95))
        for key in ("server_cpu", "browser_cpu", "client_cpu"):
            r[key] = r.get(key, 0) / max(len(s), 1)
    else:
        r.update(train_seconds=run.train_seconds)
    return r


async def train_meanwhile(runs: Path, app) -> dict:
    """A run trained while the pages stay open; the server's CPU time a second meanwhile."""
    run_id = start_training(runs)
    cpu = cpu_seconds(app.pid), time.time()
    while not finished(runs, run_id):
        await asyncio.sleep(0.5)
    return dict(run_id=run_id, server_cpu=(cpu_seconds(app.pid) - cpu[0]) / (time.time() - cpu[1]))


async def in_protocol(n: int, mode: str, strokes: int, url: str, runs: Path, app) -> dict:
    if mode == "train":
        return await watching_in_background(n, url, runs, app, epochs=TRAIN.epochs)
    latencies, failures, loads = [], [], []
    async with contextlib.AsyncExitStack() as stack:
        sessions = await in_batches([open_protocol_page(url, "", stack, loads) for _ in range(n)])
        run_id = start_training(runs, epochs=50)  # trains all along; cancelled at the end
        cpu = cpu_seconds(app.pid)
        await asyncio.gather(*(protocol_draw_session(s, strokes, latencies, failures) for s in sessions))
        return dict(run_id=run_id, latencies=latencies, failures=len(failures), page_load=max(loads),
                    server_cpu=cpu_seconds(app.pid) - cpu)


async def settled(sessions: list, timeout: float = 90) -> None:
    """Until every page refreshes at one interval and has kept it for two of them."""
    deadline, same_since = time.time() + timeout, None
    while time.time() < deadline:
        intervals = {i for s in sessions for i, _ in s.auto_reruns.values()}
        if len(intervals) == 1:
            same_since = same_since or time.time()
            if time.time() - same_since > 2 * intervals.pop():
                return
        else:
            same_since = None
        await asyncio.sleep(0.5)
    print(f"  (the pages did not settle in {timeout:.0f} s)", flush=True)


async def watching_in_background(n: int, url: str, runs: Path, app, epochs: int) -> dict:
    """n open Train pages, kept by a thread at the lowest priority (they stand for browsers on other machines, so
    they take no CPU the server or the training wants), refreshing in every other epoch of one run and silent in the
    rest: each pair of neighbouring epochs compares the two within seconds, which this machine's drifting speed
    needs (it changes by 10-20% within a minute)."""
    opened, done, sessions = threading.Event(), threading.Event(), []

    async def watch():
        async with contextlib.AsyncExitStack() as stack:
            sessions.extend(await in_batches([open_protocol_page(url, "train", stack, []) for _ in range(n)]))
            await settled(sessions)  # the class has arrived: every page knows how often to refresh
            opened.set()
            while not done.is_set():
                await asyncio.sleep(0.2)

    def thread():
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # this thread only (Linux)
        asyncio.run(watch())

    watcher = threading.Thread(target=thread)
    watcher.start()
    while not opened.is_set():
        await asyncio.sleep(0.2)
    store, loaded = Store(runs), {}
    spent = {True: [0.0, 0.0, 0], False: [0.0, 0.0, 0]}  # refreshing or not: wall seconds, server CPU, page runs
    try:
        run_id = start_training(runs, epochs=epochs)
        mark = time.monotonic(), cpu_seconds(app.pid), sum(s.finished for s in sessions)
        while not finished(runs, run_id):
            done_epochs = len(store.epochs(run_id))
            if done_epochs + 1 not in loaded:  # the next epoch is starting: odd ones with the pages refreshing
                now = time.monotonic(), cpu_seconds(app.pid), sum(s.finished for s in sessions)
                if loaded:
                    spent[loaded[done_epochs]] = [a + b - c for a, b, c in zip(spent[loaded[done_epochs]], now, mark)]
                mark = now
                loaded[done_epochs + 1] = (done_epochs + 1) % 2 == 1
                for s in sessions:
                    s.paused = not loaded[done_epochs + 1]
            await asyncio.sleep(0.05)
    finally:
        done.set()
        watcher.join()
    seconds = {e["epoch"]: e["seconds"] for e in store.epochs(run_id)}
    pairs = [seconds[k] / seconds[k + 1] - 1 for k in range(3, epochs, 2) if k + 1 in seconds]  # epoch 1 warms up
    (wall, cpu, page_runs), (quiet_wall, quiet_cpu, _) = spent[True], spent[False]
    return dict(run_id=run_id, pairs=pairs, refresh=wall * n / page_runs if page_runs else None,
                server_cpu=cpu / wall, quiet_cpu=quiet_cpu / quiet_wall)


async def in_browsers(n: int, mode: str, strokes: int, url: str, runs: Path, app, tmp: Path, browser_nice: int):
    async with async_playwright() as pw:
        launcher = tmp / "chromium"
        launcher.write_text(NICE_CHROMIUM.format(nice=browser_nice, chromium=CHROMIUM))
        launcher.chmod(0o755)
        browser = await pw.chromium.launch(executable_path=launcher, args=ARGS)
        contexts = [await browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(n)]
        if mode == "train":
            await in_batches([open_train_page(c, url) for c in contexts])
            if not contexts:  # somebody opens the app once, which starts its supervisor
                await (await browser.new_page()).goto(url)
            r = await train_meanwhile(runs, app)
        else:
            latencies, failures, loads = [], [], []  # the class arrives first: every page is open before anyone draws
            pages = await in_batches([open_draw_page(c, url, loads) for c in contexts])
            run_id = start_training(runs, epochs=50)  # trains all along; cancelled at the end
            cpu = cpu_seconds(app.pid), browser_cpu_seconds()
            await asyncio.gather(*(draw_session(p, strokes, latencies, failures) for p in pages))
            r = dict(run_id=run_id, latencies=latencies, failures=len(failures), page_load=max(loads),
                     server_cpu=cpu_seconds(app.pid) - cpu[0], browser_cpu=browser_cpu_seconds() - cpu[1])
        await browser.close()
    return r


def app_server_pid(serve_pid: int) -> int:
    """The Streamlit server `digitlab serve` started (its child running streamlit)."""
    for child in Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split():
        if b"streamlit" in Path(f"/proc/{child}/cmdline").read_bytes():
            return int(child)
    raise RuntimeError("digitlab serve has no streamlit child")


def class_of(n: int, folder: Path) -> dict[str, str]:
    """Settings for a class of n students and a teacher in folder, with its certificate made: the server's env."""
    from digitlab import settings
    from digitlab.classroom import roster, tls

    people = {f"student{k:02d}": "student" for k in range(n)} | {"teacher": "teacher"}
    for name, role in people.items():
        roster.set_password(folder / "roster.toml", name, f"{name}-password", role)
    (folder / "class.toml").write_text('[classroom]\nenabled = true\nroster = "roster.toml"\naddress = "127.0.0.1"\n')
    tls.ensure(*tls.of_class(settings.load(folder / "class.toml")))
    return {"DIGITLAB_SETTINGS": str(folder / "class.toml"), "DIGITLAB_RUNS": str(folder / "runs")}


async def class_draws(session, deadline: float, seven: str, record: list, failures: list) -> None:
    """A student at the pad until the deadline: a 7, the answer, Clear, a pause; (when, seconds) per answer."""
    while time.monotonic() < deadline:
        try:
            record.append((time.monotonic(), await protocol.timed(session, PAD_NAME, {"image": seven}, answered)))
            await asyncio.sleep(1.5)
            await session.set_state(PAD_NAME, {"image": None})
            await session.wait(lambda s: not answered(s), 15)
        except (TimeoutError, KeyError):
            failures.append(time.monotonic())
        await asyncio.sleep(1.0)


async def class_soak(n: int, minutes: float, root: Path) -> dict:
    import ssl

    from digitlab import settings
    from digitlab.classroom import roster, sessions, tls

    with tempfile.TemporaryDirectory() as tmp:
        env = class_of(n, Path(tmp)) | {"DIGITLAB_DATA": str(root)}
        s = settings.load(env["DIGITLAB_SETTINGS"])
        cert = tls.of_class(s)[0]
        with served(env, ca_file=str(cert)) as (url, serve, _):
            app = app_server_pid(serve.pid)
            context = ssl.create_default_context(cafile=str(cert))
            tokens = sessions.Sessions(sessions.secret(settings.secret_file(s, "secret")), 2.0)
            people = [p for p in roster.load(s.classroom.roster).values() if not p.teacher]
            record, failures, memory, loads = [], [], [], []
            runs = Path(env["DIGITLAB_RUNS"])
            async with contextlib.AsyncExitStack() as stack:
                async def arrive(person):
                    cookie = f"{sessions.COOKIE}={tokens.issue(person)}"
                    t0 = time.perf_counter()
                    session = await stack.enter_async_context(protocol.Session(url, ssl=context, cookie=cookie))
                    await session.wait(lambda s: PAD_NAME in s.components, 180)  # signed in: the Draw page's pad
                    loads.append(time.perf_counter() - t0)
                    return session

                opened = await in_batches([arrive(p) for p in people])
                start = time.monotonic()
                deadline = start + minutes * 60
                run_id = start_training(runs, epochs=500)  # trains all along; cancelled at the end

                async def sample():
                    while time.monotonic() < deadline + 1:
                        memory.append((time.monotonic() - start, rss_mb(app)))
                        await asyncio.sleep(60)

                seven = protocol.pad_image(SEVEN)
                sampler = asyncio.create_task(sample())
                await asyncio.gather(*(class_draws(x, deadline, seven, record, failures) for x in opened))
                sampler.cancel()
                memory.append((time.monotonic() - start, rss_mb(app)))
                lost = sum(1 for x in opened if x.errors)
                epochs = len(Store(runs).epochs(run_id))
                Store(runs).request_cancel(run_id)
    return dict(record=[(t - start, v) for t, v in record], failures=len(failures), memory=memory, lost=lost,
                epochs=epochs, page_load=max(loads))


def print_soak(n: int, minutes: float, r: dict) -> None:
    def pct(values, q):
        found = percentile(sorted(values), q)
        return float("nan") if found is None else found

    print(f"{n} signed-in sessions over HTTPS drawing for {minutes:g} min while a run trained "
          f"({r['epochs']} epochs done); slowest sign-in and first page {r['page_load']:.0f} s", flush=True)
    for m in range(int(minutes)):
        part = [v for t, v in r["record"] if m * 60 <= t < (m + 1) * 60]
        print(f"  minute {m + 1:>2}: {len(part):>4} answers, p50 {pct(part, 0.5):.2f} s, p95 {pct(part, 0.95):.2f} s")
    every = [v for _, v in r["record"]]
    print(f"  all: {len(every)} answers, p50 {pct(every, 0.5):.2f} s, p95 {pct(every, 0.95):.2f} s, "
          f"{r['failures']} failures (no answer in 15 s), {r['lost']} sessions lost", flush=True)
    print("  server memory: " + ", ".join(f"{t / 60:.0f} min {mb:.0f} MB" for t, mb in r["memory"]))
    if len(r["memory"]) >= 3:
        t, mb = zip(*r["memory"])
        half = len(t) // 2
        slope = statistics.linear_regression([x / 60 for x in t], mb).slope
        late = statistics.linear_regression([x / 60 for x in t[half:]], mb[half:]).slope if len(t) - half >= 2 else slope
        print(f"  memory slope: {slope:+.1f} MB/min over the whole run, {late:+.1f} MB/min over its second half")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 20, 40])
    p.add_argument("--strokes", type=int, default=8, help="strokes per drawing session")
    p.add_argument("--mode", choices=("draw", "train", "class"), default="draw")
    p.add_argument("--minutes", type=float, default=15, help="class: how long the class draws")
    p.add_argument("--browser-nice", type=int, default=0,
                   help="run Chromium at this niceness; 19 lets training go first, as browsers on the students' own "
                        "machines would, so that the figures show the server's own cost")
    p.add_argument("--client", choices=("browser", "protocol"), default="browser",
                   help="browser: a Chromium page per session; protocol: the app's websocket messages from Python")
    a = p.parse_args()
    root = data_root()
    clients = f"Chromium at nice {a.browser_nice}" if a.client == "browser" and a.mode != "class" else "protocol sessions"
    print(f"data {root}; {os.cpu_count()} cores; mode {a.mode}; {clients}", flush=True)
    if a.mode == "train":
        return train_rounds(a, root)
    if a.mode == "class":
        for n in a.sessions:
            print_soak(n, a.minutes, asyncio.run(class_soak(n, a.minutes, root)))
        return
    for n in a.sessions:
        r = asyncio.run(measure(n, a.mode, a.strokes, root, a.browser_nice, a.client))
        fmt = lambda v: "-" if v is None else f"{v:.2f} s"  # noqa: E731
        print(f"{n:>3} sessions: {r['answers']} answers, p50 {fmt(r['p50'])}, p95 {fmt(r['p95'])}, "
              f"{r['failures']} failures, server {r['server_mb']:.0f} MB; CPU per answer: "
              f"server {r['server_cpu']:.3f} s, browser {r.get('browser_cpu', 0):.2f} s, this script "
              f"{r['client_cpu']:.3f} s; slowest page opened in {r['page_load']:.0f} s", flush=True)


def train_rounds(a, root: Path) -> None:
    if a.client == "protocol":
        for n in a.sessions:
            r = asyncio.run(measure(n, "train", 0, root, a.browser_nice, a.client))
            p = r["pairs"]
            print(f"{n:>3} open Train pages: an epoch while they refresh against the next one while they are silent: "
                  f"median {statistics.median(p):+.1%} over {len(p)} pairs (quartiles "
                  f"{statistics.quantiles(p)[0]:+.1%} .. {statistics.quantiles(p)[2]:+.1%}); each page refreshed "
                  f"every {r['refresh']:.1f} s; server {r['server_cpu']:.3f} CPU-s a second ({r['quiet_cpu']:.3f} while "
                  f"they are silent), {r['server_mb']:.0f} MB",
                  flush=True)
        return
    base = asyncio.run(measure(0, "train", 0, root, a.browser_nice, a.client))
    print(f"  0 open Train pages: {base['train_seconds']:.1f} s of training", flush=True)
    for n in a.sessions:
        r = asyncio.run(measure(n, "train", 0, root, a.browser_nice, a.client))
        slower = r['train_seconds'] / base["train_seconds"] - 1
        print(f"{n:>3} open Train pages: {r['train_seconds']:.1f} s of training ({slower:+.0%}), server "
              f"{r['server_cpu']:.2f} CPU-s a second ({base['server_cpu']:.2f} with none), {r['server_mb']:.0f} MB",
              flush=True)

if __name__ == "__main__":
    main()
