"""Seconds from the end of a stroke to the Prediction on screen, in headless Chromium, over several strokes.

Start the app first (scripts/app, or `.venv/bin/python -m streamlit run streamlit_app.py`), then run:
.venv/bin/python benchmarks/browser_latency.py [--url http://localhost:8501] [--strokes 6]
"""

import argparse
import time

from playwright.sync_api import sync_playwright

from testkit.browser import PAD, READING, SEVEN, launch_browser, stroke


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://localhost:8501")
    p.add_argument("--strokes", type=int, default=6)
    a = p.parse_args()
    with sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(a.url)
        seconds = []
        for _ in range(a.strokes):
            canvas = page.locator(PAD).first
            canvas.wait_for(timeout=30_000)
            page.get_by_text("Draw a digit on the black square").wait_for(timeout=10_000)
            stroke(page, canvas, SEVEN)
            t0 = time.perf_counter()
            page.locator(READING).wait_for(timeout=15_000)
            seconds.append(time.perf_counter() - t0)
            page.get_by_role("button", name="Clear").click()
        browser.close()
    s = sorted(seconds)
    print(f"stroke end -> Prediction shown: {', '.join(f'{v:.2f}' for v in seconds)} s "
          f"(median {s[len(s) // 2]:.2f} s, worst {s[-1]:.2f} s)")


if __name__ == "__main__":
    main()
