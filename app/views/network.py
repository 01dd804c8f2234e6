"""The views inside the network that pages share (Streamlit only: the work is in digitlab.drawing.inside and lrfind)."""

import numpy as np
import streamlit as st

from app import ui
from digitlab import UserError, markdown
from digitlab.course import plots
from digitlab.drawing import inside, pictures
from digitlab.runs import admission
from digitlab.learn.config import TrainConfig, command_line
from digitlab.runs.store import MAX_PINS

IMAGE = 224  # pixels on screen of one 28x28 picture (8 per pixel): big enough to see each pixel, three to a row
WIDE = 320   # half the width of a wide picture (tiled maps)
PINS = "pins"  # session_state: drawings pinned on the Draw page for the next run, [(label, 784 bytes)]


def command(config: dict | TrainConfig) -> str:
    """The CLI command that reproduces a run's configuration exactly."""
    return command_line(config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config))


def show_command(config: dict | TrainConfig) -> None:
    st.code(command(config), language="bash", wrap_lines=True)


# --- Draw: why, inside, fool ---------------------------------------------------------------------------------------

def pick(digit) -> None:
    """A click on a bar of the answer: the digit to explain (a value from the browser, so checked)."""
    if isinstance(digit, int) and not isinstance(digit, bool) and 0 <= digit <= 9:
        st.session_state.explain = digit


def explained(p: np.ndarray) -> int:
    """The digit the saliency explains: the one clicked, else the answer."""
    digit = st.session_state.get("explain")
    return digit if digit is not None else int(np.argmax(p))


def why(ck, seen: np.ndarray, p: np.ndarray) -> None:
    """Saliency of the explained digit over the 28x28 input."""
    target = explained(p)
    a, b = st.columns([3, 2])
    method = a.segmented_control("Attribution", list(inside.METHODS), format_func=inside.METHODS.get,
                                 default="gradient", key="why_method") or "gradient"
    if st.session_state.get("explain") is not None:
        b.button(f"Back to the answer ({int(np.argmax(p))})", key="why_reset",
                 on_click=lambda: st.session_state.update(explain=None))
    attr = inside.saliency(ck, seen, target, method)
    st.image([pictures.overlay(seen, attr), pictures.heat(attr, 8)], width=IMAGE,
             caption=[f"why {target} ({p[target]:.0%}): over the drawing", "the attribution alone"])
    if method == "gradient":
        st.caption(f"Red pixels are where a small change of ink would change the score of {target} most (the "
                   "gradient's size). Click any digit's bar to explain that digit instead.")
    else:
        st.caption(f"Red ink speaks for {target}, blue against it: Integrated Gradients adds up the gradient along "
                   "the way from a blank image to this drawing. Click any digit's bar to explain that digit instead.")


def layers(ck, seen: np.ndarray) -> None:
    """Each hidden layer's activations (MLP) or feature maps (CNN) for this drawing."""
    for name, a in inside.activations(ck, seen):
        active = int((a > 0).sum())
        if a.ndim == 1:
            grid = pictures.units(a, cols=64 if a.size > 512 else 32)
            st.image(pictures.heat_tiles(grid[None], scale=10), width=min(10 * grid.shape[1], 2 * WIDE),
                     caption=f"{name}: {a.size} units, {active} active (the brighter, the stronger)")
        else:
            st.image(pictures.heat_tiles(a, scale=3, each=True, cols=8 if len(a) <= 32 else 16), width=2 * WIDE,
                     caption=f"{name}: {len(a)} maps of {a.shape[1]}×{a.shape[2]}, each at its own scale "
                             f"({active / a.size:.0%} of the values above zero)")


def fool(ck, seen: np.ndarray, p: np.ndarray) -> None:
    """Targeted gradient steps on the drawing: the change that makes the model answer another digit."""
    answer = int(np.argmax(p))
    second = int(np.argsort(p)[-2])
    c1, c2, c3 = st.columns([1, 1, 2])
    target = c1.selectbox("Make it a", range(10), index=second, key="fool_target")
    method = c2.segmented_control("Method", ["FGSM", "PGD"], default="PGD", key="fool_method") or "PGD"
    eps = c3.slider("Epsilon (largest change of a pixel)", 0.0, 0.5, 0.1, 0.01, key="fool_eps")
    steps = st.slider("PGD steps", 2, 100, 20, key="fool_steps") if method == "PGD" else 1
    try:
        changed = inside.fool(ck, seen, target, eps, steps)
    except UserError as e:
        ui.show_error(e)
        return
    after = ck.predict_proba(changed[None])[0]
    new = int(after.argmax())
    st.image([pictures.grey(seen), pictures.grey(changed), pictures.heat(changed - seen, 8)], width=IMAGE,
             caption=[f"yours: {answer} ({p[answer]:.0%})", f"changed: {new} ({after[new]:.0%})",
                      f"the change (at most {eps:g} a pixel)"])
    verdict = (f"A change of at most {eps:g} a pixel makes it read **{new}**" if new == target and new != answer else
               f"Still read as **{new}**: {target} has {after[target]:.0%}; raise epsilon or use more PGD steps")
    st.markdown(verdict + ".")
    if st.button(f"Find the smallest change that makes it a {target}", key="fool_smallest"):
        with st.spinner("Searching…"):
            found = inside.smallest_flip(ck, seen, target, steps=max(steps, 10))
        if found is None:
            st.info(f"No change within the pixel range makes this model read {target}.")
        else:
            least, image = found
            q = ck.predict_proba(image[None])[0]
            st.image([pictures.grey(image), pictures.heat(image - seen, 8)], width=IMAGE,
                     caption=[f"reads {int(q.argmax())} ({q.max():.0%})", f"the change: at most {least:.3f} a pixel"])
            st.caption(f"Epsilon {least:.3f} (to 1/256) is the least that flips it with {max(steps, 10)} PGD steps.")


def pin_here(seen: np.ndarray) -> None:
    """Pin the current drawing for the next run launched on the Train page, with its label."""
    pins = st.session_state.setdefault(PINS, [])
    if len(pins) >= MAX_PINS:
        st.caption(f"{MAX_PINS} drawings are pinned, the most a run watches: unpin some on the Train page.")
        return

    def add() -> None:
        label = st.session_state.get("pin_label")
        if isinstance(label, int) and 0 <= label <= 9 and len(pins) < MAX_PINS:
            pins.append(admission.pin(seen, label))
        st.session_state.pin_label = None

    st.pills(f"Pin it for your next run to learn ({len(pins)} of {MAX_PINS}), as a",
             range(10), key="pin_label", on_change=add,
             help="The Train page's next run scores it every 50 steps and after every epoch, and shows its ten "
                  "probabilities moving as the network learns.")


# --- pinned drawings, while a run trains and after ----------------------------------------------------------------

def pinned(pins: list[dict], scores: list[dict], steps_per_epoch: int | None, key: str, figures=None) -> None:
    """Each pinned drawing with its ten probabilities over the run's steps (figures: the same, built already)."""
    if not pins:
        return
    st.caption("One line a digit (0 blue, 1 orange, 2 green, 3 red, 4 purple, 5 brown, 6 pink, 7 grey, 8 olive, "
               "9 cyan), the drawing's own digit thick; dotted lines mark the epochs. Hover a chart to read it.")
    last = scores[-1]["probs"] if scores else None
    for row in range(0, len(pins), 4):
        for column, pin in zip(st.columns(4), pins[row:row + 4]):
            k = pin["slot"]
            now = f"reads {int(np.argmax(last[k]))} ({max(last[k]):.0%})" if last and k < len(last) else "not scored yet"
            label = f"a {pin['label']}, " if pin["label"] is not None else ""
            column.image(pictures.grey(pin["image"] / 255, 3), caption=f"{label}{now}")
            fig = figures[k] if figures else plots.pinned_curves(scores, k, pin["label"], steps_per_epoch)
            column.plotly_chart(fig, width="stretch", key=f"{key}-{k}", config={"displayModeBar": False})


def first_layer(history: dict, label: str, key: str) -> None:
    """A model's first layer at an epoch chosen on a slider: MLP units by weight norm, or CNN kernels."""
    if not history:
        st.caption("This run kept no first-layer snapshots (it ran before digitlab kept them).")
        return
    epochs = sorted(history)
    epoch = epochs[-1] if len(epochs) == 1 else st.select_slider(
        "Epoch", epochs, value=epochs[-1], key=f"{key}-epoch", format_func=lambda e: "before training" if e == 0
        else ("final" if e == -1 else str(e)))
    w = history[epoch]
    shown, order = inside.by_norm(w, top=64)
    kernels = w.shape[-1] != 28
    st.image(pictures.heat_tiles(shown, scale=12 if kernels else 2, cols=8, each=True), width="stretch",
             caption=f"{markdown.as_text(label)}: " + (f"{len(shown)} first conv kernels ({w.shape[-1]}×{w.shape[-1]})" if kernels else
                                                     f"{len(shown)} first-layer units as 28×28 images") +
                     ", largest weight norm first; red weights add ink's evidence, blue take it away")
