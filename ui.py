"""Streamlit helpers shared by the pages: cached resources and the model list. The core stays Streamlit-free."""

from pathlib import Path

import streamlit as st

from digitlab import UserError, checkpoint, data
from digitlab.store import Store, runs_root

ROOT = Path(__file__).parent
SHIPPED = ROOT / "checkpoints"


@st.cache_resource
def _store(root: str) -> Store:
    return Store(root)


def store() -> Store:
    return _store(str(runs_root()))


@st.cache_resource(max_entries=8)
def load_checkpoint(path: str, mtime: float) -> checkpoint.Checkpoint:
    return checkpoint.load(path)


def model(path) -> checkpoint.Checkpoint:
    p = Path(path)
    return load_checkpoint(str(p), p.stat().st_mtime if p.exists() else 0.0)


@st.cache_resource
def mnist(stamp: str) -> data.MNIST:
    return data.load()


def dataset() -> data.MNIST | None:
    """The MNIST tensors, or None (with a hint on screen) when they are not prepared."""
    if not data.is_prepared():
        st.info("MNIST is not prepared yet: prepare it on the **Data** page (one click, no internet needed).")
        return None
    return mnist(str(data.raw_dir()))


def models() -> dict[str, str]:
    """Label -> checkpoint path: the shipped models first, then every run that has a checkpoint."""
    shipped = sorted(SHIPPED.glob("*.pt"), key=lambda p: (p.stem != "mlp-default", p.stem))  # the default first
    out = {f"{p.stem} (shipped)": str(p) for p in shipped}
    for r in store().runs():
        if r["checkpoint"] and Path(r["checkpoint"]).exists() and r["status"] in ("completed", "cancelled"):
            acc = f", test {r['test_acc']:.2%}" if r["test_acc"] is not None else ""
            out[f"run {r['id']}: {r['name']}{acc}"] = r["checkpoint"]
    return out


def show_error(e: UserError) -> None:
    st.error(str(e), icon=":material/error:")
