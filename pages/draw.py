"""Draw a digit (or upload one) and watch the model read it."""

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

import ui
from digitlab import UserError, plots, preprocess, report

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


@st.fragment
def pad(ck) -> None:
    """Canvas and answer rerun alone on each stroke: the rest of the page stays put."""
    left, right = st.columns([1, 1], gap="large")
    with left:
        source = st.radio("Input", ["Draw", "Upload an image"], horizontal=True, label_visibility="collapsed")
        image = None
        if source == "Draw":
            st.session_state.setdefault("canvas_id", 0)
            width = st.slider("Stroke width", 8, 40, 20, key="stroke")
            canvas = st_canvas(stroke_width=width, stroke_color="#FFFFFF", background_color="#000000",
                               width=280, height=280, drawing_mode="freedraw", return_image_data=True,
                               key=f"canvas-{st.session_state.canvas_id}")
            if st.button("Clear", icon=":material/ink_eraser:", key="clear"):
                st.session_state.canvas_id += 1
                st.rerun(scope="fragment")
            image = canvas.image_data
        else:
            up = st.file_uploader("A PNG or JPEG of one digit, any size, dark on light or light on dark",
                                  type=["png", "jpg", "jpeg"])
            if up is not None:
                try:
                    image = preprocess.read_image(up)
                except UserError as e:
                    ui.show_error(e)

    with right:
        seen = preprocess.to_mnist(image) if image is not None else None
        if seen is None:
            st.info("Draw a digit on the black square: the prediction appears as soon as you lift the pen.",
                    icon=":material/draw:")
            # The empty chart also loads the browser's chart library now rather than on the first stroke (~1.5 s).
            st.plotly_chart(plots.probabilities(np.zeros(10)), width="stretch", config={"displayModeBar": False})
        else:
            p = ck.predict_proba(seen[None])[0]
            top = int(p.argmax())
            a, b = st.columns([1, 1])
            a.metric("Prediction", top, f"{p[top]:.1%} confident", delta_color="off", delta_arrow="off", border=True)
            b.image(plots.enlarge(seen, 5), caption="What the model sees (28×28)", width=140)
            st.plotly_chart(plots.probabilities(p), width="stretch", config={"displayModeBar": False})


pad(ck)
