"""The app in a real browser: Debian's chromium driven by Playwright, on a tiny prepared data set."""

import re
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from testkit import redraw
from testkit.browser import CHROMIUM, NAV, PAD, READING, SEVEN, launch_browser, nav_items, running_app, shot, stroke
from testkit.fixtures import official_test_digits, prepared_dataset

LOCAL = {"localhost", "127.0.0.1", None}  # None: data: and blob: addresses
HOSTILE = "e2e ![x](http://127.0.0.2:9/x.png) <b>b</b> :smile: [a](http://127.0.0.2:9)"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = prepared_dataset(tmp_path_factory.mktemp("data"))
    runs = tmp_path_factory.mktemp("runs")
    with running_app({"DIGITLAB_RUNS": str(runs), "DIGITLAB_DATA": str(root)}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_browser(pw)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 1100})
    far = []  # every request the page makes to anywhere but this machine
    pg.on("request", lambda r: far.append(r.url) if urlparse(r.url).hostname not in LOCAL else None)
    yield pg
    pg.close()
    assert far == [], f"the page reached outside the server: {far[:3]}"


def test_direct_first_visits_show_only_our_navigation(app, page):
    """The server's very first session opens /train directly: Streamlit's own page list must never show."""
    for path, title in (("train", "Train"), ("runs", "Runs"), ("data", "Data")):
        page.goto(f"{app}/{path}")
        page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        assert nav_items(page) == NAV, path
        shot(page, f"first-visit-{path}")


def test_draw_a_seven_and_read_the_prediction(app, page):
    page.goto(app)
    canvas = page.locator(PAD).first
    canvas.wait_for(timeout=30_000)
    page.get_by_text("Draw a digit on the black square").wait_for(timeout=10_000)  # a hint, not a prediction
    assert not page.locator(READING).is_visible()
    stroke(page, canvas, SEVEN)
    t0 = time.perf_counter()
    page.locator(READING).wait_for(timeout=15_000)
    latency = time.perf_counter() - t0
    value = page.locator(READING).locator(".headline").inner_text().strip()
    print(f"prediction {value} shown {latency:.2f}s after the stroke ended")
    page.wait_for_timeout(800)
    shot(page, "draw")
    assert value == "7"
    assert page.locator(".badge").inner_text().startswith("7 · ")  # the reading on the pad too, where the eyes are
    assert page.get_by_text("What the model sees").count() == 1
    assert nav_items(page) == NAV
    page.get_by_role("combobox", name="Side by side with").click()  # the CNN reads the same drawing, still on the pad
    page.get_by_role("option", name="cnn-default (shipped)").click()
    both = page.locator(READING)
    for _ in range(60):
        if both.count() == 2 and both.nth(1).is_visible():
            break
        page.wait_for_timeout(250)
    assert [both.nth(k).locator(".headline").inner_text() for k in range(2)] == ["7", "7"]
    shot(page, "draw-two-models")
    page.get_by_role("button", name="Clear").click()
    stroke(page, canvas, [(60, 60), (60, 220)])  # a 1, then another far to its right: "11"
    stroke(page, canvas, [(220, 60), (220, 220)])
    page.get_by_text("2 digits side by side").first.wait_for(timeout=15_000)
    assert page.locator(".badge").inner_text() == "one digit?"
    page.get_by_role("button", name="Clear").click()
    stroke(page, canvas, [(60, 50), (220, 230)])  # an X of two strokes: no digit, and no label offered to save it
    stroke(page, canvas, [(220, 50), (60, 230)])
    page.get_by_text("it looks like none of 0-9").first.wait_for(timeout=15_000)
    assert page.locator(".badge").inner_text() == "not a digit?" and page.locator(".save button.guess").count() == 0
    shot(page, "draw-not-a-digit")


def test_save_a_drawing_with_a_corrected_label_and_see_it_on_my_digits(app, page):
    page.goto(app)
    canvas = page.locator(PAD).first
    canvas.wait_for(timeout=30_000)
    stroke(page, canvas, SEVEN)
    page.locator(".badge").wait_for(timeout=15_000)
    assert page.locator(".save button.guess").inner_text() == "7"  # the reading is offered first
    page.locator('.save button[data-digit="1"]').click()  # one click corrects it: a 1, say
    page.get_by_text("Saved as 1").wait_for(timeout=15_000)
    assert page.locator(".badge").is_hidden() and page.get_by_role("button", name="Undo").is_disabled()  # ready
    stroke(page, canvas, SEVEN)
    page.locator(".badge").wait_for(timeout=15_000)
    page.keyboard.press("7")  # the digit keys save too
    page.get_by_text("Saved as 7: 2 digits").wait_for(timeout=15_000)
    page.goto(f"{app}/digits")
    page.get_by_text("Every model on your digits").wait_for(timeout=30_000)
    page.get_by_role("tab", name="1 (1)").click()
    page.get_by_role("tab", name="7 (1)").wait_for()
    shot(page, "my-digits")


def test_no_stroke_is_lost_after_clear_and_undo_takes_back_one(app, page):
    """Clear and Undo belong to the pad: it is never remounted, so a stroke right after Clear is read."""
    page.goto(app)
    canvas = page.locator(PAD).first
    canvas.wait_for(timeout=30_000)
    metric = page.locator(READING)
    hint = page.get_by_text("Draw a digit on the black square")
    for _ in range(3):
        stroke(page, canvas, SEVEN)
        metric.wait_for(timeout=15_000)
        page.get_by_role("button", name="Clear").click()
        hint.wait_for(timeout=15_000)
    stroke(page, canvas, SEVEN)  # at once after Clear
    metric.wait_for(timeout=15_000)
    stroke(page, canvas, [(40, 150), (240, 150)])  # a bar across the 7
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Undo").click()  # takes back the bar only
    page.wait_for_timeout(1500)
    assert metric.locator(".headline").inner_text().strip() == "7"
    page.get_by_role("button", name="Undo").click()
    hint.wait_for(timeout=15_000)
    assert page.get_by_role("button", name="Undo").is_disabled()


def test_on_a_phone_the_reading_is_on_the_pad_in_sight(app, browser):
    phone = browser.new_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        phone.goto(app)
        canvas = phone.locator(PAD).first
        canvas.wait_for(timeout=30_000)
        # Until the page's first run has ended: a stroke sent while it still runs was lost twice in about ten
        # runs of this test on a loaded machine (not root-caused yet; see the stop note of 2026-12-01).
        phone.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=60_000)
        canvas.scroll_into_view_if_needed()
        stroke(phone, canvas, [(x * 0.8, y * 0.8) for x, y in SEVEN])  # the pad is narrower than 280 px here
        badge = phone.locator(".badge")
        badge.wait_for(timeout=15_000)
        box, view = badge.bounding_box(), phone.viewport_size
        assert 0 <= box["y"] and box["y"] + box["height"] <= view["height"]  # no scrolling to see the answer
        shot(phone, "draw-phone")
    finally:
        phone.close()


def test_on_a_narrow_screen_the_sidebar_closes_after_a_page_change(app, browser):
    """Whatever the browser says it is: Streamlit itself closes it only for a phone's user agent."""
    phone = browser.new_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    sidebar = phone.locator('[data-testid="stSidebar"]')
    try:
        phone.goto(app)
        phone.get_by_role("heading", name="Draw a digit").wait_for(timeout=30_000)
        phone.locator('[data-testid="stExpandSidebarButton"]').tap()
        phone.wait_for_function("document.querySelector('[data-testid=stSidebar]').dataset.collapsed === 'false'")
        phone.locator('[data-testid="stSidebarNavItems"] a', has_text="Runs").tap()
        phone.get_by_role("heading", name="Runs").wait_for(timeout=30_000)
        phone.wait_for_function("document.querySelector('[data-testid=stSidebar]').dataset.collapsed === 'true'")
        phone.locator('[data-testid="stExpandSidebarButton"]').tap()  # opened again: it stays open while used
        phone.wait_for_timeout(1500)
        assert sidebar.get_attribute("data-collapsed") == "false"
    finally:
        phone.close()

def test_launch_a_run_see_it_complete_and_appear_on_runs(app, page):
    """A name that tries Markdown, HTML and links is shown as the text it is, everywhere."""
    page.goto(f"{app}/train")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("textbox", name="Name").wait_for(timeout=30_000)
    sidebar.get_by_role("textbox", name="Name").fill(HOSTILE)
    sidebar.get_by_role("textbox", name="Hidden layer sizes").fill("64")
    sidebar.get_by_role("spinbutton", name="Epochs").fill("2")
    sidebar.get_by_role("spinbutton", name="Epochs").press("Enter")
    sidebar.get_by_text("Estimate: 50,890 parameters").wait_for(timeout=10_000)  # priced before launch
    sidebar.get_by_role("button", name="Launch run").click()
    ended = re.compile(r"completed · checkpoint kept \(best validation")  # the run this page watched, curves kept
    page.get_by_text(ended).wait_for(timeout=120_000)
    page.get_by_role("link", name="Open in Runs").wait_for(timeout=10_000)
    shot(page, "train")
    title = page.get_by_role("heading", name="Run 1:").first.inner_text()
    assert f"Run 1: {HOSTILE}" in title.replace("\u200b", "")  # every character shown as typed
    assert page.locator('a[href*="127.0.0.2"]').count() == 0 and page.locator("b", has_text="b").count() == 0
    page.goto(f"{app}/runs")
    page.get_by_text("One run in depth").wait_for(timeout=30_000)
    page.locator('[data-testid="stMetric"]').filter(has_text="Accuracy").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    shot(page, "runs")
    legend = page.locator(".legendtext").first.text_content()
    assert legend == f"1: {HOSTILE}"  # the legend shows the tags as text
    assert page.locator('img[src*="127.0.0.2"]').count() == 0 and page.locator('a[href*="127.0.0.2"]').count() == 0
    assert page.locator("b", has_text="b").count() == 0
    cells = page.locator('[data-testid="stPlotlyChart"]').last.locator(".scatterlayer .point")
    cells.nth(3 * 10 + 5).click(force=True)  # the confusion matrix's cell: true 3, predicted 5
    page.get_by_text(re.compile(r"(of 3 read as 5|No 3 was read as 5)")).first.wait_for(timeout=20_000)


def test_upload_a_phone_photo_of_a_digit_on_unevenly_lit_paper(app, page, tmp_path):
    x, y = official_test_digits(200)
    i = int(np.flatnonzero(y == 3)[0])
    Image.fromarray(redraw.photo(redraw.redraw(x[i], 200, 40, 40, 4), shadow=0.6)).save(tmp_path / "three.jpg")
    Image.fromarray(redraw.photo(np.zeros((280, 280), np.uint8))).save(tmp_path / "blank.jpg")
    page.goto(app)
    page.get_by_text("Upload an image").click()
    page.locator('input[type="file"][accept*=".png"]').set_input_files(str(tmp_path / "three.jpg"))
    page.locator(READING).wait_for(timeout=20_000)
    assert page.locator(READING).locator(".headline").inner_text().strip() == "3"
    page.get_by_text("Show how the drawing becomes 28×28").click()
    page.get_by_text("background taken away").wait_for(timeout=20_000)
    page.wait_for_timeout(1500)
    shot(page, "upload")
    page.locator('input[type="file"][accept*=".png"]').set_input_files(str(tmp_path / "blank.jpg"))
    page.get_by_text("No digit stands out from the background").wait_for(timeout=20_000)


def test_inside_the_network_for_a_drawing_and_a_run(app, page):
    """Why (a click on a bar explains that digit), each layer, fooling it, a pinned drawing watched by a run launched
    with the learning rate the range test suggests, its command and first layer."""
    page.goto(app)
    canvas = page.locator(PAD).first
    canvas.wait_for(timeout=30_000)
    stroke(page, canvas, SEVEN)
    page.locator(READING).wait_for(timeout=15_000)
    for view in ("Why this answer", "Inside the network", "Fool it"):
        page.get_by_text(view, exact=True).click()
    page.get_by_role("heading", name="Why 7?").wait_for(timeout=20_000)
    page.get_by_text("why 7 (").first.wait_for(timeout=10_000)
    page.get_by_text(re.compile(r"hidden layer 1: 1024 units, \d+ active")).wait_for(timeout=10_000)
    page.get_by_text("changed:").first.wait_for(timeout=20_000)
    shot(page, "draw-inside")
    page.locator(".answer .row").nth(1).locator(".track").click()  # "why not a 1?": the bar of 1
    page.get_by_role("heading", name="Why 1?").wait_for(timeout=20_000)
    page.get_by_text("why 1 (").first.wait_for(timeout=10_000)
    pills = page.locator('[data-testid="stElementContainer"]').filter(has_text="Pin it for your next run").locator("button")
    pills.filter(has_text="7").last.click()
    page.get_by_text("(1 of 8), as a").wait_for(timeout=15_000)

    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name="Train").click()  # the same session: pins live in it
    sidebar.get_by_text("Watch drawings being learned · 1 pinned").wait_for(timeout=30_000)
    for field, value in (("Name", "watched"), ("Hidden layer sizes", "32")):
        sidebar.get_by_role("textbox", name=field).fill(value)
        sidebar.get_by_role("textbox", name=field).press("Enter")
    for field, value in (("Batch size", "16"), ("Epochs", "2")):
        sidebar.get_by_role("spinbutton", name=field).fill(value)
        sidebar.get_by_role("spinbutton", name=field).press("Enter")
    page.wait_for_function("() => location.search.includes('epochs=2')", timeout=15_000)  # the address follows
    sidebar.get_by_role("button", name="Find a learning rate").click()
    page.get_by_text("Learning-rate range test: watched").wait_for(timeout=60_000)
    use = page.get_by_role("button", name=re.compile(r"^Use "))
    value = use.inner_text().split()[1]
    page.mouse.move(900, 20)  # away from the button whose help tooltip would cover this one
    page.wait_for_timeout(500)
    use.click()
    page.wait_for_function(f"() => location.search.includes('lr={value}')", timeout=15_000)  # form and address
    sidebar.get_by_role("button", name="Launch run").click()
    page.get_by_text(re.compile(r"completed · checkpoint kept \(best validation")).wait_for(timeout=120_000)
    page.get_by_text("Your pinned drawings, as the network learned them").wait_for(timeout=20_000)
    page.get_by_text(re.compile(r"^a 7, reads \d")).wait_for(timeout=10_000)
    shot(page, "train-pinned")
    run_id = re.search(r"Run (\d+): watched", page.get_by_role("heading", name=re.compile("Run .*: watched")).first
                       .inner_text()).group(1)

    page.goto(f"{app}/runs?run={run_id}")
    page.get_by_text("Pinned drawings, as the network learned them").wait_for(timeout=30_000)
    page.get_by_text("The command that reproduces this run").click()
    page.get_by_text(f"digitlab train --name watched --hidden 32 --batch-size 16 --epochs 2 --lr {value}").wait_for(
        timeout=30_000)
    shot(page, "runs-pinned")
    page.goto(f"{app}/inside?a=run:{run_id}")
    page.get_by_text(re.compile(r"32 first-layer units as 28×28 images")).first.wait_for(timeout=30_000)
    page.get_by_role("slider").first.wait_for(timeout=10_000)
    shot(page, "inside")


def test_lesson_three_end_to_end_launch_wait_answer(browser, tmp_path_factory):
    """A learner on the Lessons page queues the optimizer comparison in one click, waits for it to train, and answers
    from their own runs; at 1400x1000 and on a phone."""
    from digitlab.course import lessons
    from digitlab.runs.store import Status, Store

    root = prepared_dataset(tmp_path_factory.mktemp("data"))
    runs = tmp_path_factory.mktemp("runs")
    with running_app({"DIGITLAB_RUNS": str(runs), "DIGITLAB_DATA": str(root)}) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/lessons?lesson=3")
        page.get_by_role("button", name=re.compile("Queue this lesson's 3 runs")).click()
        page.get_by_text("Queued runs").wait_for(timeout=30_000)
        store = Store(runs)
        deadline = time.time() + 240
        while time.time() < deadline and len(store.runs(Status.COMPLETED)) < 3:
            time.sleep(1)
        assert sorted(r.name for r in store.runs(Status.COMPLETED)) == ["compare-adam", "compare-momentum",
                                                                          "compare-sgd"]
        q = next(q for lesson in lessons.all_lessons() if lesson.number == 3 for q in lesson.questions
                 if q.id == "ends-best")
        right = lessons.mark(q, "compare-sgd", store, None).expected  # what these runs say, as the page shows it
        pick = right.split(" or ")[0]  # a tie, or too close to call: each of them is right
        for width, height in ((1400, 1000), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{url}/lessons?lesson=3")
            page.get_by_role("radiogroup").nth(1).get_by_text(pick, exact=True).click()  # the second question's
            page.get_by_role("button", name="Check").nth(1).click()
            page.get_by_text(f"Right: {right}.").wait_for(timeout=30_000)
            assert page.locator(".js-plotly-plot").count() >= 1  # the figure that decides the first question
            shot(page, f"lesson-3-{width}")
        assert [a["correct"] for a in store.answers("")] == [True]
        page.close()


def test_lesson_four_shows_the_figures_that_decide_it_at_both_widths(browser, tmp_path_factory):
    """Lesson 4 in Chromium: each of its questions shows its deciding figure from the learner's runs (the lowest
    validation loss starred; training against validation accuracy), on a wide screen and on a phone."""
    from digitlab.learn.presets import preset
    from digitlab.runs.store import Status, Store

    root = prepared_dataset(tmp_path_factory.mktemp("data"))
    runs = tmp_path_factory.mktemp("runs")
    store = Store(runs)
    for name, losses in (("epochs-10", [0.2, 0.1, 0.08, 0.09]), ("epochs-3", [0.2, 0.1, 0.09]), ("epochs-1", [0.2])):
        rid = store.create(preset(name))
        for k, loss in enumerate(losses):
            store.add_epoch(rid, dict(epoch=k + 1, train_loss=0.5, train_acc=0.96 + 0.01 * k, val_loss=loss,
                                      val_acc=0.96, test_loss=0.3, test_acc=0.96, seconds=1.0, lr=1e-3))
        store.finish(rid, Status.COMPLETED, best_epoch=1, best_val_acc=0.96, test_acc=0.96, num_params=1)
    with running_app({"DIGITLAB_RUNS": str(runs), "DIGITLAB_DATA": str(root)}) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for width, height in ((1400, 1000), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{url}/lessons?lesson=4")
            page.get_by_text("Questions", exact=True).wait_for(timeout=30_000)
            page.locator(".js-plotly-plot").nth(1).wait_for(timeout=30_000)
            assert page.locator(".js-plotly-plot").count() == 2  # one figure a question
            assert page.get_by_text("lowest", exact=True).count() >= 1  # epochs-10's lowest validation loss, starred
            page.get_by_text("Questions", exact=True).scroll_into_view_if_needed()
            shot(page, f"lesson-4-{width}")
        page.close()
