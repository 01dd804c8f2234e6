"""The Train page's live view: the runs in progress with their curves and pinned drawings, the queue with when each
should end, and the runs just finished; one fragment for the whole view, refreshed as often as the machine allows."""

import time
import uuid
from dataclasses import replace

import streamlit as st

from app import ui
from app.views import network
from digitlab import markdown
from digitlab.course import plots
from digitlab.learn import cost, devices, health
from digitlab.learn.config import TrainConfig
from digitlab.runs import catalog, progress
from digitlab.runs.live import FASTEST
from digitlab.runs.runner import workers
from digitlab.runs.store import Run, Status

ICONS = {Status.COMPLETED: ":material/check_circle:", Status.FAILED: ":material/error:",
         Status.CANCELLED: ":material/cancel:"}


def cancel_run(run_id: int) -> None:
    ui.store().request_cancel(run_id)
    ui.live().refresh()


def show_running(run: Run, snap, pace: float) -> None:
    epochs = snap.epochs.get(run.id, [])
    done = progress.progress(run, len(epochs))
    left = progress.seconds_left(run, done["fraction"], time.time())
    st.subheader(f"Run {run.id}: {markdown.as_text(run.name)}")
    head, cancel = st.columns([5, 1])
    head.progress(done["fraction"], text=f"epoch {done['epoch']}/{done['epochs']} · step {done['step']}/"
                                         f"{done['steps_per_epoch']} · on {run.device or '…'} · "
                                         f"{cost.duration((time.time() - run.started) / 60)}"
                                         + (f" · about {cost.duration(left / 60)} left" if left else ""))
    mates = catalog.batch_of(run, snap.runs)
    if mates:
        st.caption(batch_line(run, mates, snap, left, pace))
    if run.cancel_requested:
        cancel.write("cancelling…")
    elif ui.may_manage(run):
        cancel.button("Cancel", key=f"cr{run.id}", type="primary", on_click=cancel_run, args=(run.id,))
    curves(run, epochs, lambda kind: ui.live().figure(kind, run.name, run.id, snap))
    drawings, scores = snap.pins.get(run.id, ([], []))
    if drawings:
        st.markdown("**Your pinned drawings, as the network learns them**")
        network.pinned(drawings, scores, run.steps_per_epoch, f"pin{run.id}",
                            ui.live().pinned_figures(run.id, snap))
    st.session_state.watched = run.id


def batch_line(run: Run, mates: list[Run], snap, left: float | None, pace: float) -> str:
    """Where a comparison stands: its finished runs (drawn beside this one) and when the last one should end."""
    done = [m for m in mates if not m.status.active]
    waiting = [m.id for m in mates if m.status == Status.QUEUED and m.id in snap.order]
    line = f"Queued together with {', '.join(str(m.id) for m in mates)}: {len(done)} of {len(mates) + 1} finished"
    if done:
        line += " (on the charts beside this one)"
    if left is not None:
        ahead = snap.order[:snap.order.index(waiting[-1]) + 1] if waiting else []  # the last one waits for these
        by_id = {r.id: r for r in snap.runs}
        total = left / 60 + sum(minutes(by_id[i], pace) for i in ahead) / workers.slot_count()
        line += f" · all done in about {cost.duration(total)}"
    return line


def curves(run: Run, epochs: list[dict], figure) -> None:
    """The last epoch's numbers and the run's charts; figure(kind) gives the chart of a kind."""
    if epochs:
        last = epochs[-1]
        m = st.columns(4)
        m[0].metric("Train loss", f"{last['train_loss']:.4f}")
        m[1].metric(f"Val accuracy, epoch {last['epoch']}", f"{last['val_acc']:.2%}")
        m[2].metric(f"Test accuracy, epoch {last['epoch']}", f"{last['test_acc']:.2%}")
        m[3].metric("Epoch time", f"{last['seconds']:.2f}s")
        a, b = st.columns(2)
        a.plotly_chart(figure("loss"), width="stretch", key=f"l{run.id}")
        b.plotly_chart(figure("acc"), width="stretch", key=f"a{run.id}")
    if run.status == Status.RUNNING:
        st.plotly_chart(figure("steps"), width="stretch", key=f"s{run.id}")


def show_finished(run: Run, snap) -> set[int]:
    """The run this page watched, after it ended, with the runs queued with it: their curves stay overlaid, each
    run's final numbers labelled, with the way to the Runs page. Returns the ids it showed."""
    group = finished_group(run, snap)
    ids = tuple(r.id for r in group)
    if len(group) > 1:
        st.subheader(f"Runs {', '.join(map(str, ids))}, queued together: all {len(group)} finished")
    else:
        st.subheader(f"Run {run.id}: {markdown.as_text(run.name)}")
    a, b = st.columns([5, 1])
    b.button("Dismiss", key=f"dismiss{run.id}", on_click=lambda: st.session_state.update(watched=None))
    final = st.session_state.setdefault("final", {})
    if ids not in final:  # read once: a finished run no longer changes
        final.clear()
        store = ui.store()
        epochs = {r.id: store.epochs(r.id) for r in group}
        named = [(f"{r.id}: {r.name}", epochs[r.id]) for r in group]
        colors = [plots.run_color(r.id) for r in group]
        final[ids] = epochs, {k: plots.epoch_curves(named, k, colors=colors) for k in ("loss", "acc")}, \
            store.pins(run.id), store.pin_scores(run.id)
    epochs, figures, drawings, scores = final[ids]
    for r in group:
        a.markdown(f"{icon_of(r)} **{r.id}** · {markdown.as_text(r.name)} · {numbers(r, epochs[r.id])}")
        if r.health:
            a.warning(f"{r.health['reason']} {r.health['hint']}", icon=":material/warning:")
        elif r.status == Status.FAILED and r.error:
            a.error(markdown.as_text(r.error))
    st.page_link("pages/runs.py", label="Open in Runs: every chart, the confusion matrix, the mistakes",
                 icon=":material/monitoring:")
    c1, c2 = st.columns(2)
    c1.plotly_chart(figures["loss"], width="stretch", key=f"fl{run.id}")
    c2.plotly_chart(figures["acc"], width="stretch", key=f"fa{run.id}")
    if drawings:
        st.markdown("**Your pinned drawings, as the network learned them**")
        network.pinned(drawings, scores, run.steps_per_epoch, f"pinf{run.id}")
    return set(ids)


def finished_group(run: Run, snap) -> list[Run]:
    """run and the finished runs queued with it, oldest first."""
    return sorted([run, *(r for r in catalog.batch_of(run, snap.runs) if not r.status.active)],
                  key=lambda r: r.id)


def icon_of(run: Run) -> str:
    return ":material/warning:" if run.health else ICONS[run.status]


def numbers(run: Run, epochs: list[dict]) -> str:
    """A finished run's numbers, each saying what it is: the checkpoint kept (the best validation epoch) and the
    last epoch, which are not the same model."""
    state = health.state(run)
    if run.test_acc is None or not epochs:
        return f"{state}, no epoch finished"
    last = epochs[-1]
    kept = f"checkpoint kept (best validation, epoch {run.best_epoch}): test {run.test_acc:.2%}"
    if last["epoch"] == run.best_epoch:
        return f"{state} · {kept}, also the last epoch"
    return f"{state} · {kept} · last epoch ({last['epoch']}): test {last['test_acc']:.2%}"


def minutes(run: Run, pace: float) -> float:
    """A waiting run's training time: its estimate, scaled by this machine's measured pace (progress.pace)."""
    config = TrainConfig.from_dict(run.config)
    return progress.estimated_seconds(replace(run, device=devices.resolve(config.device).type)) * pace / 60


def queue_line(slots: int, pace: float, measured: int) -> str:
    """How many runs train at once here, and what the estimates below are made of."""
    at_once = "one run trains at a time" if slots == 1 else f"{slots} runs train at once"
    made = (f"estimates scaled by this machine's measured pace ({pace:.2g}x the model's) over its last {measured} "
            f"completed run{'s' * (measured != 1)}" if measured else "estimates from the model alone until a run "
                                                                       "completes here")
    return f"{slots} training slot{'s' * (slots != 1)} on this machine: {at_once}; {made}."


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
    pace, measured = progress.pace(snap.runs)  # once a refresh: every waiting run is priced with it
    for run in running:
        show_running(run, snap, pace)
    watched, shown = st.session_state.get("watched"), set()
    if watched is not None and watched not in {r.id for r in running}:
        ended = [r for r in snap.finished(owner) if r.id == watched]
        if ended:
            shown = show_finished(ended[0], snap)
        elif watched not in {r.id for r in queued}:  # deleted meanwhile
            st.session_state.watched = None
    elif not running and not queued:
        st.caption("No run in progress. Pick a preset or set the hyperparameters in the sidebar, then launch.")
    if queued:
        order = snap.order  # everyone's: a place in the queue counts the runs of others ahead
        estimated = {r.id: minutes(r, pace) for r in queued}
        mine = f" of {len(order)}" if len(order) != len(queued) else ""
        st.subheader(f"Queue ({len(queued)}{mine}) · about {cost.duration(sum(estimated.values()))} of training")
        st.caption(queue_line(workers.slot_count(), pace, measured))
        for run in queued:
            a, b = st.columns([5, 1])
            n = run.config["epochs"]
            a.write(f"**{run.id}** · {markdown.as_text(run.name)} · {n} epoch{'s' * (n != 1)} · "
                    f"#{order.index(run.id) + 1} in the queue · about {cost.duration(estimated[run.id])}")
            if ui.may_manage(run):
                b.button("Cancel", key=f"cq{run.id}", on_click=cancel_run, args=(run.id,))
    done = [r for r in snap.finished(owner) if r.id != watched and r.id not in shown][:5]
    if done:
        st.subheader("Recent runs")
        for run in done:
            acc = (f" · checkpoint kept (best val {run.best_val_acc:.2%}, epoch {run.best_epoch}): test "
                   f"{run.test_acc:.2%}" if run.test_acc is not None else "")
            secs = f" · {run.train_seconds:.1f}s" if run.train_seconds else ""
            name = markdown.as_text(run.name)
            st.write(f"{icon_of(run)} **{run.id}** · {name} · {health.state(run)}{acc}{secs}")
            if run.health:
                st.caption(f"{run.health['reason']} {run.health['hint']}")
            elif run.status == Status.FAILED and run.error:
                st.error(markdown.as_text(run.error))
            elif run.error:  # a sweep's trial stopped early: why
                st.caption(markdown.as_text(run.error))

