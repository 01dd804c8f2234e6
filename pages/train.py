"""Launch training runs from the sidebar and watch them live."""

import time
import uuid

import numpy as np
import streamlit as st

import inside_views
import ui
from digitlab import (
    UserError,
    admission,
    cost,
    data,
    devices,
    lrfind,
    pictures,
    plots,
    report,
    settings,
    sweep,
)
from digitlab.config import (
    AUGMENT,
    FINETUNE,
    MORE,
    NAMES,
    REGULARIZE,
    SCHEDULE,
    TrainConfig,
    applies,
    from_query,
    kind,
    parse_sizes,
    range_text,
    spec,
    to_query,
    validate,
)
from digitlab.live import FASTEST
from digitlab.presets import GROUPS, NOTES, PRESETS, changes, preset
from digitlab.runner import workers
from digitlab.store import MAX_PINS, Status

ui.routed()
store = ui.store()
HERE = devices.available()


def set_form(config: TrainConfig) -> None:
    for name in NAMES:
        value = getattr(config, name)
        st.session_state[f"f_{name}"] = ", ".join(map(str, value)) if kind(name) is list else value


def form_config() -> TrainConfig:
    values = {name: st.session_state[f"f_{name}"] for name in NAMES}
    which = [values[n] for n in ("model", "optimizer", "schedule")]
    for name in NAMES:
        if not applies(name, *which):  # a disabled field is not used, whatever it holds
            values[name] = getattr(TrainConfig(), name)
        elif kind(name) is list:
            values[name] = parse_sizes(values[name], name)
        elif values[name] is None:  # a segmented control can be cleared
            values[name] = getattr(TrainConfig(), name)
    return TrainConfig(**values)


def widget(name: str, where=st) -> None:
    """The input for one setting, built from its Spec: label, help, bounds and choices are declared once."""
    s, k, key = spec(name), kind(name), f"f_{name}"
    off = not applies(name, *(st.session_state.get(f"f_{n}") for n in ("model", "optimizer", "schedule")))
    if k is bool:
        where.checkbox(s.label, key=key, help=s.help, disabled=off)
    elif k is list:
        where.text_input(s.label, key=key, help=s.help, disabled=off)
    elif name in ("start_from", "teacher"):
        starts = report.start_choices(store, ui.owner_filter()) | ({"": "none"} if name == "teacher" else {})
        if st.session_state.get(key) not in starts:  # a run deleted meanwhile, say
            st.session_state[key] = ""
        where.selectbox(s.label, list(starts), key=key, help=s.help, format_func=starts.get)
    elif name == "device":
        where.radio(s.label, s.choices, key=key, horizontal=True, help=f"{s.help} Available here: {', '.join(HERE)}.",
                    format_func=lambda d: d if d == "auto" or d in HERE else f"{d} (not here)")
    elif s.choices and len(s.choices) == 2:
        where.segmented_control(s.label, s.choices, key=key, help=s.help)
    elif s.choices:
        where.selectbox(s.label, s.choices, key=key, help=s.help)
    elif k is str:
        where.text_input(s.label, key=key, help=s.help, placeholder="optional")
    # Numbers take any value, and a value out of range is refused under Launch in one sentence naming the field:
    # with min/max on the widget, Streamlit kept the last valid value and Launch queued that, not what was shown.
    elif k is int:
        where.number_input(s.label, step=int(s.step or 1), key=key, help=f"{s.help} ({range_text(s)}.)", disabled=off)
    else:
        where.number_input(s.label, step=s.step, format="%g", key=key, help=f"{s.help} ({range_text(s)}.)",
                           disabled=off)


def widgets(names: list[str]) -> None:
    """Text and choices a row each; numbers and switches two to a row."""
    pair = []
    for name in names:
        if kind(name) in (int, float, bool):
            pair.append(name)
            if len(pair) == 2:
                for column, n in zip(st.columns(2), pair):
                    widget(n, column)
                pair = []
        else:
            for n in pair:  # a number left without a partner keeps its place, a row of its own
                widget(n)
            pair = []
            widget(name)
    for n in pair:
        widget(n)


def on_preset() -> None:
    name = st.session_state.preset
    set_form(preset(name) if name != "custom" else TrainConfig())


def from_address() -> None:
    """The form as the address describes it (a link to an experiment), else the defaults; a bad link is one sentence
    and the defaults."""
    params = st.query_params.to_dict()
    name = params.pop("preset", "custom")
    try:
        if name != "custom" and name not in PRESETS:
            raise UserError(f"The address names an unknown preset {name!r}: choose one of {', '.join(PRESETS)}.")
        set_form(from_query(params, preset(name) if name in PRESETS else TrainConfig()))
        st.session_state.preset = name
    except UserError as e:
        set_form(TrainConfig())
        st.session_state.link_error = str(e)


def to_address(config: TrainConfig, chosen: str) -> None:
    """The address follows the form: copying it hands out this very experiment."""
    base = validate(preset(chosen)) if chosen != "custom" else TrainConfig()  # a link: the preset, then what differs
    want = {**({"preset": chosen} if chosen != "custom" else {}), **to_query(config, base)}
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)


if "f_lr" not in st.session_state:
    from_address()

def priced() -> tuple[TrainConfig | None, str]:
    """The form's config and what it will cost, or None and the one sentence that says what is wrong."""
    try:
        config = validate(form_config())
        return config, admission.price(store, config, settings.current().limits).describe()
    except UserError as e:
        return None, str(e)


def pins_panel() -> None:
    """The drawings the next run watches: pinned on the Draw page, or picked from My digits."""
    pins = st.session_state.setdefault(inside_views.PINS, [])
    _, labels, ids = ui.my_digits()
    saved = {i: int(label) for i, label in zip(ids, labels)}
    picked = [i for i in st.session_state.get("pin_saved", []) if i in saved]
    n = len(pins) + len(picked)
    with st.expander(f"Watch drawings being learned · {n} pinned" if n else "Watch drawings being learned"):
        st.caption(f"Up to {MAX_PINS} drawings the run scores every 50 steps and after every epoch: their "
                   "probabilities move on the Train and Runs pages as it learns. Pin one on the Draw page, or here.")
        if pins:
            st.image([pictures.grey(np.frombuffer(b, np.uint8).reshape(28, 28) / 255, 2) for _, b in pins],
                     caption=[f"a {label}" for label, _ in pins])
            st.button("Unpin these", key="unpin", on_click=lambda: pins.clear())
        if saved:
            st.multiselect("From My digits", list(saved), key="pin_saved", max_selections=max(0, MAX_PINS - len(pins)),
                           format_func=lambda i: f"#{i}: a {saved[i]}")


def launch_pins() -> list:
    """What the next launch pins: the Draw page's drawings and the saved digits picked."""
    images, labels, ids = ui.my_digits()
    where = {i: k for k, i in enumerate(ids)}
    chosen = [i for i in st.session_state.get("pin_saved", []) if i in where]
    return [*st.session_state.get(inside_views.PINS, []), *(admission.pin(images[where[i]], int(labels[where[i]]))
                                                              for i in chosen)]


groups = {group: [n for n in NAMES if spec(n).group == group]
          for group in ("", REGULARIZE, AUGMENT, SCHEDULE, FINETUNE, MORE)}
with st.sidebar:
    st.header("New run")
    st.selectbox("Preset", ["custom", *PRESETS], key="preset", on_change=on_preset,
                 help="Fills the form with a recipe from the course; change anything before launching.")
    chosen = st.session_state.preset
    if chosen != "custom":
        set_here = changes(chosen)
        st.caption(f"{NOTES.get(chosen, '')} It sets: " + "; ".join(
            f"**{spec(k).label}** {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in set_here.items()))
    else:
        set_here = {}
    with st.container(border=True):
        widgets(groups.pop(""))
        for title, names in groups.items():
            marked = [n for n in names if n in set_here]  # a preset's settings show even in a closed section
            with st.expander(title + (f" · {len(marked)} set by the preset" if marked else "")):
                widgets(names)
        pins_panel()
        config, price = priced()
        launch = st.button("Launch run", type="primary", width="stretch", key="launch")
        if config is None:
            st.error(report.as_text(price), icon=":material/error:")
        else:
            st.caption(f"Estimate: {price}")
            to_address(config, chosen)
            with st.expander("As a command, or a link"):
                inside_views.show_command(config)
                st.caption("The address of this page holds the form too: copy it to hand out this experiment.")
        find = st.button("Find a learning rate", width="stretch", key="lr_find", disabled=config is None,
                         help=f"A {lrfind.STEPS}-step range test of this form's model: the loss as the learning rate "
                              "grows from 1e-6 to 10, and the rate where it falls fastest.")
        if st.button("Sweep from this form", width="stretch", key="to_sweep", disabled=config is None,
                     help="Opens the Sweeps page with a sweep of this form's settings: the learning rate a decade "
                          "either side of this one, and the optimizer; change anything there before queuing it."):
            st.session_state.sweep_text = sweep.template(config)
            st.switch_page("pages/sweeps.py")
    st.subheader("The course's experiments")
    group = st.selectbox("Experiment", list(GROUPS), key="group", help="Several runs queued together, to compare on "
                         "the Runs page, which opens on the last group that completed.")
    names, what = GROUPS[group]
    st.caption(f"{what} Runs: {', '.join(names)}.")
    compare = st.button(f"Queue these {len(names)} runs", width="stretch", key="compare")

try:
    if launch:
        rid = admission.launch(store, form_config(), data.data_root(), owner=ui.viewer().name, pins=launch_pins())
        st.session_state.watched = rid  # this page follows the run it launched, to its end however short
        st.toast(f"Run {rid} queued.", icon=":material/rocket_launch:")
    if compare:
        names = GROUPS[st.session_state.group][0]
        ids = admission.queue(store, [preset(n) for n in names], data.data_root(), owner=ui.viewer().name,
                                pins=launch_pins())
        st.toast(f"Runs {', '.join(map(str, ids))} queued: {', '.join(names)}.", icon=":material/rocket_launch:")
    if launch or compare:
        ui.supervisor().wake()
        ui.live().refresh()
except UserError as e:
    ui.show_error(e)

st.title("Train")
if "link_error" in st.session_state:
    ui.show_error(UserError(st.session_state.pop("link_error") + " The form shows the defaults."))
if not data.is_prepared():
    st.info("MNIST is not prepared yet: prepare it on the **Data** page before launching a run.")


def use_lr(lr: float) -> None:
    st.session_state.f_lr = lr
    st.session_state.pop("lr_found", None)


def lr_finder(find: bool) -> None:
    """The range test of the form's configuration, run on the button, shown until its value is used."""
    if find and config is not None:
        mnist = ui.dataset()
        if mnist is None:
            return
        try:
            lrfind.check_time(config)
            with st.spinner("Running the learning-rate range test…"):
                st.session_state.lr_found = (config.display_name(), lrfind.lr_find(config, mnist))
        except UserError as e:
            ui.show_error(e)
    if "lr_found" not in st.session_state:
        return
    name, found = st.session_state.lr_found
    st.subheader(f"Learning-rate range test: {report.as_text(name)}")
    st.plotly_chart(plots.lr_range(found.lrs, found.losses, found.smoothed, found.suggestion), width="stretch")
    value = float(f"{found.suggestion:.2g}")
    a, b = st.columns([1, 3])
    a.button(f"Use {value:g}", type="primary", key="use_lr", on_click=use_lr, args=(value,))
    b.caption(f"{len(found.lrs)} steps, each with a larger learning rate. The loss fell fastest at {value:g} (lowest "
              f"at {found.lowest:.2g}, where it is about to blow up): a good learning rate for this model and "
              "optimizer is near the suggestion, well below the lowest point.")


lr_finder(find)

ICONS = {Status.COMPLETED: ":material/check_circle:", Status.FAILED: ":material/error:",
         Status.CANCELLED: ":material/cancel:"}


def cancel_run(run_id: int) -> None:
    store.request_cancel(run_id)
    ui.live().refresh()


def show_running(run: dict, snap) -> None:
    epochs = snap.epochs.get(run["id"], [])
    done = report.progress(run, len(epochs))
    left = report.seconds_left(run, done["fraction"], time.time())
    st.subheader(f"Run {run['id']}: {report.as_text(run['name'])}")
    head, cancel = st.columns([5, 1])
    head.progress(done["fraction"], text=f"epoch {done['epoch']}/{done['epochs']} · step {done['step']}/"
                                         f"{done['steps_per_epoch']} · on {run['device'] or '…'} · "
                                         f"{cost.duration((time.time() - run['started']) / 60)}"
                                         + (f" · about {cost.duration(left / 60)} left" if left else ""))
    mates = report.batch_of(run, snap.runs)
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
        inside_views.pinned(drawings, scores, run["steps_per_epoch"], f"pin{run['id']}",
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
    st.subheader(f"Run {run['id']}: {report.as_text(run['name'])}")
    a, b = st.columns([5, 1])
    a.write(f"{icon} finished: {run['status']}{acc}")
    b.button("Dismiss", key=f"dismiss{run['id']}", on_click=lambda: st.session_state.update(watched=None))
    st.page_link("pages/runs.py", label="Open in Runs: every chart, the confusion matrix, the mistakes",
                 icon=":material/monitoring:")
    if run["status"] == Status.FAILED and run["error"]:
        st.error(report.as_text(run["error"]))
    final = st.session_state.setdefault("final", {})
    if run["id"] not in final:  # read once: a finished run no longer changes
        final.clear()
        epochs = store.epochs(run["id"])
        final[run["id"]] = epochs, {k: plots.epoch_curves([(run["name"], epochs)], k, colors=[plots.run_color(run["id"])])
                                    for k in ("loss", "acc")}, store.pins(run["id"]), store.pin_scores(run["id"])
    epochs, figures, drawings, scores = final[run["id"]]
    curves(run, epochs, figures.get)
    if drawings:
        st.markdown("**Your pinned drawings, as the network learned them**")
        inside_views.pinned(drawings, scores, run["steps_per_epoch"], f"pinf{run['id']}")


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
            a.write(f"**{run['id']}** · {report.as_text(run['name'])} · {n} epoch{'s' * (n != 1)} · "
                    f"#{order.index(run['id']) + 1} in the queue · about {cost.duration(estimated[run['id']])}")
            if ui.may_manage(run):
                b.button("Cancel", key=f"cq{run['id']}", on_click=cancel_run, args=(run["id"],))
    done = [r for r in snap.finished(owner) if r["id"] != watched][:5]
    if done:
        st.subheader("Recent runs")
        for run in done:
            acc = f" · best val {run['best_val_acc']:.2%} · test {run['test_acc']:.2%}" if run["test_acc"] is not None else ""
            secs = f" · {run['train_seconds']:.1f}s" if run["train_seconds"] else ""
            name = report.as_text(run["name"])
            st.write(f"{ICONS[run['status']]} **{run['id']}** · {name} · {run['status']}{acc}{secs}")
            if run["status"] == Status.FAILED and run["error"]:
                st.error(report.as_text(run["error"]))
            elif run["error"]:  # a sweep's trial stopped early: why
                st.caption(report.as_text(run["error"]))

st.fragment(live, run_every=st.session_state.setdefault("live_every", ui.live().interval()))()
