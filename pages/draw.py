"""Draw a digit (or upload one) and watch the model read it."""

import numpy as np
import streamlit as st

import ui
from digitlab import UserError, preprocess, report
from drawing_pad import answer, drawing, drawing_pad

ui.routed()

st.title("Draw a digit")
models = ui.models()
if not models:
    st.warning("No model yet: train one on the **Train** page.")
    st.stop()
label = st.selectbox("Model", list(models), key="draw_model")
try:
    ck = ui.model(models[label])
except UserError as e:
    ui.show_error(e)
    st.stop()
acc = ck.metrics.get("test_acc")
st.caption(f"{report.as_text(ck.config.display_name())} · {ck.num_params:,} parameters"
           + (f" · {acc:.2%} on the MNIST test set" if isinstance(acc, float) else ""))


def read(image) -> tuple[np.ndarray | None, np.ndarray]:
    """What the model sees of an image (None when nothing is drawn) and its ten probabilities."""
    seen = preprocess.to_mnist(image) if image is not None else None
    return seen, ck.predict_proba(seen[None])[0] if seen is not None else np.zeros(10)


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
            seen, p = read(image)
            drawing_pad(width, report.reading(p) if seen is not None else None)
        else:
            up = st.file_uploader("A PNG or JPEG of one digit, any size, dark on light or light on dark",
                                  type=["png", "jpg", "jpeg"])
            if up is not None:
                try:
                    image = preprocess.read_image(up)
                except UserError as e:
                    ui.show_error(e)
            seen, p = read(image)
    with right:
        answer(p, seen)


pad()
