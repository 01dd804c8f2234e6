"""What every part of the UI stands on: this server's run store, and how a sentence for a person is shown. Below
both the router (app/ui.py) and the door (app/signin.py), so that neither imports the other."""

import functools
import os

import streamlit as st

from digitlab import UserError, markdown
from digitlab.runs.store import Store, runs_root


@functools.lru_cache(maxsize=16)
def _resolved(named: str | None, cwd: str) -> str:
    return str(runs_root(named))


def runs_folder() -> str:
    """This server's runs folder (store.runs_root), resolved once: every page of every viewer asks, every tick."""
    return _resolved(os.environ.get("DIGITLAB_RUNS"), os.getcwd())


@st.cache_resource
def _store(root: str) -> Store:
    return Store(root)


def store() -> Store:
    return _store(runs_folder())


def show_error(e: UserError) -> None:
    st.error(markdown.as_text(str(e)), icon=":material/error:")  # it may quote what a person typed
