"""What a network's first layer learned, epoch by epoch, for two models side by side."""

import streamlit as st

from app import ui
from app.views import network
from digitlab import UserError
from digitlab.drawing import inside
from digitlab.runs import catalog
from digitlab.learn.checkpoint import SHIPPED
from digitlab.runs.store import Status

ui.routed()
store = ui.store()
st.title("What the first layer learned")
st.caption("The weights of the first layer are what the network looks for in the pixels. An MLP's units are 28×28 "
           "images, the ones with the largest weights first; a CNN's are its first convolution's kernels. Runs keep "
           "them after every epoch: slide through training, and set two runs side by side (SGD against Adam, dropout "
           "0.2 against 0.6).")

runs = [r for r in store.runs(owner=ui.owner_filter())
        if r.status == Status.RUNNING or (r.checkpoint and r.best_val_acc is not None)]
choices = {f"run:{r.id}": f"run {r.id}: {r.name} ({r.status})" for r in runs}
choices |= {p.stem: f"{p.stem} (shipped)" for p in catalog.shipped_models()}
if not choices:
    st.info("No model yet: train one on the **Train** page.")
    st.stop()


def history(key: str) -> dict:
    """{epoch: first-layer weights} of a run (every epoch it kept), or {-1: the final weights} of a model."""
    if key.startswith("run:"):
        run = store.get(int(key[4:]))
        kept = store.snapshots(run.id)
        if kept or not run.checkpoint:
            return kept
        path = run.checkpoint
    else:
        path = SHIPPED / f"{key}.pt"
    return {-1: inside.first_weights(ui.model(path).model)}


keys = list(choices)
linked = [st.query_params.get(k) for k in ("a", "b")]
ui.not_yours(linked, choices, "model")
comparison = [f"run:{i}" for i in catalog.default_comparison(runs)]
first = next(k for k in [*linked[:1], *comparison, *keys] if k in choices)
second = next((k for k in [*linked[1:], *comparison, *keys] if k in choices and k != first), first)
try:
    columns = st.columns(2, gap="large")
    picked = []
    for n, (column, side) in enumerate(zip(columns, ("a", "b"))):
        with column:
            key = st.selectbox("Model" if n == 0 else "Side by side with", keys, index=keys.index((first, second)[n]),
                               format_func=choices.get, key=f"first_{side}")
            picked.append(key)
            network.first_layer(history(key), choices[key], key=f"first-{side}")
    ui.set_address(a=picked[0], b=picked[1])
except UserError as e:
    ui.show_error(e)
