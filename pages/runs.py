"""Compare runs: curves overlaid, the course's summary table, and one run in depth."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

import ui
from digitlab import UserError, evaluation, metrics, plots, report
from digitlab.store import Status

ui.routed()
store = ui.store()
st.title("Runs")
if ui.class_mode() and not ui.viewer().teacher and ui.board_on():
    board = report.board_rows(store)
    if board:
        with st.expander(f"Class board: {len(board)} finished runs of the class, best first", expanded=False):
            st.dataframe(pd.DataFrame(board), hide_index=True, width="stretch",
                         column_config={k: st.column_config.NumberColumn(format="percent")
                                        for k in ("best val acc", "test acc")})
runs = store.runs(owner=ui.owner_filter())
if not runs:
    st.info("No runs yet: launch one on the **Train** page or with `digitlab train --preset fast`.")
    st.stop()

table = pd.DataFrame([report.run_row(r) for r in runs])
st.dataframe(table if ui.class_mode() else table.drop(columns="owner"), hide_index=True, width="stretch",
             column_config={"best val acc": st.column_config.NumberColumn(format="percent"),
                            "test acc": st.column_config.NumberColumn(format="percent"),
                            "lr": st.column_config.NumberColumn(format="%g")})

with_epochs = [r for r in runs if r["status"] == Status.RUNNING or r["best_val_acc"] is not None]
labels = {f"{r['id']}: {r['name']}": r for r in with_epochs}
chosen = st.multiselect("Runs to compare", list(labels), default=list(labels)[:3])
if chosen:
    sel = [(lbl, store.epochs(labels[lbl]["id"])) for lbl in chosen]
    splits = st.segmented_control("Splits", ["train", "val", "test"], default=["train", "test"], selection_mode="multi")
    a, b = st.columns(2)
    a.plotly_chart(plots.epoch_curves(sel, "loss", splits or ["test"]), width="stretch")
    b.plotly_chart(plots.epoch_curves(sel, "acc", splits or ["test"]), width="stretch")
    window = st.slider("Moving-average window (steps)", 1, 500, 50)
    st.plotly_chart(plots.step_losses([(lbl, store.steps(labels[lbl]["id"])) for lbl in chosen], window),
                    width="stretch")

    st.subheader("Summary")
    c1, c2 = st.columns(2)
    target = c1.number_input("Target accuracy (%)", 50.0, 100.0, 97.0, step=0.5) / 100
    split = c2.selectbox("Accuracy on", ["test", "val", "train"])
    table = report.summary_rows(sel, target, split)
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch",
                 column_config={k: st.column_config.NumberColumn(format="percent") for k in ("best acc", "last acc")})

st.divider()
st.subheader("One run in depth")
finished = {f"{r['id']}: {r['name']}": r for r in runs if r["checkpoint"] and Path(r["checkpoint"]).exists()}
if not finished:
    st.caption("Runs with a checkpoint appear here once they finish.")
    st.stop()
run = finished[st.selectbox("Run", list(finished))]
mnist = ui.dataset()
if mnist is None:
    st.stop()


@st.cache_data(max_entries=16, show_spinner="Evaluating on the 10,000 test images…")
def cached_report(path: str, mtime: float) -> dict:
    return evaluation.evaluate_checkpoint(ui.model(path), ui.dataset())


try:
    ev = cached_report(run["checkpoint"], Path(run["checkpoint"]).stat().st_mtime)
except UserError as e:
    ui.show_error(e)
    st.stop()
m = st.columns(4)
m[0].metric("Test accuracy", f"{ev['test_acc']:.2%}")
m[1].metric("Test loss", f"{ev['test_loss']:.4f}")
m[2].metric("Macro F1", f"{ev['macro_f1']:.4f}")
m[3].metric("Parameters", f"{ev['num_params']:,}")

left, right = st.columns([3, 2], gap="large")
with right:
    st.markdown("**Misclassified test images**")
    worst_true, worst_pred = metrics.worst_confusion(ev["confusion"])
    c1, c2 = st.columns(2)
    true = c1.selectbox("True digit", range(10), index=worst_true, key=f"t{run['id']}")
    pred = c2.selectbox("Predicted as", range(10), index=worst_pred, key=f"p{run['id']}")
    idx = metrics.misclassified(ev["y_true"], ev["y_pred"], true, pred)
    if true == pred:
        st.caption("Choose two different digits: the diagonal holds the right answers.")
    elif len(idx) == 0:
        st.caption(f"No {true} was read as {pred}.")
    else:
        shown = idx[:24]
        st.caption(f"{len(idx)} test images of {true} read as {pred}" + (", the first 24:" if len(idx) > 24 else ":"))
        st.image([plots.enlarge(mnist.test_x[i].numpy(), 3) for i in shown],
                 caption=[f"{pred}: {ev['probs'][i, pred]:.0%} · {true}: {ev['probs'][i, true]:.0%}" for i in shown],
                 width=84)
with left:
    st.plotly_chart(plots.confusion(ev["confusion"], (true, pred)), width="stretch")

st.markdown("**Per-class precision, recall and F1 (test set)**")
st.dataframe(pd.DataFrame(ev["per_class"]), hide_index=True, width="stretch", height=12 * 35 + 3,
             column_config={k: st.column_config.NumberColumn(format="%.4f") for k in ("precision", "recall", "f1")})

st.markdown("**Sample test predictions**")
rng = np.random.default_rng(st.session_state.get(f"sample{run['id']}", 0))
pick = rng.choice(len(ev["y_true"]), 16, replace=False)
st.image([plots.enlarge(mnist.test_x[i].numpy(), 3) for i in pick],
         caption=[("✓" if ev["y_pred"][i] == ev["y_true"][i] else "✗") + f" Pred {ev['y_pred'][i]} / True {ev['y_true'][i]}"
                  for i in pick], width=84)
if st.button("Other samples"):
    st.session_state[f"sample{run['id']}"] = st.session_state.get(f"sample{run['id']}", 0) + 1
    st.rerun()

if not ui.may_manage(run):
    st.stop()
c1, c2 = st.columns(2)
c1.download_button("Download checkpoint", Path(run["checkpoint"]).read_bytes(), file_name=f"digitlab-run{run['id']}.pt",
                   icon=":material/download:")
with c2.popover("Delete run", icon=":material/delete:"):
    st.write(f"Delete run {run['id']} ({report.as_text(run['name'])}), its metrics and its checkpoint files?")
    if st.button("Delete for good", type="primary", key=f"del{run['id']}"):
        try:
            store.delete(run["id"])
            st.rerun()
        except UserError as e:
            ui.show_error(e)
