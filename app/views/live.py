"""The Train page's live view: the runs in progress with their curves and pinned drawings, the queue with when each
should end, and the runs just finished; one fragment for the whole view, refreshed as often as the machine allows."""

import time
import uuid

import streamlit as st

from app import ui
from app.views import network
from digitlab import catalog, cost, devices, markdown, plots, progress
from digitlab.config import TrainConfig
from digitlab.live import FASTEST
from digitlab.runner import workers
from digitlab.store import Status

ICONS = {Status.COMPLETED: ":material/check_circle:", Status.FAILED: ":material/error:",
         Status.CANCELLED: ":material/cancel:"}


def cancel_run(run_id: int) -> None:
    ui.store().request_cancel(run_id)
    ui.live().refresh()


def show_running(run: dict, snap) -> None:
    epochs = snap.epochs.get(run["id"], [])
    done = progress.progress(run, len(epochs))
    left = progress.seconds_left(run, done["fraction"], time.time())
    st.subheader(f"Run {run['id']}: {markdown.as_text(run['name'])}")
    head, cancel = st.columns([5, 1])
    head.progress(done["fraction"], text=f"epoch {done['epoch']}/{done['epochs']} · step {done['step']}/"
                                         f"{done['steps_per_epoch']} · on {run['device'] or '…'} · "
                                         f"{cost.duration((time.time() - run['started']) / 60)}"
                                         + (f" · about {cost.duration(left / 60)} left" if left else ""))
    mates = catalog.batch_of(run, snap.runs)
    if mates:
        st.caption(batch_line(run, mates, snap, left))
    if run["cancel_requested"]:
        cancel.write("cancelling…")
    elif ui.may_manage(run):
        cancel.button("Cancel", key=f"cr{run['id']}", type="primary", on_click=cancel_run, args=(run["id"],))
    curves(run, epochs, lambda kind: ui.live().figure(kind, run["name"], run["id"], snap))
    drawings, scores = snap.pins.get(run["id"], ([], []))
    if drawings:
        st.markdown("**Your pinned drawings, as the network learns them**")
        network.pinned(drawings, scores, run["steps_per_epoch"], f"pin{run['id']}",
                            ui.live().pinned_figures(run["id"], snap))
    st.session_state.watched = run["id"]


def batch_line(run: dict, mates: list[dict], snap, left: float | None) -> str:
    """Where a comparison stands: its finished runs (drawn beside this one) and when the last one should end."""
    done = [m for m in mates if not m["status"].active]
    waiting = [m["id"] for m in mates if m["status"] == Status.QUEUED and m["id"] in snap.order]
    line = f"Queued together with {', '.join(str(m['id']) for m in mates)}: {len(done)} of {len(mates) + 1} finished"
    if done:
        line += " (on the charts beside this one)"
    if left is not None:
        ahead = snap.order[:snap.order.index(waiting[-1]) + 1] if waiting else []  # the last one waits for these
        by_id = {r["id"]: r for r in snap.runs}
        total = left / 60 + sum(minutes(by_id[i]) for i in ahead) / workers.slot_count()
        line += f" · all done in about {cost.duration(total)}"
    return line


def curves(run: dict, epochs: list[dict], figure) -> None:
    """The last epoch's numbers and the run's charts; figure(kind) gives the chart of a kind."""
    if epochs:
        last = epochs[-1]
        m = st.columns(4)
        m[0].metric("Train loss", f"{last['train_loss']:.4f}")
        m[1].metric("Val accuracy", f"{last['val_acc']:.2%}")
        m[2].metric("Test accuracy", f"{last['test_acc']:.2%}")
        m[3].metric("Epoch time", f"{last['seconds']:.2f}s")
        a, b = st.columns(2)
        a.plotly_chart(figure("loss"), width="stretch", key=f"l{run['id']}")
        b.plotly_chart(figure("acc"), width="stretch", key=f"a{run['id']}")
    if run["status"] == Status.RUNNING:
        st.plotly_chart(figure("steps"), width="stretch", key=f"s{run['id']}")


def show_finished(run: dict) -> None:
    """The run this page watched, after it ended: its curves stay, with the way to the Runs page."""
    icon = ICONS[run["status"]]
    acc = f" · test {run['test_acc']:.2%}" if run["test_acc"] is not None else ""
    st.subheader(f"Run {run['id']}: {markdown.as_text(run['name'])}")
    a, b = st.columns([5, 1])
    a.write(f"{icon} finished: {run['status']}{acc}")
    b.button("Dismiss", key=f"dismiss{run['id']}", on_click=lambda: st.session_state.update(watched=None))
    st.page_link("pages/runs.py", label="Open in Runs: every chart, the confusion matrix, the mistakes",
                 icon=":material/monitoring:")
    if run["status"] == Status.FAILED and run["error"]:
        st.error(markdown.as_text(run["error"]))
    final = st.session_state.setdefault("final", {})
    if run["id"] not in final:  # read once: a finished run no longer changes
        final.clear()
        store = ui.store()
        epochs = store.epochs(run["id"])
        final[run["id"]] = epochs, {k: plots.epoch_curves([(run["name"], epochs)], k, colors=[plots.run_color(run["id"])])
                                    for k in ("loss", "acc")}, store.pins(run["id"]), store.pin_scores(run["id"])
    epochs, figures, drawings, scores = final[run["id"]]
    curves(run, epochs, figures.get)
    if drawings:
        st.markdown("**Your pinned drawings, as the network learned them**")
        network.pinned(drawings, scores, run["steps_per_epoch"], f"pinf{run['id']}")


def minutes(run: dict) -> float:
    config = TrainConfig.from_dict(run["config"])
    return cost.estimate(config, devices.resolve(config.device).type).minutes


def live() -> None:
    """The runs in progress, queued and just finished; refreshed every `live_every` seconds (more seconds as more
    pages watch: a change of the interval runs the page again, which sets the browser's timer to it)."""
    every, wanted = st.session_state.live_every, ui.live().interval()
    if wanted != every:
        st.session_state.live_every = wanted
        st.rerun()
    snap = ui.live().snapshot(st.session_state.setdefault("live_page", uuid.uuid4().hex))
    if every > FASTEST:
        st.caption(f"Updated every {every:.0f} s while {ui.live().watching()} pages watch the runs, so that the "
                   "training keeps its speed.")
    owner = ui.owner_filter()
    running, queued = snap.running(owner), snap.queued(owner)
    for run in running:
        show_running(run, snap)
    watched = st.session_state.get("watched")
    if watched is not None and watched not in {r["id"] for r in running}:
        ended = [r for r in snap.finished(owner) if r["id"] == watched]
        if ended:
            show_finished(ended[0])
        elif watched not in {r["id"] for r in queued}:  # deleted meanwhile
            st.session_state.watched = None
    elif not running and not queued:
        st.caption("No run in progress. Pick a preset or set the hyperparameters in the sidebar, then launch.")
    if queued:
        order = snap.order  # everyone's: a place in the queue counts the runs of others ahead
        estimated = {r["id"]: minutes(r) for r in queued}
        mine = f" of {len(order)}" if len(order) != len(queued) else ""
        st.subheader(f"Queue ({len(queued)}{mine}) · about {cost.duration(sum(estimated.values()))} of training")
        for run in queued:
            a, b = st.columns([5, 1])
            n = run["config"]["epochs"]
            a.write(f"**{run['id']}** · {markdown.as_text(run['name'])} · {n} epoch{'s' * (n != 1)} · "
                    f"#{order.index(run['id']) + 1} in the queue · about {cost.duration(estimated[run['id']])}")
            if ui.may_manage(run):
                b.button("Cancel", key=f"cq{run['id']}", on_click=cancel_run, args=(run["id"],))
    done = [r for r in snap.finished(owner) if r["id"] != watched][:5]
    if done:
        st.subheader("Recent runs")
        for run in done:
            acc = f" · best val {run['best_val_acc']:.2%} · test {run['test_acc']:.2%}" if run["test_acc"] is not None else ""
            secs = f" · {run['train_seconds']:.1f}s" if run["train_seconds"] else ""
            name = markdown.as_text(run["name"])
            st.write(f"{ICONS[run['status']]} **{run['id']}** · {name} · {run['status']}{acc}{secs}")
            if run["status"] == Status.FAILED and run["error"]:
                st.error(markdown.as_text(run["error"]))
            elif run["error"]:  # a sweep's trial stopped early: why
                st.caption(markdown.as_text(run["error"]))

