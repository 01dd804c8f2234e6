"""Compare runs: curves overlaid, the course's summary table, and one run in depth."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app import ui
from app.views import network, takehome
from digitlab import UserError, addresses, markdown
from digitlab.course import plots
from digitlab.learn import evaluation, metrics
from digitlab.runs import catalog, tables
from digitlab.runs.runner.execution import my_digits_result
from digitlab.runs.store import Status

ui.routed()
store = ui.store()
st.title("Runs")
if ui.owner_filter() is not None and ui.board_on():  # one who sees only their own runs: the class's on the board
    board, every = tables.board_rows(store), tables.board_rows(store, flagged=True)
    if every:
        with st.expander(f"Class board: {len(board)} finished runs of the class, best first", expanded=False):
            if len(every) > len(board) and st.checkbox(f"Show runs that did not learn ({len(every) - len(board)})",
                                                       key="board_flagged"):
                board = every
            st.dataframe(pd.DataFrame(board), hide_index=True, width="stretch",
                         column_config={k: st.column_config.NumberColumn(format="percent")
                                        for k in ("best val acc", "test acc")})
runs = store.runs(owner=ui.owner_filter())
ui.not_yours(addresses.ids_in(st.query_params.get("compare", "")) + addresses.ids_in(st.query_params.get("run", "")),
             {r.id for r in runs})
if not runs:
    st.info("No runs yet: launch one on the **Train** page or with `digitlab train --preset fast`.")
    st.stop()

table = pd.DataFrame([tables.run_row(r) for r in runs])
have_digits = len(ui.my_digits()[0]) > 0
if have_digits:  # the MNIST-versus-you gap, beside the test accuracy
    scored = [ui.digits_score(r.checkpoint) if r.checkpoint and Path(r.checkpoint).exists() else None
              for r in runs]
    table.insert(int(table.columns.get_loc("test acc")) + 1, "your digits acc",
                 [s["test_acc"] if s else None for s in scored])
    unreadable = [r.checkpoint and Path(r.checkpoint).exists() and s is None for r, s in zip(runs, scored)]
    if any(unreadable):  # a damaged checkpoint breaks its own row, not the page
        table["status"] = [f"{st_} · checkpoint unreadable: delete it" if bad else st_
                           for st_, bad in zip(table["status"], unreadable)]
percent = [c for c in ("best val acc", "test acc", "your digits acc") if c in table.columns]
table[percent] = table[percent] * 100
st.dataframe(table if ui.class_mode() else table.drop(columns="owner"), hide_index=True, width="stretch",
             column_config={**{k: st.column_config.NumberColumn(format="%.2f%%") for k in percent},
                            "id": st.column_config.NumberColumn(pinned=True, width=40),  # in sight when it scrolls
                            "name": st.column_config.TextColumn(pinned=True),
                            "lr": st.column_config.NumberColumn(format="%.3g", width=60),
                            "batch": st.column_config.NumberColumn(width=50),
                            "epochs": st.column_config.NumberColumn(width=55),
                            "params": st.column_config.NumberColumn(format="localized"),
                            "duration": st.column_config.NumberColumn(format="%.0f s")})

manageable = {r.id: r for r in runs if ui.may_manage(r)}
if manageable:
    with st.expander("Delete runs", icon=":material/delete:"):
        doomed = st.multiselect("Runs to delete (a running one is cancelled first)", list(manageable), key="doomed",
                                format_func=lambda i: f"{i}: {manageable[i].name} ({manageable[i].status})")
        if doomed and st.button(f"Delete {len(doomed)} run{'s' * (len(doomed) > 1)} for good", type="primary",
                                key="delete_runs"):
            try:
                for run_id in doomed:
                    store.delete(run_id)
                st.rerun()
            except UserError as e:
                ui.show_error(e)

SPLITS = {"train": "training images", "val": "validation: picks the epoch kept", "test": "test: scored once"}
with_epochs = [r for r in runs if r.status == Status.RUNNING or r.best_val_acc is not None]
labels = {f"{r.id}: {r.name}": r for r in with_epochs}
linked = addresses.ids_in(st.query_params.get("compare", ""))  # a link to a comparison names its runs
wanted = linked if linked else catalog.default_comparison(runs)
default = [label for label, r in labels.items() if r.id in wanted]
chosen = st.multiselect("Runs to compare", list(labels), default=default, key="compare_runs",
                        help="Opens on the last runs queued together (the optimizer comparison, say) that completed; "
                             "the address holds the choice, so a link shows the same comparison.")
ui.set_address(compare=",".join(str(labels[lbl].id) for lbl in chosen))
if chosen:
    picked = [labels[lbl] for lbl in chosen]
    for r in picked:
        if r.health:
            st.warning(f"Run {r.id} {r.health['flag']}: {r.health['reason']} {r.health['hint']}",
                       icon=":material/warning:")
    sel = [(lbl, store.epochs(r.id)) for lbl, r in zip(chosen, picked)]
    colors = [plots.run_color(r.id) for r in picked]
    o1, o2, o3 = st.columns([2, 2, 1])
    named = st.query_params.get("splits", "").split(",")  # a lesson's link names them (or a hand-made address)
    asked = list(dict.fromkeys(x for x in named if x in SPLITS))
    splits = o1.segmented_control("Splits", list(SPLITS), default=asked or ["train", "test"], selection_mode="multi")
    x = o2.segmented_control("x-axis", list(plots.X_AXES), default="epoch", format_func=plots.X_AXES.get) or "epoch"
    log_y = o3.toggle("Log y", help="A log scale separates losses that are all near zero.")
    png = {"toImageButtonOptions": {"format": "png", "scale": 2, "filename": "digitlab-runs"}}
    a, b = st.columns(2)
    for column, metric in ((a, "loss"), (b, "acc")):
        column.plotly_chart(plots.epoch_curves(sel, metric, splits or ["test"], colors=colors, x=x, log_y=log_y,
                                               steps_per_epoch=[r.steps_per_epoch for r in picked]),
                            width="stretch", config=png)
    w1, w2 = st.columns([4, 1])
    window = w1.slider("Moving-average window (steps)", 1, 500, 50)
    raw = w2.toggle("Raw steps", help="Every step's loss, faint, under the averages.")
    st.plotly_chart(plots.step_losses([(lbl, store.steps(r.id)) for lbl, r in zip(chosen, picked)], window,
                                      colors=colors, raw=raw, log_y=log_y), width="stretch", config=png)
    st.caption("Click a run in a legend to hide or show it; the camera icon above a chart saves it as a PNG.")

    st.subheader("Summary")
    for line in tables.course_lines(sel, [r.config.get("name") for r in picked], [r.config for r in picked]):
        st.markdown(f":material/school: {line}")
    c1, c2, c3 = st.columns([2, 2, 2])
    target = c1.number_input("Target accuracy (%)", 50.0, 100.0, 97.0, step=0.5) / 100
    on = st.query_params.get("on", "test")
    split = c2.selectbox("Accuracy on", ["test", "val", "train"], index=["test", "val", "train"].index(on)
                         if on in SPLITS else 0, format_func=lambda k: f"{k} ({SPLITS[k]})",
                         help="The lesson that sent you here asks about this split.")
    table = pd.DataFrame(tables.summary_rows(sel, target, split))
    percent = [c for c in table.columns if "acc" in c]
    table[percent] = table[percent] * 100  # one format a column: two decimals everywhere
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={**{k: st.column_config.NumberColumn(format="%.2f%%") for k in percent},
                                "run": st.column_config.TextColumn(pinned=True),
                                "checkpoint test acc": st.column_config.NumberColumn(
                                    format="%.2f%%", help="The test accuracy of the checkpoint kept: the epoch with "
                                                          "the best validation accuracy, not the last."),
                                **{k: st.column_config.NumberColumn(format="%.4f") for k in table.columns
                                   if "loss" in k}})
    per_epoch = pd.concat([pd.DataFrame(e).assign(run=lbl) for lbl, e in sel if e], ignore_index=True)
    c3.download_button("Per-epoch metrics (CSV)", per_epoch.to_csv(index=False).encode(), "digitlab-runs.csv",
                       "text/csv", icon=":material/download:", disabled=per_epoch.empty)
    with st.expander("Report to hand in: these runs in one HTML file or PDF", icon=":material/description:"):
        takehome.report_of(store, [r.id for r in picked])

st.divider()
st.subheader("One run in depth")
finished = {f"{r.id}: {r.name}": r for r in runs if r.checkpoint and Path(r.checkpoint).exists()}
if not finished:
    st.caption("Runs with a checkpoint appear here once they finish.")
    st.stop()
linked = addresses.ids_in(st.query_params.get("run", ""))
best = linked[0] if linked and linked[0] in {r.id for r in finished.values()} else \
    catalog.best_completed(list(finished.values()))
labels_done = list(finished)
start = next((k for k, lbl in enumerate(labels_done) if finished[lbl].id == best), 0)
run = finished[st.selectbox("Run", labels_done, index=start, help="Opens on the completed run with the best test "
                            "accuracy, or on the one the address names.", key="details_run")]
ui.set_address(run=str(run.id))
with st.expander("The command that reproduces this run"):
    network.show_command(run.config)
with st.expander("As PyTorch: this run as plain code to take home", icon=":material/code:"):
    takehome.show_export(run)
drawings = store.pins(run.id)
if drawings:
    st.markdown("**Pinned drawings, as the network learned them**")
    network.pinned(drawings, store.pin_scores(run.id), run.steps_per_epoch, f"pinr{run.id}")
mnist = ui.dataset()
if mnist is None:
    st.stop()


@st.cache_data(max_entries=16, show_spinner="Evaluating on the 10,000 test images…")
def cached_report(path: str, mtime: float) -> dict:
    return evaluation.evaluate_checkpoint(ui.model(path), ui.dataset())


on = st.segmented_control("Scored on", ["MNIST test set", "My digits"], default="MNIST test set", key="scored_on",
                          help="My digits: the digits you saved on the Draw page.") if have_digits else None


def delete_controls(run) -> None:
    """Delete this run (its owner, or a teacher): at the foot of its details, or in place of them when its checkpoint
    cannot be read."""
    with st.popover("Delete run", icon=":material/delete:"):
        st.write(f"Delete run {run.id} ({markdown.as_text(run.name)}), its metrics and its checkpoint files?")
        if st.button("Delete for good", type="primary", key=f"del{run.id}"):
            try:
                store.delete(run.id)
                st.rerun()
            except UserError as e:
                ui.show_error(e)


try:
    if on == "My digits":
        ev = ui.digits_report(run.checkpoint)
        images = ui.my_digits()[0]
    else:
        ev = cached_report(run.checkpoint, Path(run.checkpoint).stat().st_mtime)
        images = mnist.test_x.numpy()
except UserError as e:
    ui.show_error(e)
    if ui.may_manage(run):
        delete_controls(run)
    st.stop()
tuned = my_digits_result(store, run.id)
if tuned and "after" in tuned:
    row = tables.my_digits_rows([run], {run.id: tuned})[0]

    def change(before, after):
        return f"{after:.2%}" if before is None else f"{before:.2%} → {after:.2%}"

    held = (f" on the {row['held out']} held out, {change(row['held-out acc before'], row['held-out acc after'])};"
            if row["held-out acc after"] is not None else "")
    st.info(f"Started from {row['start from']}, trained on {row['trained on']} of the owner's digits:{held} MNIST "
            f"test {change(row['MNIST test before'], row['MNIST test after'])}.", icon=":material/tune:")
m = st.columns(4)
m[0].metric("Accuracy", f"{ev['test_acc']:.2%}")
m[1].metric("Loss", f"{ev['test_loss']:.4f}")
m[2].metric("Macro F1", f"{ev['macro_f1']:.4f}")
m[3].metric("Parameters", f"{ev['num_params']:,}")

left, right = st.columns([3, 2], gap="large")
with right:
    st.markdown(f"**Misclassified: {on or 'MNIST test set'}**")
    worst_true, worst_pred = metrics.worst_confusion(ev["confusion"])
    st.session_state.setdefault(f"t{run.id}", worst_true)  # the most common mistake, until a cell is clicked
    st.session_state.setdefault(f"p{run.id}", worst_pred)
    c1, c2 = st.columns(2)
    true = c1.selectbox("True digit", range(10), key=f"t{run.id}")
    pred = c2.selectbox("Predicted as", range(10), key=f"p{run.id}")
    idx = metrics.misclassified(ev["y_true"], ev["y_pred"], true, pred)
    if true == pred:
        st.caption("Choose two different digits: the diagonal holds the right answers.")
    elif len(idx) == 0:
        st.caption(f"No {true} was read as {pred}.")
    else:
        shown = idx[:24]
        st.caption(f"{len(idx)} images of {true} read as {pred}" + (", the first 24:" if len(idx) > 24 else ":"))
        st.image([plots.enlarge(images[i], 3) for i in shown],
                 caption=[f"{pred}: {ev['probs'][i, pred]:.0%} · {true}: {ev['probs'][i, true]:.0%}" for i in shown],
                 width=84)
def pick_cell(run_id: int) -> None:
    """A click on a confusion-matrix cell chooses that cell's images; a selection that names no cell (it comes from
    the browser, which anyone can script) changes nothing."""
    cell = metrics.clicked_cell(st.session_state[f"cm{run_id}"].selection.points)
    if cell is not None:
        st.session_state[f"t{run_id}"], st.session_state[f"p{run_id}"] = cell


with left:
    st.plotly_chart(plots.confusion(ev["confusion"], (true, pred)), width="stretch", key=f"cm{run.id}",
                    on_select=lambda: pick_cell(run.id), selection_mode="points")
    st.caption("Click a cell to see its images.")

st.markdown(f"**Per-class precision, recall and F1 ({on or 'MNIST test set'})**")
st.dataframe(pd.DataFrame(ev["per_class"]), hide_index=True, width="stretch", height=12 * 35 + 3,
             column_config={k: st.column_config.NumberColumn(format="%.4f") for k in ("precision", "recall", "f1")})

st.markdown("**Sample predictions**")
rng = np.random.default_rng(st.session_state.get(f"sample{run.id}", 0))
pick = rng.choice(len(ev["y_true"]), min(16, len(ev["y_true"])), replace=False)
st.image([plots.enlarge(images[i], 3) for i in pick],
         caption=[("✓" if ev["y_pred"][i] == ev["y_true"][i] else "✗") + f" Pred {ev['y_pred'][i]} / True {ev['y_true'][i]}"
                  for i in pick], width=84)
if st.button("Other samples"):
    st.session_state[f"sample{run.id}"] = st.session_state.get(f"sample{run.id}", 0) + 1
    st.rerun()

if not ui.may_manage(run):
    st.stop()
c1, c2 = st.columns(2)
c1.download_button("Download checkpoint", Path(run.checkpoint).read_bytes(), file_name=f"digitlab-run{run.id}.pt",
                   icon=":material/download:")
with c2:
    delete_controls(run)
