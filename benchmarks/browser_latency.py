"""Seconds from the end of a stroke to the Prediction on screen, in headless Chromium, over several strokes.

Start the app first (scripts/app, or `.venv/bin/python -m streamlit run streamlit_app.py`), then run:
.venv/bin/python benchmarks/browser_latency.py [--url http://localhost:8501] [--strokes 6] [--views why layers fool]
With --views, the Draw page's inside views are switched on first, and each stroke also waits for the saliency (why)
to show the new drawing.
"""

import argparse
import time

from playwright.sync_api import sync_playwright

from testkit.browser import PAD, READING, SEVEN, launch_browser, stroke

VIEWS = {"why": "Why this answer", "layers": "Inside the network", "fool": "Fool it"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://localhost:8501")
    p.add_argument("--strokes", type=int, default=6)
    p.add_argument("--views", nargs="*", choices=list(VIEWS), default=[], help="inside views to switch on first")
    a = p.parse_args()
    with sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(a.url)
        page.locator(PAD).first.wait_for(timeout=30_000)
        if a.views:  # a first stroke shows the switches
            stroke(page, page.locator(PAD).first, SEVEN)
            page.locator(READING).wait_for(timeout=15_000)
            for view in a.views:
                page.get_by_text(VIEWS[view], exact=True).click()
                page.wait_for_timeout(1500)
            page.get_by_role("button", name="Clear").click()
        seconds, why_seconds = [], []
        for _ in range(a.strokes):
            canvas = page.locator(PAD).first
            canvas.wait_for(timeout=30_000)
            page.get_by_text("Draw a digit on the black square").wait_for(timeout=10_000)
            stroke(page, canvas, SEVEN)
            t0 = time.perf_counter()
            page.locator(READING).wait_for(timeout=15_000)
            seconds.append(time.perf_counter() - t0)
            if "why" in a.views:
                page.get_by_text("why 7 (").first.wait_for(timeout=15_000)
                why_seconds.append(time.perf_counter() - t0)
            page.get_by_role("button", name="Clear").click()
            page.get_by_text("why 7 (").first.wait_for(state="detached", timeout=15_000) if "why" in a.views else None
        browser.close()
    on = f" (views on: {', '.join(a.views)})" if a.views else ""
    for what, values in (("Prediction", seconds), ("saliency of the new drawing", why_seconds)):
        if values:
            s = sorted(values)
            print(f"stroke end -> {what} shown{on}: {', '.join(f'{v:.2f}' for v in values)} s "
                  f"(median {s[len(s) // 2]:.2f} s, worst {s[-1]:.2f} s)")


if __name__ == "__main__":
    main()
