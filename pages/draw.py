"""Draw a digit (or upload one) and watch the model read it."""

import numpy as np
import streamlit as st

from app import ui
from app.components.pad import answer, drawing, drawing_pad, png
from app.views import network
from digitlab import UserError, markdown
from digitlab.course import plots
from digitlab.datasets import handwriting
from digitlab.drawing import answers, gate, pictures, preprocess

ui.routed()

st.title("Draw a digit")
if not ui.store().answers(ui.viewer().name):  # a newcomer: what this is, and where the course starts
    intro, start = st.columns([4, 1], vertical_alignment="center")
    intro.markdown("**digitlab** trains small neural networks to read handwritten digits, and shows how they learn: "
                   "draw a digit below, or follow the course in eight short lessons.")
    start.page_link("pages/lessons.py", label="Start: Lesson 1", icon=":material/school:",
                    query_params={"lesson": "1"})
models = ui.models()
hidden = len(ui.models(flagged=True)) - len(models)
if hidden and st.checkbox(f"Show runs that did not learn ({hidden})", key="draw_flagged",
                          help="Runs that diverged or stayed at chance are left out of the list unless asked for."):
    models = ui.models(flagged=True)
up = st.session_state.get("own_model")  # the uploader sits at the foot of the page: its file, from the last run
if up is not None:
    try:
        models = {f"your upload: {up.name}": ui.uploaded_model(up), **models}
    except UserError as e:
        ui.show_error(e)
if not models:
    st.warning("No model yet: train one on the **Train** page.")
    st.stop()
first, second = st.columns([3, 2])
label = first.selectbox("Model", list(models), key="draw_model")
other = second.selectbox("Side by side with", ["no other model", *(m for m in models if m != label)],
                         key="draw_other", help="A second model reads the same drawing: the shipped MLP against the "
                                                "CNN, say, or your run against the shipped one.")
try:
    ck = ui.model(models[label])
    ck2 = ui.model(models[other]) if other in models else None
except UserError as e:
    ui.show_error(e)
    st.stop()


def describe(ck, path: str) -> str:
    acc = ck.metrics.get("test_acc")
    mine = ui.digits_report(path)
    text = (f"{markdown.as_text(ck.config.display_name())} · {ck.num_params:,} parameters"
            + (f" · {acc:.2%} on the MNIST test set" if isinstance(acc, float) else "")
            + (f" · {mine['test_acc']:.1%} on your {len(mine['y_true'])} saved digits" if mine else ""))
    smoothing = ck.config.label_smoothing
    if smoothing:  # a confident answer then tops out below 100%, by design
        text += (f" · trained with label smoothing {smoothing:g}, so even a perfect 7 gets about "
                 f"{1 - smoothing + smoothing / 10:.0%}, never 100%")
    return text


st.caption(describe(ck, models[label]) + (f"  \nSide by side: {describe(ck2, models[other])}" if ck2 else ""))


def read(image) -> tuple[list, np.ndarray | None, np.ndarray, dict]:
    """How the image became 28x28 (preprocess.steps; empty when nothing is drawn), what the model sees of it (None
    when nothing is drawn), its ten probabilities, and how it looks (answers.reading's digits, small, other): how many
    digits stand side by side in it, whether its ink is too small to read, whether the gate finds it no digit."""
    made = (preprocess.steps(image) if image is not None else None) or []
    seen = made[-1][1] if made else None
    looks = {"digits": preprocess.side_by_side(dict(made)["cropped to the ink"]) if made else 1,
             "small": bool(made) and preprocess.too_small(image),
             "other": seen is not None and gate.not_a_digit(seen)}
    return made, seen, probabilities(ck, seen), looks


def probabilities(ck, seen: np.ndarray | None) -> np.ndarray:
    return ck.predict_proba(seen[None])[0] if seen is not None else np.zeros(10)


def show_steps(made: list) -> None:
    """How the drawing became the 28x28 image, on demand."""
    if not made or not st.toggle("Show how the drawing becomes 28×28", key="show_steps"):
        return
    columns = [c for _ in range(0, len(made), 3) for c in st.columns(3)]  # three a row: each big enough to see
    for column, (what, img) in zip(columns, made):
        column.image(plots.enlarge(img, max(1, 84 // max(img.shape))) if max(img.shape) <= 84 else
                     pictures.to_bytes(img), caption=what, width="stretch")


def save(label, sent) -> None:
    """The pad's Save: the drawing and its label go to My digits."""
    try:
        handwriting.save(ui.store(), png(sent), label, owner=ui.viewer().name)
        n = len(ui.store().digits(ui.viewer().name, images=False))
        st.toast(f"Saved as {int(label)}: {n} digit{'s' * (n != 1)} in My digits.", icon=":material/save:")
    except UserError as e:
        st.session_state.save_error = str(e)


@st.fragment
def pad() -> None:
    """Canvas and answer rerun alone on each stroke: the rest of the page stays put."""
    left, right = st.columns([1, 1], gap="large")
    with left:
        source = st.radio("Input", ["Draw", "Upload an image"], horizontal=True, label_visibility="collapsed")
        image = None
        if source == "Draw":
            width = st.slider("Stroke width", 8, 40, 20, key="stroke")
            try:
                image = drawing()
            except UserError as e:
                ui.show_error(e)
            made, seen, p, looks = read(image)
            drawing_pad(width, answers.reading(p, **looks) if seen is not None else None, on_save=save)
            if "save_error" in st.session_state:
                ui.show_error(UserError(st.session_state.pop("save_error")))
        else:
            up = st.file_uploader("A PNG or JPEG of one digit, any size, dark on light or light on dark",
                                  type=["png", "jpg", "jpeg"])
            if up is not None:
                try:
                    image = preprocess.read_image(up)
                except UserError as e:
                    ui.show_error(e)
            made, seen, p, looks = read(image)
            if image is not None and seen is None:
                st.warning("No digit stands out from the background of this picture: photograph one digit, dark "
                           "on light paper, filling about half of the picture.", icon=":material/image_search:")
    with right:
        picked = network.explained(p) if st.session_state.get("show_why") else None
        if ck2 is not None:
            st.markdown(f"**{markdown.as_text(label)}**")
        answer(p, seen, looks, picked=picked, on_pick=network.pick)
        if ck2 is not None:
            st.markdown(f"**{markdown.as_text(other)}**")
            answer(probabilities(ck2, seen), seen, looks, key="answer2")
        show_steps(made)
    if seen is not None:
        with left:
            network.pin_here(seen)
    inside(seen, p)


def inside(seen: np.ndarray | None, p: np.ndarray) -> None:
    """Inside the network, for this drawing: each view on demand, so that a stroke costs only what is shown. The
    switches stay on screen with nothing drawn, so that they keep their state through Clear."""
    st.divider()
    views = {"show_why": "Why this answer", "show_layers": "Inside the network", "show_fool": "Fool it"}
    for column, (key, title) in zip(st.columns(len(views)), views.items()):
        column.toggle(title, key=key)
    if seen is None:
        if any(st.session_state.get(key) for key in views):
            st.caption("Draw a digit: these views show what the network makes of it.")
        return
    if st.session_state.get("show_why"):
        st.subheader(f"Why {network.explained(p)}?")
        network.why(ck, seen, p)
    if st.session_state.get("show_layers"):
        st.subheader("Inside the network, for this drawing")
        network.layers(ck, seen)
    if st.session_state.get("show_fool"):
        st.subheader("Fool it: the smallest change that makes it another digit")
        network.fool(ck, seen, p)


pad()

with st.expander("Your own model: a checkpoint from a script digitlab exported (As PyTorch on Runs)",
                 icon=":material/upload_file:"):
    st.file_uploader("A .pt file that `digitlab eval` reads", type=["pt"], key="own_model")
