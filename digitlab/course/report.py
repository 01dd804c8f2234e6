"""The report a student hands in, for the runs chosen: one self-contained HTML file (Plotly's JavaScript inlined,
every image embedded, no request outside the file), or a PDF of it printed by headless Chromium.

It holds the data set and split, each model with its parameter count and settings, the curves per epoch and per
step with the moving average, the course's summary table with the course's own figures beside its presets', and per
run the confusion matrix, per-class precision / recall / F1, a grid of misclassified digits, the pinned drawings over
training, the accuracy on My digits, and the command and the plain PyTorch file that reproduce it. Everything a person
typed (names above all) is escaped.
"""

import base64
import datetime
import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from digitlab import UserError, settings
from digitlab.course import export, plots
from digitlab.datasets import data, handwriting
from digitlab.drawing import pictures
from digitlab.learn import checkpoint, evaluation
from digitlab.runs import tables
from digitlab.learn.config import MNIST_TEST, MNIST_TRAIN, TrainConfig, changed, command_line
from digitlab.files import write_atomically
from digitlab.learn.presets import COURSE
from digitlab.runs.store import Run, Store

MISCLASSIFIED = 40  # digits in each run's grid of mistakes
PRINT_WIDTH = 720   # pixels of a figure: fits A4's printable width, and reads well on a screen
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.8em; margin-bottom: 0.1em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.92em; max-width: 100%; }
td { overflow-wrap: break-word; } td.n { white-space: nowrap; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } th { background: #f3f3f3; }
.grid { display: flex; flex-wrap: wrap; gap: 6px; } .grid figure { margin: 0; text-align: center; font-size: 0.8em; }
.grid img { width: 56px; height: 56px; image-rendering: pixelated; border: 1px solid #ccc; display: block; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.8em; white-space: pre-wrap; }
.muted { color: #666; } .figure { page-break-inside: avoid; break-inside: avoid; }
@media print { body { max-width: none; margin: 0; font-size: 11px; } table { font-size: 0.85em; } section { break-before: page; } section:first-of-type
               { break-before: auto; } details > pre { display: block; } h2 { margin-top: 0; } }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _table(rows: list[dict], percent=(), decimals: dict | None = None) -> str:
    """Rows as an HTML table, every cell escaped; numbers right-aligned in one format a column."""
    if not rows:
        return "<p class='muted'>Nothing to show.</p>"
    cols, decimals = list(rows[0]), decimals or {}

    def cell(k, v):
        if isinstance(v, float):
            text = f"{v:.2%}" if k in percent else f"{v:.{decimals.get(k, 4)}f}" if k in decimals else f"{v:.4g}"
            return f"<td class='n'>{text}</td>"
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return f"<td class='n'>{v:,}</td>"
        return f"<td>{_e('' if v is None else v)}</td>"

    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(cell(c, r[c]) for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(fig: go.Figure, height: int | None = None) -> str:
    fig = go.Figure(fig).update_layout(width=PRINT_WIDTH, **({"height": height} if height else {}))
    return "<div class='figure'>" + pio.to_html(fig, full_html=False, include_plotlyjs=False,
                                                config={"displaylogo": False, "responsive": False}) + "</div>"


def _png(img28, scale: int = 2) -> str:
    """A uint8 (28, 28) image as a PNG data: URL, its pixels repeated scale times: embedded, never fetched."""
    png = handwriting.image_png(pictures.enlarge(np.asarray(img28, np.uint8), scale))
    return "data:image/png;base64," + base64.b64encode(png).decode()


def chosen(store: Store, run_ids: list[int], may_see=None, limits=None) -> list[dict]:
    """The runs of a report, checked before any work: a number of them within limits.report_runs, each one there,
    each one the person may see, each one with at least one finished epoch."""
    limits = limits or settings.current().limits
    ids = list(dict.fromkeys(int(i) for i in run_ids))
    if not ids:
        raise UserError("Choose at least one run for the report.")
    if len(ids) > limits.report_runs:
        raise UserError(f"A report holds at most {limits.report_runs} runs (limits.report_runs in the settings), "
                        f"and {len(ids)} were chosen: choose fewer.")
    runs = []
    for run_id in ids:
        try:
            run = store.get(run_id)
        except UserError:
            run = None
        if run is None or (may_see is not None and not may_see(run)):  # another's run reads as no run at all
            raise UserError(f"There is no run {run_id} of yours to report on: choose runs from the Runs page.")
        if run.best_val_acc is None:
            raise UserError(f"Run {run_id} has no finished epoch yet: report on it once it has one.")
        runs.append(run)
    return runs


def _settings_rows(runs: list[Run]) -> list[dict]:
    rows = []
    for r in runs:
        c = TrainConfig.from_dict(r.config)
        rows.append({"run": f"{r.id}: {r.name}", "model": c.display_name(), "parameters": r.num_params,
                     "optimizer": c.optimizer, "lr": c.lr, "batch": c.batch_size, "epochs": c.epochs,
                     "dropout": c.dropout, "norm layer": c.norm_layer, "input norm": c.input_norm,
                     "validation images": c.val_size, "seed": c.seed,
                     "other settings": ", ".join(f"{k}={v}" for k, v in changed(c).items() if k not in (
                         "name", "model", "hidden", "channels", "optimizer", "lr", "batch_size", "epochs", "dropout",
                         "norm_layer", "input_norm", "val_size", "seed", "device")) or "none"})
    return rows


def _one_run(store: Store, run: Run, mnist, label: str) -> str:
    """A run's section: its checkpoint on the test set, its mistakes, its pins, My digits, its command and code."""
    parts = [f"<section><h2>{_e(label)}</h2>"]
    path = Path(run.checkpoint) if run.checkpoint else None
    if path and path.exists():
        ck = checkpoint.load(path)
        ev = evaluation.evaluate_checkpoint(ck, mnist)
        parts.append(f"<p>The checkpoint kept (the epoch with the best validation accuracy, {run.best_val_acc:.2%})"
                     f" on MNIST's {len(ev['y_true']):,} test images: accuracy <b>{ev['test_acc']:.2%}</b>, loss "
                     f"{ev['test_loss']:.4f}, macro F1 {ev['macro_f1']:.4f}; {ck.num_params:,} parameters.</p>")
        parts.append("<h3>Confusion matrix (rows: the true digit; columns: what the model read)</h3>"
                     + _figure(plots.confusion(ev["confusion"]), height=500))
        parts.append("<h3>Per-class precision, recall and F1</h3>"
                     + _table(ev["per_class"], decimals={"precision": 4, "recall": 4, "f1": 4}))
        wrong = np.flatnonzero(ev["y_pred"] != ev["y_true"])[:MISCLASSIFIED]
        images = mnist.test_x.numpy()
        parts.append(f"<h3>Misclassified digits ({int((ev['y_pred'] != ev['y_true']).sum()):,} in all; the first "
                     f"{len(wrong)})</h3><div class='grid'>" + "".join(
                         f"<figure><img alt='true {ev['y_true'][i]}, read as {ev['y_pred'][i]}' "
                         f"src='{_png(images[i])}'><figcaption>{ev['y_true'][i]} → {ev['y_pred'][i]}</figcaption>"
                         "</figure>" for i in wrong) + "</div>")
        mine = store.digits(run.owner)
        if mine:
            x, y = handwriting.arrays(mine)
            on = evaluation.evaluate(ck, x, y)
            parts.append(f"<p>On {len(y)} digits saved in My digits: accuracy <b>{on['test_acc']:.1%}</b> (MNIST's "
                         f"test set: {ev['test_acc']:.2%}).</p>")
    else:
        parts.append("<p class='muted'>This run kept no checkpoint: only its curves are reported.</p>")
    pins, scores = store.pins(run.id), store.pin_scores(run.id)
    if pins and scores:
        parts.append("<h3>Pinned drawings, as the network learned them</h3>")
        for pin in pins:
            said = f"labelled {pin['label']}" if pin["label"] is not None else "no label"
            parts.append(f"<div class='figure'><img style='width:56px;image-rendering:pixelated' alt='pinned drawing' "
                         f"src='{_png(pin['image'])}'> <span class='muted'>{said}</span>"
                         + _figure(plots.pinned_curves(scores, pin["slot"], pin["label"], run.steps_per_epoch),
                                   height=220) + "</div>")
    config = TrainConfig.from_dict(run.config)
    parts.append(f"<h3>The command that reproduces it</h3><pre>{_e(command_line(config))}</pre>")
    why = export.refused(config)
    code = why or export.script(**export.of_run(run))
    parts.append(f"<details><summary>As plain PyTorch</summary><pre>{_e(code)}</pre></details></section>")
    return "".join(parts)


def build(store: Store, run_ids: list[int], may_see=None, root=None, limits=None, now=None) -> str:
    """The report of these runs as one HTML document (every check of chosen() first)."""
    runs = chosen(store, run_ids, may_see, limits)
    mnist = data.load(root)
    labels = [f"{r.id}: {r.name}" for r in runs]
    sel = [(label, store.epochs(r.id)) for label, r in zip(labels, runs)]
    colors = [plots.run_color(r.id) for r in runs]
    steps = [r.steps_per_epoch for r in runs]
    when = (now or datetime.datetime.now()).strftime("%Y-%m-%d %H:%M")
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>digitlab report: "
           f"{_e(', '.join(labels))}</title><style>{STYLE}</style>"
           f"<script>{get_plotlyjs()}</script></head><body>",
           f"<h1>digitlab report</h1><p class='muted'>{len(runs)} run{'s' * (len(runs) > 1)}, made {when}.</p>"]
    sizes = sorted({r.config.get("val_size", data.VAL_SIZE) for r in runs})
    out.append("<section><h2>The data</h2>"
               f"<p>MNIST: {MNIST_TRAIN:,} training images of handwritten digits and {MNIST_TEST:,} test images, "
               "28x28 grey pixels. Of the training images, "
               + " or ".join(f"{v:,}" for v in sizes) + " are held out for validation (always the same ones, by a "
               "fixed permutation): they choose the best epoch, whose checkpoint is kept. The test images are used "
               "only to report, never to choose.</p><h2>The models</h2>"
               + _table(_settings_rows(runs), decimals={"dropout": 2}) + "</section>")
    out.append("<section><h2>Curves</h2>"
               + _figure(plots.epoch_curves(sel, "loss", ("train", "val", "test"), colors=colors, steps_per_epoch=steps))
               + _figure(plots.epoch_curves(sel, "acc", ("train", "val", "test"), colors=colors, steps_per_epoch=steps))
               + _figure(plots.step_losses([(lbl, store.steps(r.id)) for lbl, r in zip(labels, runs)], 50,
                                           colors=colors)) + "</section>")
    summary = tables.summary_rows(sel, 0.97, "test")
    course = tables.course_rows(sel, [r.config.get("name") for r in runs], [r.config for r in runs])
    out.append("<section><h2>Summary</h2><p>First epoch whose test accuracy reached 97%, the best test accuracy at "
               "any epoch, the test accuracy of the checkpoint kept (the best validation epoch, not the last) and the "
               "last epoch's figures.</p>"
               + _table(summary, percent=[k for k in summary[0] if "acc" in k],
                        decimals={k: 4 for k in summary[0] if "loss" in k}))
    if course:
        out.append("<h3>The course's figures beside yours</h3>"
                   + _table([{"run": c["run"], "preset": c["preset"], "you": c["you"], "the course": c["course"],
                              "why they differ": c["why"] or "-"} for c in course]))
    out.append("</section>")
    out += [_one_run(store, r, mnist, label) for r, label in zip(runs, labels)]
    reference = ", ".join(f"{name} {figures['acc']:.2%}" for name, figures in COURSE.items())
    out.append(f"<p class='muted'>Made by digitlab. The course's reference figures: {_e(reference)}.</p></body></html>")
    return "".join(out)


def pdf(document: str, path, chromium: str = "/usr/bin/chromium") -> Path:
    """The report printed on A4 by headless Chromium (its figures drawn first), written whole or not at all."""
    from playwright.sync_api import Error, sync_playwright

    if not Path(chromium).exists():
        raise UserError(f"A PDF needs Chromium at {chromium}: install it (`apt-get install chromium`) or save the "
                        "report as .html and print it from a browser.")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            page.route("**/*", lambda route: route.abort() if not route.request.url.startswith(("data:", "about:"))
                       else route.continue_())  # the report needs nothing outside itself
            page.set_content(document, wait_until="load")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")  # the code, printed
            page.wait_for_function("() => [...document.querySelectorAll('.plotly-graph-div')]"
                                   ".every(d => d.querySelector('.main-svg'))", timeout=60_000)
            made = page.pdf(format="A4", print_background=True, margin=dict(top="14mm", bottom="14mm",
                                                                             left="12mm", right="12mm"))
            browser.close()
    except Error as e:
        raise UserError(f"Chromium could not print the report ({str(e).splitlines()[0]}): save it as .html and "
                        "print it from a browser.") from None
    return write_atomically(Path(path), lambda f: f.write(made))


def save(store: Store, run_ids: list[int], path, **kw) -> Path:
    """The report written to path: .html, or .pdf (printed by Chromium)."""
    suffix = Path(path).suffix
    if suffix not in (".html", ".pdf"):
        raise UserError(f"{path} should end in .html (the report) or .pdf (the report printed).")
    document = build(store, run_ids, **kw)
    if suffix == ".pdf":
        return pdf(document, path)
    return write_atomically(Path(path), lambda f: f.write(document.encode()))
