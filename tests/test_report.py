"""The report a student hands in: every chosen run's figures and numbers in one self-contained HTML file that asks
for nothing outside itself, names escaped, a PDF with a page per section at least, and the refusals."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from digitlab import UserError
from digitlab.course import report
from digitlab.cli import main
from digitlab.learn.config import TrainConfig
from digitlab.learn.presets import preset
from digitlab.runs.runner import workers
from digitlab.settings import Limits
from digitlab.runs.store import Store
from testkit.browser import CHROMIUM

HOSTILE = '<img src=x onerror="alert(1)"> & </section><script>alert(2)</script>'


@pytest.fixture
def comparison(tmp_path, tiny_root):
    store = Store(tmp_path / "runs")
    ids = [store.create(preset(name, epochs=2, device="cpu")) for name in ("compare-sgd", "compare-adam")]
    ids.append(store.create(TrainConfig(hidden=[16], epochs=2, device="cpu", name=HOSTILE), owner="mallory"))
    workers.work(store, tiny_root)
    return store, ids


class Text(HTMLParser):
    """What a reader sees of the HTML (scripts left out), and its tags."""

    def __init__(self):
        super().__init__()
        self.text, self.tags, self._script = [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._script = tag == "script"

    def handle_endtag(self, tag):
        self._script = False

    def handle_data(self, d):
        if not self._script:
            self.text.append(d)


def _read(document: str) -> Text:
    t = Text()
    t.feed(document)
    return t


def test_the_report_holds_every_chosen_run_s_figures_and_numbers(comparison, tiny_root):
    store, ids = comparison
    document = report.build(store, ids, root=tiny_root)
    seen = _read(document)
    text = " ".join(seen.text)
    assert seen.tags.count("section") == 3 + len(ids)  # data and models, curves, summary, and one per run
    figures = re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*\{', document, re.S)
    assert len(figures) == 3 + len(ids)  # loss, accuracy, steps; a confusion matrix a run
    curves = json.loads(figures[1])  # accuracy per epoch: every run's every epoch, as stored
    for run_id in ids:
        run, epochs = store.get(run_id), store.epochs(run_id)
        assert f"{run_id}: " in text and f"{run.num_params:,}" in text
        assert f"{run.best_val_acc:.2%}" in text and f"{run.test_acc:.2%}" in text
        shown = [t for t in curves if t.get("name", "").startswith(f"{run_id}: ") and t.get("mode") == "lines+markers"]
        assert sorted(t["y"] for t in shown) == sorted([e[f"{s}_acc"] for e in epochs] for s in ("train", "val", "test"))
        assert "digitlab train --name" in text and f"(digitlab run {run_id})" in text
    for heading in ("The data", "The models", "Curves", "Summary", "Per-class precision, recall and F1",
                    "Misclassified digits", "The command that reproduces it", "As plain PyTorch",
                    "The course's figures beside yours"):
        assert heading in text, heading
    assert "compare-sgd" in text and "97.18%" in text  # the course's figure beside its preset's run
    assert document.count("data:image/png;base64,") >= 1  # mistakes drawn in the file itself


def test_a_hostile_name_is_text_everywhere(comparison, tiny_root):
    store, ids = comparison
    document = report.build(store, ids, root=tiny_root)
    assert "<img src=x" not in document and "<script>alert(2)" not in document
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in document
    assert HOSTILE in " ".join(_read(document).text)  # and a reader sees it as typed


def test_opened_in_chromium_it_asks_for_nothing_outside_itself_and_runs_nothing_of_a_name(comparison, tiny_root,
                                                                                       tmp_path):
    store, ids = comparison
    path = report.save(store, ids, tmp_path / "report.html", root=tiny_root)
    asked, dialogs = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.route("**/*", lambda route: (asked.append(route.request.url), route.continue_()))
        page.goto(path.as_uri(), wait_until="networkidle")
        drawn = "[...document.querySelectorAll('div.figure')].filter(d => d.querySelector('.main-svg')).length"
        page.wait_for_function(f"{drawn} >= {3 + len(ids)}")  # every figure drawn, by the Plotly inlined
        drawn = page.evaluate(drawn)
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert [u for u in asked if not u.startswith(("data:", "file://"))] == [] and asked[0] == path.as_uri()
    assert dialogs == [] and drawn == 3 + len(ids)


def test_the_pdf_has_a_page_per_section_at_least(comparison, tiny_root, tmp_path):
    store, ids = comparison
    made = report.save(store, ids[:2], tmp_path / "report.pdf", root=tiny_root).read_bytes()
    assert made.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b", made)) >= 3 + 2


def test_too_many_runs_others_runs_and_unfinished_ones_are_refused_before_any_work(comparison, tiny_root, tmp_path):
    store, ids = comparison
    with pytest.raises(UserError, match=r"at most 2 runs \(limits.report_runs in the settings\), and 3 were chosen"):
        report.build(store, ids, root=tiny_root, limits=Limits(report_runs=2))
    mine = lambda run: run.owner == ""  # noqa: E731 - a student's view: mallory's run is not theirs
    with pytest.raises(UserError, match=rf"^There is no run {ids[2]} of yours to report on"):
        report.build(store, ids, may_see=mine, root=tiny_root)
    with pytest.raises(UserError, match=r"^There is no run 99 of yours"):  # the same sentence: no run is revealed
        report.build(store, [99], root=tiny_root)
    queued = store.create(TrainConfig(hidden=[8], epochs=1, device="cpu", name="queued"))  # not trained yet
    with pytest.raises(UserError, match=rf"Run {queued} has no finished epoch yet"):
        report.build(store, [ids[0], queued], root=tiny_root)
    with pytest.raises(UserError, match=r"should end in \.html .* or \.pdf"):
        report.save(store, ids[:1], tmp_path / "report.docx", root=tiny_root)
    assert not list(tmp_path.glob("report.*"))


def test_the_cli_writes_the_report(comparison, tiny_root, tmp_path, capsys):
    store, ids = comparison
    out = tmp_path / "r.html"
    assert main(["--data", str(tiny_root), "--runs", str(store.root), "report", *map(str, ids[:2]), "-o", str(out)]) == 0
    assert out.read_text().startswith("<!doctype html>") and f"wrote {out}" in capsys.readouterr().out
    assert main(["--runs", str(store.root), "report", "99", "-o", str(tmp_path / "x.html")]) == 2
    assert "There is no run 99" in capsys.readouterr().err and not (tmp_path / "x.html").exists()


def test_a_run_without_a_checkpoint_reports_its_curves(comparison, tiny_root):
    store, ids = comparison
    Path(store.get(ids[0]).checkpoint).unlink()
    text = " ".join(_read(report.build(store, ids[:1], root=tiny_root)).text)
    assert "kept no checkpoint: only its curves are reported" in text
