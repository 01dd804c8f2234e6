"""Streamlit helpers the pages share: the router, cached resources, the model list. The core stays Streamlit-free."""

import threading
from pathlib import Path

import streamlit as st

from digitlab import UserError, checkpoint, data, jobs, report
from digitlab.store import Store, runs_root

PAGES = Path(__file__).parent / "pages"
_routing = threading.local()  # set while the router runs a page, in the script thread that runs it


def run_app() -> None:
    """The router: our navigation, then the page the address asks for."""
    st.set_page_config(page_title="digitlab", page_icon="✏️", layout="wide")  # an emoji: no font fetched from afar
    nav = st.navigation([
        st.Page(PAGES / "draw.py", title="Draw", icon=":material/draw:", default=True),
        st.Page(PAGES / "train.py", title="Train", icon=":material/model_training:"),
        st.Page(PAGES / "runs.py", title="Runs", icon=":material/monitoring:"),
        st.Page(PAGES / "data.py", title="Data", icon=":material/dataset:"),
    ])
    _routing.active = True
    try:
        supervisor()
        nav.run()
    except UserError as e:  # a damaged store, say: one sentence, whatever the page
        show_error(e)
    finally:
        _routing.active = False


def routed() -> None:
    """Every page calls this first. A folder named pages/ makes Streamlit run a page file directly, with its own
    page list, on the server's first session until st.navigation has been called once; we then route from here."""
    if not getattr(_routing, "active", False):
        run_app()
        st.stop()


@st.cache_resource
def _store(root: str) -> Store:
    return Store(root)


def store() -> Store:
    return _store(str(runs_root()))


@st.cache_resource
def _supervisor(root: str, data_root: str) -> jobs.Supervisor:
    return jobs.Supervisor(_store(root), data_root).start()


def supervisor() -> jobs.Supervisor:
    """The one supervisor of this server's run store: reaps dead workers and keeps the queue moving."""
    return _supervisor(str(runs_root()), str(data.data_root()))


@st.cache_resource(max_entries=8)
def _checkpoint(path: str, mtime: float) -> checkpoint.Checkpoint:
    return checkpoint.load(path)


def model(path) -> checkpoint.Checkpoint:
    p = Path(path)
    return _checkpoint(str(p), p.stat().st_mtime if p.exists() else 0.0)


@st.cache_resource
def _mnist(raw_dir: str) -> data.MNIST:
    return data.load(Path(raw_dir).parent.parent)


def dataset() -> data.MNIST | None:
    """The MNIST tensors, or None (with a hint on screen) when they are not prepared."""
    if not data.is_prepared():
        st.info("MNIST is not prepared yet: prepare it on the **Data** page (one click, no internet needed).")
        return None
    return _mnist(str(data.raw_dir()))


def models() -> dict[str, str]:
    return report.model_choices(store())


def show_error(e: UserError) -> None:
    st.error(report.as_text(str(e)), icon=":material/error:")  # it may quote what a person typed
