"""The Train page's form: one widget per setting, built from its Spec; a preset or the address fills it, the address
follows it, its price shows under Launch. `sidebar()` draws it and says which of its buttons was pressed."""

from dataclasses import dataclass

import numpy as np
import streamlit as st

from app import ui
from app.views import network
from digitlab import UserError, markdown, settings
from digitlab.course import lessons
from digitlab.drawing import pictures
from digitlab.learn import devices, lrfind
from digitlab.runs import admission, catalog, sweep
from digitlab.learn.config import (
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
from digitlab.learn.presets import GROUPS, NOTES, PRESETS, changes, preset
from digitlab.runs.store import MAX_PINS

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
        starts = catalog.start_choices(ui.store(), ui.owner_filter()) | ({"": "none"} if name == "teacher" else {})
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
    lesson = params.pop("lesson", None)
    st.session_state.train_lesson = next((x for x in lessons.all_lessons() if str(x.number) == lesson and x.controls),
                                         None) if lesson else None
    try:
        if name != "custom" and name not in PRESETS:
            raise UserError(f"The address names an unknown preset {name!r}: choose one of {', '.join(PRESETS)}.")
        config = from_query(params, preset(name) if name in PRESETS else TrainConfig())
        starts = catalog.start_choices(ui.store(), ui.owner_filter())
        for named in (config.start_from, config.teacher):
            if named and named not in starts:  # another's run, or none: the same sentence, so neither is told
                raise UserError(f"The address names {named}, which is not a model of yours to start from or learn "
                                "from: choose one in the form.")
        set_form(config)
        st.session_state.preset = name
    except UserError as e:
        set_form(TrainConfig())
        st.session_state.link_error = str(e)


def to_address(config: TrainConfig, chosen: str) -> None:
    """The address follows the form: copying it hands out this very experiment."""
    base = validate(preset(chosen)) if chosen != "custom" else TrainConfig()  # a link: the preset, then what differs
    lesson = st.session_state.get("train_lesson")
    want = {**({"preset": chosen} if chosen != "custom" else {}), **to_query(config, base),
            **({"lesson": str(lesson.number)} if lesson else {})}
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)


def priced() -> tuple[TrainConfig | None, str]:
    """The form's config and what it will cost, or None and the one sentence that says what is wrong."""
    try:
        config = validate(form_config())
        return config, admission.price(ui.store(), config, settings.current().limits,
                                       admission.held_to(ui.viewer().name)).describe()
    except UserError as e:
        return None, str(e)


def pins_panel() -> None:
    """The drawings the next run watches: pinned on the Draw page, or picked from My digits."""
    pins = st.session_state.setdefault(network.PINS, [])
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
    return [*st.session_state.get(network.PINS, []), *(admission.pin(images[where[i]], int(labels[where[i]]))
                                                              for i in chosen)]


@dataclass
class Pressed:
    config: TrainConfig | None  # the form's config, None while it holds something wrong
    launch: bool                # Launch run
    compare: bool               # Queue these runs (the course's experiment picked)
    find: bool                  # Find a learning rate


def sidebar() -> Pressed:
    """The form in the sidebar, filled from the address the first time; which button was pressed."""
    if "f_lr" not in st.session_state:
        from_address()
    groups = {group: [n for n in NAMES if spec(n).group == group]
              for group in ("", REGULARIZE, AUGMENT, SCHEDULE, FINETUNE, MORE)}
    with st.sidebar:
        st.header("The course's experiments")  # first: one click queues a whole comparison of the course
        group = st.selectbox("Experiment", list(GROUPS), key="group", help="Several runs queued together, to compare on "
                             "the Runs page, which opens on the last group that completed.")
        names, what = GROUPS[group]
        st.caption(f"{what} Runs: {', '.join(names)}.")
        compare = st.button(f"Queue these {len(names)} runs", width="stretch", key="compare")
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
        lesson = st.session_state.get("train_lesson")
        if lesson and st.toggle(f"Only lesson {lesson.number}'s settings", value=True, key="lesson_only",
                                help="The settings this lesson is about; the rest keep the preset's values."):
            groups = {"": [n for n in NAMES if n in lesson.controls]}
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
                st.error(markdown.as_text(price), icon=":material/error:")
            else:
                st.caption(f"Estimate: {price}")
                to_address(config, chosen)
                with st.expander("As a command, or a link"):
                    network.show_command(config)
                    st.caption("The address of this page holds the form too: copy it to hand out this experiment.")
            find = st.button("Find a learning rate", width="stretch", key="lr_find", disabled=config is None,
                             help=f"A {lrfind.STEPS}-step range test of this form's model: the loss as the learning rate "
                                  "grows from 1e-6 to 10, and the rate where it falls fastest.")
            if st.button("Sweep from this form", width="stretch", key="to_sweep", disabled=config is None,
                         help="Opens the Sweeps page with a sweep of this form's settings: the learning rate a decade "
                              "either side of this one, and the optimizer; change anything there before queuing it."):
                st.session_state.sweep_text = sweep.template(config)
                st.switch_page("pages/sweeps.py")
    return Pressed(config, launch, compare, find)
