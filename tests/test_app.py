"""Smoke tests of every page with Streamlit's AppTest (no browser)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from digitlab import jobs
from digitlab.config import TrainConfig
from digitlab.store import Store

ROOT = Path(__file__).parent.parent


@pytest.fixture
def store_with_run(runs, tiny_root, unverified):
    s = Store(runs)
    rid = s.create(TrainConfig(hidden=[16], epochs=2, device="cpu", name="smoke"))
    jobs.work(s, tiny_root)
    assert s.get(rid)["status"] == "completed"
    return s


def run(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_router_opens_on_draw(runs):
    at = run("streamlit_app.py")
    assert at.title[0].value == "Draw a digit"


def test_draw_page_offers_the_shipped_model_and_asks_for_a_drawing(runs):
    at = run("app_pages/draw.py")
    options = at.selectbox(key="draw_model").options
    assert options[0] == "mlp-default (shipped)" and "cnn-default (shipped)" in options
    assert at.selectbox(key="draw_model").value == "mlp-default (shipped)"
    assert any("Draw a digit on the black square" in i.value for i in at.info)
    assert not [m for m in at.metric if m.label == "Prediction"]  # nothing drawn, no prediction


def test_train_page_form_and_presets(runs):
    at = run("app_pages/train.py")
    at.selectbox(key="preset").set_value("nmlp-30-5").run()
    assert at.text_input(key="f_hidden").value == "30, 5"
    assert at.selectbox(key="f_norm").value == "layer" and at.session_state["f_dropout"] == 0.5
    at.text_input(key="f_hidden").set_value("64, zero")
    at.button[0].click().run()  # the form's Launch button: bad input, one sentence, nothing queued
    assert any("Hidden sizes must be whole numbers" in e.value for e in at.error)
    assert Store(runs).runs() == []


def test_runs_page_shows_a_completed_run(store_with_run):
    at = run("app_pages/runs.py")
    assert at.multiselect[0].value == ["1: smoke"]
    assert at.dataframe  # the table of runs and the summary


def test_data_page(runs):
    run("app_pages/data.py")
