"""The Draw page's pad and answer, two small Streamlit v2 components (plain DOM in the page, no iframe).

The pad has its own Undo and Clear: they never remount it, so no stroke is lost, and each stroke sends one small PNG
of the canvas, checked like any uploaded file before it is decoded. The answer is updated in place on every stroke.
"""

import base64
import binascii
import io
from pathlib import Path

import numpy as np
import streamlit as st

from digitlab import UserError
from digitlab.drawing import answers, pictures, preprocess

SIDE = 280  # the canvas's own pixels, whatever its size on screen
MAX_CHARS = 1_000_000  # a 280x280 PNG of the canvas is a few KB; anything near this was not sent by our pad
PREFIX = "data:image/png;base64,"
_HERE = Path(__file__).parent
_pad = st.components.v2.component(
    "digitlab.drawing_pad",
    html=f'<div class="pad"><div class="board"><canvas width="{SIDE}" height="{SIDE}" aria-label="Drawing pad"></canvas>'
         '<div class="badge" aria-hidden="true" hidden></div></div>'
         '<div class="buttons"><button class="undo" title="Take back the last stroke">↶ Undo</button>'
         '<button class="clear" title="Start again">Clear</button></div>'
         '<div class="save" hidden><span class="what">Save to My digits as</span><div class="digits">'
         + "".join(f'<button data-digit="{k}" title="Save as {k} (or press {k})">{k}</button>' for k in range(10))
         + '</div><span class="keys">or press the digit key</span></div></div>',
    css=(_HERE / "pad.css").read_text(),
    js=(_HERE / "pad.js").read_text(),
)

ROWS = "".join(f'<div class="row"><span class="digit">{k}</span><div class="track"><div class="bar"></div></div>'
               '<span class="pct"></span></div>' for k in range(10))
_answer = st.components.v2.component(
    "digitlab.drawing_answer",
    html='<div class="answer" role="status"><div class="hint">Draw a digit on the black square: the prediction '
         'appears as soon as you lift the pen.</div><div class="reading" hidden><div class="label">Prediction</div>'
         '<div class="headline"></div><span class="detail"></span></div><figure><canvas width="28" height="28">'
         '</canvas><figcaption>What the model sees (28×28)</figcaption></figure>'
         f'<div class="bars" aria-label="Probability of each digit">{ROWS}</div></div>',
    css=(_HERE / "answer.css").read_text(),
    js=(_HERE / "answer.js").read_text(),
)


def drawing(key: str = "pad") -> np.ndarray | None:
    """What the pad sent last, as an image array: None while it is empty or before it has sent anything.

    Read before the pad is drawn in a run, so that the pad can show the reading of this very drawing.
    """
    state = st.session_state.get(key)
    sent = state.get("image") if state is not None else None
    return None if sent is None else decode(sent)


def drawing_pad(stroke_width: int, reading: dict | None = None, key: str = "pad", on_save=None) -> None:
    """The pad, showing reading (answers.reading of what it sent last) in its corner. With on_save, it offers to save
    the drawing with a label (a button per digit, the reading's digit marked, or a digit key): on_save(label, sent)
    is called with what the pad sent (png() reads it), before the page runs again, and the pad starts empty."""
    callbacks = {"on_save_change": (lambda: _saved(key, on_save))} if on_save else {}
    _pad(key=key, data={"width": stroke_width, "reading": reading, "saving": on_save is not None},
         on_image_change=lambda: None, **callbacks)


def _saved(key: str, on_save) -> None:
    sent = st.session_state[key].get("save")
    if not isinstance(sent, dict):
        return
    on_save(sent.get("label"), sent.get("image"))


def png(sent) -> bytes:
    """The PNG bytes the pad sent as a data URL; anything else is one sentence."""
    if not isinstance(sent, str) or len(sent) > MAX_CHARS or not sent.startswith(PREFIX):
        raise UserError("The drawing did not arrive as a PNG from the pad: press Clear and draw again.")
    try:
        return base64.b64decode(sent[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise UserError("The drawing arrived damaged: press Clear and draw again.") from None


def decode(sent) -> np.ndarray:
    """The PNG the pad sent as an array; anything else is one sentence."""
    file = io.BytesIO(png(sent))
    file.name = "The drawing"
    return preprocess.read_image(file)


def answer(probs, seen: np.ndarray | None, looks: dict | None = None, key: str = "answer", picked: int | None = None,
           on_pick=None) -> None:
    """Show the model's reading of seen (a 28x28 image in [0, 1], or None before anything is drawn), made of a drawing
    that looks as `looks` says (answers.reading's digits, small and other). With on_pick, a click on a digit's bar
    calls on_pick(digit) (a number from the browser: checked there); `picked` is underlined."""
    probs = [round(float(v), 4) for v in probs]
    data = {"probs": probs, "seen": None, "picked": picked, "pickable": on_pick is not None,
            **answers.reading(probs, **(looks or {}))}
    if seen is not None:
        data["seen"] = pictures.to_bytes(seen).ravel().tolist()
    callbacks = {"on_picked_change": lambda: on_pick(st.session_state[key].get("picked"))} if on_pick else {}
    _answer(key=key, data=data, **callbacks)
