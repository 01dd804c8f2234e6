"""Launch training runs from the sidebar and watch them live."""

import streamlit as st

from app import ui
from app.forms import train as form
from app.views import live
from digitlab import UserError, markdown
from digitlab.course import plots
from digitlab.datasets import data
from digitlab.learn import lrfind
from digitlab.runs import admission
from digitlab.learn.presets import GROUPS, preset

ui.routed()
store = ui.store()
pressed = form.sidebar()

try:
    if pressed.launch:
        rid = admission.launch(store, form.form_config(), data.data_root(), owner=ui.viewer().name,
                               pins=form.launch_pins())
        st.session_state.watched = rid  # this page follows the run it launched, to its end however short
        st.toast(f"Run {rid} queued.", icon=":material/rocket_launch:")
    if pressed.compare:
        names = GROUPS[st.session_state.group][0]
        ids = admission.queue(store, [preset(n) for n in names], data.data_root(), owner=ui.viewer().name,
                              pins=form.launch_pins())
        st.toast(f"Runs {', '.join(map(str, ids))} queued: {', '.join(names)}.", icon=":material/rocket_launch:")
    if pressed.launch or pressed.compare:
        ui.supervisor().wake()
        ui.live().refresh()
except UserError as e:
    ui.show_error(e)

st.title("Train")
if "link_error" in st.session_state:
    ui.show_error(UserError(st.session_state.pop("link_error") + " The form shows the defaults."))
if not data.is_prepared():
    st.info(data.not_prepared())


def use_lr(lr: float) -> None:
    st.session_state.f_lr = lr
    st.session_state.pop("lr_found", None)


def lr_finder(find: bool, config) -> None:
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
    st.subheader(f"Learning-rate range test: {markdown.as_text(name)}")
    st.plotly_chart(plots.lr_range(found.lrs, found.losses, found.smoothed, found.suggestion), width="stretch")
    value = float(f"{found.suggestion:.2g}")
    a, b = st.columns([1, 3])
    a.button(f"Use {value:g}", type="primary", key="use_lr", on_click=use_lr, args=(value,))
    b.caption(f"{len(found.lrs)} steps, each with a larger learning rate. The loss fell fastest at {value:g} (lowest "
              f"at {found.lowest:.2g}, where it is about to blow up): a good learning rate for this model and "
              "optimizer is near the suggestion, well below the lowest point.")


lr_finder(pressed.find, pressed.config)
st.fragment(live.live, run_every=st.session_state.setdefault("live_every", ui.live().interval()))()
