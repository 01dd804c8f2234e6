"""My digits: the drawings a person saved with their labels; every model scored on them; edit, export, import."""

import base64

import numpy as np
import pandas as pd
import streamlit as st

from app import ui
from digitlab import UserError, markdown, settings
from digitlab.files import megabytes
from digitlab.course import plots
from digitlab.datasets import data, handwriting
from digitlab.learn import presets
from digitlab.runs import admission, catalog, sources, tables
from digitlab.runs.runner.execution import my_digits_result

ui.routed()
store = ui.store()
me = ui.viewer().name
st.title("My digits")
st.caption("Digits you drew and saved on the **Draw** page (a button per digit under the pad, or a digit key), with "
           "their labels. Models never train on them unless you say so: they measure how well a model reads *your* "
           "handwriting, which MNIST's test set does not.")


def imported() -> None:
    up = st.session_state.get("digits_zip")
    if up is None:
        return
    try:
        n = handwriting.import_zip(store, up.getvalue(), owner=me)
        st.toast(f"Imported {n} digit{'s' * (n != 1)}.", icon=":material/upload:")
    except UserError as e:
        st.session_state.digits_error = str(e)


rows = store.digits(me, images=False)
x, y, ids = ui.my_digits()
counts = np.bincount(y, minlength=10)
with st.expander("Import a zip exported from My digits (or any IDX pair of 28x28 digits)", icon=":material/upload:",
                 expanded=not rows):
    st.file_uploader("My digits zip", type=["zip"], key="digits_zip", on_change=imported,
                     label_visibility="collapsed")
if "digits_error" in st.session_state:
    ui.show_error(UserError(st.session_state.pop("digits_error")))
if not rows:
    st.info("No digits yet: draw one on the **Draw** page and press the digit it is, under the pad.")
    st.stop()

missing = [str(k) for k in range(10) if counts[k] < 5]
st.markdown(" · ".join(f"**{k}** ×{counts[k]}" if counts[k] >= 5 else f"**{k}** ×:orange[{counts[k]}]"
                       for k in range(10)))
st.caption(f"{len(rows)} digits." + (f" Draw a few more of {', '.join(missing)}: a score on fewer than five of a "
                                     "digit says little." if missing else " Every digit has five or more: well done."))
quota = handwriting.quota(settings.current().limits, me)
if quota is not None:  # a class: what this person keeps on the teacher's disk, and how much they may
    kept = store.bytes_kept(me)
    used = sum(kept.values())
    st.progress(min(1.0, used / quota), text=f"You keep {megabytes(used)} of your {megabytes(quota)}: drawings "
                                              f"{megabytes(kept['drawings'])}, runs {megabytes(kept['runs'])}.")

st.subheader("Every model on your digits")
pooled = False
if ui.class_mode():
    pooled = st.toggle("The whole class's digits", help="Everyone's saved digits pooled: a bigger, more varied set.")
table = []
tuning = [r for r in store.runs(owner=ui.owner_filter()) if r.config.get("my_digits") or r.config.get("start_from")]
results = {r.id: my_digits_result(store, r.id) for r in tuning}  # read once: the table below uses them too
trained_on = {r.checkpoint: len((results[r.id] or {}).get("trained", [])) for r in tuning if r.checkpoint}
unreadable = []
for label, path in ui.models().items():
    try:
        ck = ui.model(path)
        mine = ui.digits_report(path, pooled)
    except UserError as e:  # one damaged checkpoint is one row that says so: the others stand
        table.append({"model": f"{label} ⚠ unreadable"})
        unreadable.append(str(e))
        continue
    mnist = ck.metrics.get("test_acc")
    table.append({"model": label, "your digits acc": mine["test_acc"] * 100,
                  "MNIST test acc": mnist * 100 if isinstance(mnist, float) else None,
                  "gap (points)": (mine["test_acc"] - mnist) * 100 if isinstance(mnist, float) else None,
                  "mistakes": int((mine["y_true"] != mine["y_pred"]).sum()),
                  "trained on": trained_on.get(path) or None})
st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch",
             column_config={k: st.column_config.NumberColumn(format="%.2f%%") for k in ("MNIST test acc",
                                                                                      "your digits acc")}
             | {"gap (points)": st.column_config.NumberColumn(format="%+.2f"),
                "model": st.column_config.TextColumn(pinned=True),
                "trained on": st.column_config.NumberColumn(
                    help="How many of these digits the model trained on: its score on them flatters it. Its score on "
                         "the ones it never saw is in the fine-tune table below.")})
for said in unreadable:
    st.warning(markdown.as_text(said), icon=":material/broken_image:")
st.caption(f"Scored on {'the class’s' if pooled else 'your'} {len(ui.my_digits(pooled)[0])} digits, through the same "
           "preprocessing as the Draw page. A negative gap: the model reads MNIST better than it reads you.")

st.subheader("A model of your own")
st.caption("Fine-tune a model on your handwriting: it starts from the model's weights and trains a few epochs on "
           "MNIST plus a share of your digits. The rest of your digits is held out, never trained on, and scored "
           "before and after, with MNIST's test set: what it learned of you, and whether it forgot MNIST.")
starts = {k: v for k, v in catalog.start_choices(store, ui.owner_filter()).items() if k}
f1, f2, f3 = st.columns([3, 2, 1])
start = f1.selectbox("Start from", list(starts), format_func=starts.get, key="ft_start")
share = f2.slider("Share of your digits to train on", 0.1, 0.9, 0.5, 0.1, key="ft_share",
                  help=f"At least {sources.MIN_DIGITS} digits in all; the held-out rest is chosen at random.")
epochs = f3.number_input("Epochs", 1, 20, 3, key="ft_epochs")
if st.button("Queue the fine-tune run", icon=":material/tune:", key="ft_launch"):
    try:
        base = ui.model(sources.start_path(store, start)).config
        rid = admission.launch(store, presets.finetune(base, start, share, int(epochs)), data.data_root(), owner=me)
        ui.supervisor().wake()
        st.toast(f"Run {rid} queued: watch it on the Train page; its result appears here.",
                 icon=":material/rocket_launch:")
    except UserError as e:
        ui.show_error(e)
tuned = tables.my_digits_rows(tuning, results)
if tuned:
    table = pd.DataFrame(tuned)
    acc = [c for c in table.columns if "acc" in c or "MNIST" in c]
    table[acc] = table[acc] * 100
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={k: st.column_config.NumberColumn(format="%.2f%%") for k in acc})

st.subheader("By digit")
tabs = st.tabs([f"{k} ({counts[k]})" for k in range(10)])
for k, tab in enumerate(tabs):
    shown = np.flatnonzero(y == k)
    if len(shown) == 0:
        tab.caption(f"No {k} yet.")
        continue
    tab.image([plots.enlarge(x[i], 2) for i in shown[-60:]], caption=[f"#{ids[i]}" for i in shown[-60:]], width=56)
    if len(shown) > 60:
        tab.caption(f"The newest 60 of {len(shown)}.")


def thumbnail(pixels) -> str:
    return "data:image/png;base64," + base64.b64encode(handwriting.image_png(pixels)).decode()


st.subheader("Relabel or delete")
edits = pd.DataFrame({"digit": [thumbnail(img) for img in x], "id": ids, "label": y.astype(int),
                      "saved": pd.to_datetime([r["created"] for r in rows], unit="s"), "delete": False})
edited = st.data_editor(edits, hide_index=True, width="stretch", key="digit_edits", disabled=["digit", "id", "saved"],
                        column_config={"digit": st.column_config.ImageColumn("digit", width="small"),
                                       "label": st.column_config.SelectboxColumn("label", options=list(range(10)),
                                                                                 required=True),
                                       "saved": st.column_config.DatetimeColumn("saved", format="YYYY-MM-DD HH:mm"),
                                       "delete": st.column_config.CheckboxColumn("delete")})
try:  # the table's edits come from the browser, which anyone can script: every label is checked
    changed = {int(i): handwriting.label_of(new) for i, old, new in zip(ids, y, edited["label"]) if new != old}
except UserError as e:
    ui.show_error(e)
    changed = {}
doomed = [int(i) for i, d in zip(edited["id"], edited["delete"]) if d is True]
if st.button(f"Apply: {len(changed)} relabelled, {len(doomed)} deleted", type="primary",
             disabled=not (changed or doomed), key="apply_digits"):
    store.relabel_digits({i: v for i, v in changed.items() if i not in doomed}, owner=me)
    store.delete_digits(doomed, owner=me)
    st.session_state.pop("digit_edits", None)
    st.rerun()

st.download_button("Export all as a zip (PNG drawings, an IDX pair, a CSV)",
                   lambda: handwriting.export_zip(store.digits(me)), "my-digits.zip", "application/zip",
                   icon=":material/download:")
