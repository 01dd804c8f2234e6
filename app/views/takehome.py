"""Take it home (Streamlit only: the work is in digitlab.course.export and digitlab.course.report): a run as plain PyTorch, and
the report of the runs compared."""

import tempfile
from pathlib import Path

import streamlit as st

from app import ui
from digitlab import UserError
from digitlab.course import export, report
from digitlab.runs.store import Run


def report_of(store, run_ids: list[int]) -> None:
    """The report of the runs compared (digitlab.course.report), made on demand: HTML at once, a PDF where Chromium is."""
    key = ",".join(map(str, run_ids))
    st.caption("The data and split, each model and its settings, the curves, the course's summary beside yours, and "
               "per run its confusion matrix, per-class precision / recall / F1, misclassified digits, pinned "
               "drawings, My digits, and the command and the plain PyTorch file that reproduce it.")
    made = st.session_state.get("report")
    if st.button("Make the report", icon=":material/description:", key="make_report"):
        try:
            with st.spinner("Scoring each checkpoint on the test set and drawing the figures..."):
                made = {"runs": key, "html": report.build(store, run_ids, may_see=ui.may_see).encode()}
            st.session_state.report = made
        except UserError as e:
            ui.show_error(e)
            return
    if not made or made["runs"] != key:
        return
    c1, c2 = st.columns(2)
    c1.download_button("Report (HTML)", made["html"], file_name="digitlab-report.html", mime="text/html",
                       icon=":material/download:", key="report_html")
    if c2.button("Print it as a PDF", icon=":material/picture_as_pdf:", key="make_pdf"):
        try:
            with st.spinner("Chromium is printing the report..."), tempfile.TemporaryDirectory() as d:
                made["pdf"] = report.pdf(made["html"].decode(), Path(d) / "report.pdf").read_bytes()
        except UserError as e:
            ui.show_error(e)
    if made.get("pdf"):
        c2.download_button("Report (PDF)", made["pdf"], file_name="digitlab-report.pdf", mime="application/pdf",
                           icon=":material/download:", key="report_pdf")


def show_export(run: Run) -> None:
    """A run as plain PyTorch to take home: a script and a notebook to download, and the script to read."""
    made = export.of_run(run)
    why = export.refused(made["config"])
    if why:
        st.info(why, icon=":material/block:")
        return
    for line in export.left_out(made["config"]):
        st.caption(f"Left out: {line}")
    c1, c2 = st.columns(2)
    script = export.text("run.py", **made)
    c1.download_button("Script (.py)", script, file_name=f"digitlab-run{run.id}.py",
                       mime="text/x-python", icon=":material/code:", key=f"py{run.id}")
    c2.download_button("Notebook (.ipynb)", export.text("run.ipynb", **made), file_name=f"digitlab-run{run.id}.ipynb",
                       mime="application/x-ipynb+json", icon=":material/menu_book:", key=f"nb{run.id}")
    st.caption("Only torch, torchvision and numpy: `python digitlab-run{0}.py --data data` trains the same model on "
               "MNIST and writes run{0}.pt, which `digitlab eval` and the Draw page read.".format(run.id))
    st.code(script, language="python", line_numbers=True, height=420)
