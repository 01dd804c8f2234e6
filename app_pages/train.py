"""Launch training runs from the sidebar and watch them live."""

import time
from dataclasses import fields

import streamlit as st

import ui
from digitlab import UserError, data, jobs, plots
from digitlab.config import (DEVICES, MODELS, NORMALIZATIONS, NORMS, OPTIMIZERS, PRECISIONS, SCHEDULES,
                             TrainConfig, parse_hidden)
from digitlab.presets import COMPARISON, PRESETS, preset
from digitlab.train import available_devices

store = ui.store()
DEFAULTS = TrainConfig()


def set_form(c: TrainConfig) -> None:
    for f in fields(TrainConfig):
        st.session_state[f"f_{f.name}"] = getattr(c, f.name)
    st.session_state.f_hidden = ", ".join(map(str, c.hidden))
    st.session_state.f_channels = ", ".join(map(str, c.channels))


def on_preset() -> None:
    name = st.session_state.preset
    set_form(preset(name) if name != "custom" else TrainConfig())


if "f_lr" not in st.session_state:
    set_form(DEFAULTS)

here = available_devices()
with st.sidebar:
    st.header("New run")
    st.selectbox("Preset", ["custom", *PRESETS], key="preset", on_change=on_preset,
                 help="Fills the form with a recipe from the course; change anything before launching.")
    with st.form("hyper"):
        st.text_input("Name", key="f_name", placeholder="optional")
        st.segmented_control("Model", MODELS, key="f_model",
                             help="mlp: fully connected layers · cnn: 5x5 conv blocks, then the hidden layers")
        st.text_input("Hidden layer sizes", key="f_hidden", help="Comma-separated widths, e.g. 512, 128")
        st.text_input("CNN channels", key="f_channels", help="cnn only: channels of each 5x5 conv block, e.g. 32, 64")
        st.selectbox("Optimizer", OPTIMIZERS, key="f_optimizer",
                     help="momentum is SGD with momentum (Nesterov optional)")
        st.number_input("Learning rate", min_value=0.0, format="%g", step=1e-4, key="f_lr",
                        help="The peak rate for the onecycle schedule")
        c1, c2 = st.columns(2)
        c1.number_input("Batch size", min_value=1, max_value=48_000, step=32, key="f_batch_size")
        c2.number_input("Epochs", min_value=1, max_value=500, key="f_epochs")
        st.radio("Device", DEVICES, key="f_device", horizontal=True,
                 format_func=lambda d: d if d == "auto" or d in here else f"{d} (not here)",
                 help=f"Available here: {', '.join(here)}. auto picks cuda, then mps, then cpu.")
        with st.expander("Regularization and normalization"):
            st.select_slider("Dropout", [round(0.05 * k, 2) for k in range(19)], key="f_dropout")
            st.selectbox("Normalization layer", NORMS, key="f_norm", help="After each hidden linear layer")
            st.selectbox("Input normalization", NORMALIZATIONS, key="f_normalize",
                         help="none: [0, 1] · mnist: mean 0.1307, std 0.3081 · symmetric: [-1, 1]")
            st.number_input("Weight decay", min_value=0.0, format="%g", step=1e-5, key="f_weight_decay")
            st.number_input("Label smoothing", 0.0, 0.99, step=0.05, key="f_label_smoothing")
        with st.expander("Augmentation"):
            st.caption("Random distortions of each training batch, on the training device.")
            c1, c2 = st.columns(2)
            c1.number_input("Rotate (°)", 0.0, 90.0, step=1.0, key="f_rotate")
            c2.number_input("Shear (°)", 0.0, 60.0, step=1.0, key="f_shear")
            c1, c2 = st.columns(2)
            c1.number_input("Scale (±)", 0.0, 0.9, step=0.02, key="f_scale")
            c2.number_input("Shift (px)", 0.0, 14.0, step=0.5, key="f_translate")
            c1, c2 = st.columns(2)
            c1.number_input("Elastic (px)", 0.0, 14.0, step=0.5, key="f_elastic")
            c2.number_input("Stroke width", 0.0, 1.0, step=0.1, key="f_thickness",
                            help="Share of images made bolder or thinner")
        with st.expander("Momentum and schedule"):
            c1, c2 = st.columns(2)
            c1.number_input("Momentum", 0.0, 0.999, step=0.05, key="f_momentum")
            c2.checkbox("Nesterov", key="f_nesterov")
            st.selectbox("LR schedule", SCHEDULES, key="f_schedule")
            c1, c2 = st.columns(2)
            c1.number_input("Step size (epochs)", min_value=1, key="f_step_size")
            c2.number_input("Step gamma", min_value=0.01, max_value=1.0, key="f_gamma")
        with st.expander("Precision and reproducibility"):
            st.segmented_control("Precision", PRECISIONS, key="f_precision",
                                 help="bf16 runs the forward pass in mixed precision: faster on recent CPUs and GPUs")
            c1, c2 = st.columns(2)
            c1.number_input("Seed", min_value=0, step=1, key="f_seed")
            c2.checkbox("Shuffle", key="f_shuffle")
        launch = st.form_submit_button("Launch run", type="primary", width="stretch")
    compare = st.button("Queue the optimizer comparison", width="stretch",
                        help="Three runs of 784-128-64-10 for 25 epochs: SGD, SGD with momentum, Adam.")


def form_config() -> TrainConfig:
    values = {f.name: st.session_state[f"f_{f.name}"] for f in fields(TrainConfig) if f.name not in ("hidden", "channels")}
    values["model"] = values["model"] or "mlp"  # a segmented control can be cleared
    values["precision"] = values["precision"] or "fp32"
    return TrainConfig(**values, hidden=parse_hidden(st.session_state.f_hidden),
                       channels=parse_hidden(st.session_state.f_channels, "CNN channels"))


try:
    if launch:
        rid = jobs.launch(store, form_config(), data.data_root())
        st.toast(f"Run {rid} queued.", icon=":material/rocket_launch:")
    if compare:
        ids = [jobs.launch(store, preset(n), data.data_root()) for n in COMPARISON]
        st.toast(f"Runs {', '.join(map(str, ids))} queued: SGD, momentum, Adam.", icon=":material/rocket_launch:")
except UserError as e:
    ui.show_error(e)

st.title("Train")
if not data.is_prepared():
    st.info("MNIST is not prepared yet: prepare it on the **Data** page before launching a run.")


@st.fragment(run_every=1.0)
def live() -> None:
    store.reap()
    runs = store.runs()
    running = [r for r in runs if r["status"] == "running"]
    queued = [r for r in reversed(runs) if r["status"] == "queued"]
    if queued and not running:
        jobs.ensure_worker(store, data.data_root())  # e.g. after a restart of the app
    if not running and not queued:
        st.caption("No run in progress. Pick a preset or set the hyperparameters in the sidebar, then launch.")
    for r in running:
        show_running(r)
    if queued:
        st.subheader(f"Queue ({len(queued)})")
        for r in queued:
            a, b = st.columns([5, 1])
            a.write(f"**{r['id']}** · {r['name']} · {r['config']['epochs']} epochs")
            if b.button("Cancel", key=f"cq{r['id']}"):
                store.request_cancel(r["id"])
                st.rerun(scope="fragment")
    done = [r for r in runs if r["status"] in ("completed", "failed", "cancelled")][:5]
    if done:
        st.subheader("Recent runs")
        for r in done:
            icon = {"completed": ":material/check_circle:", "failed": ":material/error:", "cancelled": ":material/cancel:"}[r["status"]]
            acc = f" · best val {r['best_val_acc']:.2%} · test {r['test_acc']:.2%}" if r["test_acc"] is not None else ""
            secs = f" · {r['train_seconds']:.1f}s" if r["train_seconds"] else ""
            st.write(f"{icon} **{r['id']}** · {r['name']} · {r['status']}{acc}{secs}")
            if r["status"] == "failed" and r["error"]:
                st.error(r["error"])


def show_running(r: dict) -> None:
    c = r["config"]
    spe = r["steps_per_epoch"] or 1
    epochs = store.epochs(r["id"])
    done_steps = len(epochs) * spe + (r["step"] if r["epoch"] > len(epochs) else 0)
    frac = min(1.0, done_steps / (c["epochs"] * spe))
    st.subheader(f"Run {r['id']}: {r['name']}")
    head, cancel = st.columns([5, 1])
    head.progress(frac, text=f"epoch {max(r['epoch'], 1)}/{c['epochs']} · step {r['step']}/{spe} · "
                             f"on {r['device'] or '…'} · {time.time() - r['started']:.0f}s")
    if r["cancel_requested"]:
        cancel.write("cancelling…")
    elif cancel.button("Cancel", key=f"cr{r['id']}", type="primary"):
        store.request_cancel(r["id"])
        st.rerun(scope="fragment")
    if epochs:
        last = epochs[-1]
        m = st.columns(4)
        m[0].metric("Train loss", f"{last['train_loss']:.4f}")
        m[1].metric("Val accuracy", f"{last['val_acc']:.2%}")
        m[2].metric("Test accuracy", f"{last['test_acc']:.2%}")
        m[3].metric("Epoch time", f"{last['seconds']:.2f}s")
        a, b = st.columns(2)
        a.plotly_chart(plots.epoch_curves([(r["name"], epochs)], "loss"), width="stretch", key=f"l{r['id']}")
        b.plotly_chart(plots.epoch_curves([(r["name"], epochs)], "acc"), width="stretch", key=f"a{r['id']}")
    steps = store.steps(r["id"])
    if steps:
        st.plotly_chart(plots.step_losses([(r["name"], steps)], window=50), width="stretch", key=f"s{r['id']}")


live()
