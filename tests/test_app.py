"""Every page through the router with Streamlit's AppTest (no browser), on this test's own data and run store."""

import json
import sqlite3
from contextlib import closing

import numpy as np
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from digitlab import UserError, markdown
from digitlab.learn import cost
from digitlab.runs import admission, progress
from digitlab.learn.checkpoint import PROJECT
from digitlab.learn.config import TrainConfig
from digitlab.runs.runner import workers
from digitlab.runs.store import Status, Store
from testkit.fixtures import wait_for


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def store_with_run(app_env, tiny_root):
    s = Store(app_env)
    rid = s.create(TrainConfig(hidden=[16], epochs=2, device="cpu", name="smoke"))
    workers.work(s, tiny_root)
    assert s.get(rid).status is Status.COMPLETED
    return s


def test_router_opens_on_draw(app_env):
    at = open_page()
    assert at.title[0].value == "Draw a digit"


def test_draw_page_offers_the_shipped_model_and_asks_for_a_drawing(app_env):
    at = open_page("draw")
    options = at.selectbox(key="draw_model").options
    assert options[0] == "mlp-default (shipped)" and "cnn-default (shipped)" in options
    assert at.selectbox(key="draw_model").value == "mlp-default (shipped)"
    shown = {e.proto.component_name: json.loads(e.proto.json) for e in at.main if type(e).__name__ == "UnknownElement"}
    assert shown["digitlab.drawing_pad"] == {"width": 20, "reading": None, "saving": True}
    assert shown["digitlab.drawing_answer"]["seen"] is None  # nothing drawn, no prediction (the pad shows a hint)


def test_train_form_follows_presets_and_refuses_bad_input(app_env):
    at = open_page("train")
    at.selectbox(key="preset").set_value("nmlp-30-5").run()
    assert at.text_input(key="f_hidden").value == "30, 5"
    assert at.selectbox(key="f_norm_layer").value == "layer" and at.number_input(key="f_dropout").value == 0.5
    said = " ".join(c.value for c in at.caption)
    assert "normalized MLP" in said and "Dropout** 0.5" in said  # what the preset is and every field it sets
    assert any(e.label.endswith("· 2 set by the preset") for e in at.expander)  # marked even when closed
    at.text_input(key="f_hidden").set_value("64, zero")
    at.button(key="launch").click().run()  # bad input: one sentence, nothing queued
    assert any("Hidden layer sizes must be whole numbers" in e.value for e in at.error)
    at.text_input(key="f_hidden").set_value("64")
    assert at.checkbox(key="f_nesterov").disabled and at.text_input(key="f_channels").disabled  # unused with adam
    at.selectbox(key="f_optimizer").set_value("momentum").run()
    at.checkbox(key="f_nesterov").check().run()
    at.selectbox(key="f_optimizer").set_value("adam").run()  # Nesterov no longer applies: it is not used
    assert at.checkbox(key="f_nesterov").disabled and not at.error
    assert Store(app_env).runs() == []


def test_train_widgets_take_their_bounds_and_help_from_the_config(app_env):
    at = open_page("train")
    epochs = at.number_input(key="f_epochs")
    assert epochs.value == 10 and "Passes over the training images (48k with the default validation split). (between 1 and 1000.)" in epochs.help
    at.number_input(key="f_batch_size").set_value(100_000).run()  # what is shown is what is judged
    [error] = [e.value.replace("\\", "").replace("\u200b", "") for e in at.sidebar.error]  # shown as literal text
    assert error == "Batch size must be between 1 and 48000, got 100000."
    at.button(key="launch").click().run()
    assert Store(app_env).runs() == []  # refused, not launched with the last valid value
    assert at.selectbox(key="f_optimizer").options == ["sgd", "momentum", "adam", "adamw", "rmsprop"]


def test_a_launched_run_is_trained_by_the_supervisor_and_shown(app_env):
    at = open_page("train")
    at.text_input(key="f_name").set_value("from-the-form")
    at.text_input(key="f_hidden").set_value("16")
    at.number_input(key="f_epochs").set_value(1)
    at.radio(key="f_device").set_value("cpu")
    at.button(key="launch").click().run()
    assert not at.error
    store = Store(app_env)
    [run] = store.runs()
    assert run.name == "from-the-form" and run.config["hidden"] == [16]
    # no page renders meanwhile: the supervisor alone starts the worker
    wait_for(lambda: not store.get(run.id).status.active, 90, "the queued run to be trained")
    assert store.get(run.id).status is Status.COMPLETED
    at = open_page("runs")
    assert at.multiselect(key="compare_runs").value == [f"{run.id}: from-the-form"]


def test_runs_page_shows_a_completed_run_in_depth(store_with_run):
    at = open_page("runs")
    assert at.multiselect(key="compare_runs").value == ["1: smoke"]
    assert [m.label for m in at.metric] == ["Accuracy", "Loss", "Macro F1", "Parameters"]
    assert float(at.metric[0].value.rstrip("%")) > 50
    summary = at.dataframe[1].value
    assert list(summary["run"]) == ["1: smoke"] and summary["at epoch"][0] in (1, 2)
    assert "course" not in summary and not [m for m in at.markdown if "the course" in m.value]  # no course preset
    assert [b.value for b in at.selectbox if b.label == "Run"] == ["1: smoke"]  # in depth: the best completed run
    assert {"Script (.py)", "Notebook (.ipynb)"} <= {b.proto.label for b in at.get("download_button")}  # take it home
    assert any("class Net(nn.Module)" in c.value and "(digitlab run 1)" in c.value for c in at.code)
    at.button(key="make_report").click().run()  # the report of the runs compared, made on demand
    assert not at.exception and "Report (HTML)" in {b.proto.label for b in at.get("download_button")}
    assert at.session_state.report["html"].startswith(b"<!doctype html>") and b"1: smoke" in at.session_state.report["html"]
    at.multiselect(key="doomed").set_value([1]).run()
    at.button(key="delete_runs").click().run()
    assert not at.exception and Store(store_with_run.root).runs() == []


def test_rendering_a_page_never_writes_to_the_store(store_with_run, monkeypatch):
    """SQLite's data_version, read on a connection of the test's own, changes when any other connection commits: with
    the app's supervisor kept from starting (it writes in its own thread: reaping, backups), any write by a page
    shows, whichever of the store's writers made it."""
    from digitlab.runs.runner.supervisor import Supervisor

    monkeypatch.setattr(Supervisor, "start", lambda self: self)
    with closing(sqlite3.connect(store_with_run.path)) as probe:
        before = probe.execute("PRAGMA data_version").fetchone()[0]
        Store(store_with_run.root).update(1, name="touched")  # the probe sees another connection's write
        touched = probe.execute("PRAGMA data_version").fetchone()[0]
        assert touched != before
        for page in ("runs", "train", "draw", "digits", "data", "inside", "sweeps", "lessons"):
            open_page(page)
        assert probe.execute("PRAGMA data_version").fetchone()[0] == touched


def test_data_page_checks_and_describes_the_set(app_env):
    at = open_page("data")
    assert at.caption[0].value.count(":material/check_circle:") == 4
    stats = at.dataframe[0].value
    assert list(stats["split"]) == ["train", "validation", "test"] and list(stats["images"]) == [400, 100, 200]
    norms = at.dataframe[1].value
    assert list(norms["normalization"]) == ["none", "mnist", "symmetric"]
    assert norms["min"][2] >= -1 and norms["max"][2] <= 1
    strips = [el for el in at.get("image") if len(el.proto.imgs) == 8]  # the original and seven draws
    assert len(strips) == 7  # one a setting of the Train form's Augmentation section, and all of them together
    assert [s.label for s in at.slider][:2] == ["Rotation", "Shear"] and at.slider[0].value == 15
    at.slider[0].set_value(0).run()
    assert not at.exception


def test_data_page_offers_to_prepare_when_nothing_is_there(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLAB_DATA", str(tmp_path / "empty"))
    at = open_page("data")
    assert at.button[0].label == "Prepare MNIST" and "is not prepared" in at.markdown[0].value


def test_a_damaged_store_is_one_sentence_on_every_page(app_env):
    app_env.mkdir(parents=True, exist_ok=True)
    (app_env / "runs.db").write_bytes(b"not a database at all" * 200)
    for page in ("runs", "train", "draw"):
        at = open_page(page)
        assert any("restore the latest automatic backup" in e.value for e in at.error), page


def signed_in(name: str, password: str, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert at.title[0].value == "digitlab" and at.text_input(key="sign_in_password")  # nothing but the sign-in
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    at.button(key="sign_in").click().run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_class_mode_asks_to_sign_in_and_refuses_a_wrong_password(classroom):
    at = signed_in("bob", "not-his-password")
    assert any("do not match" in e.value for e in at.error)
    assert at.text_input(key="sign_in_password")  # still at the door
    at = signed_in("bob", "bob-pass-123")
    assert at.title[0].value == "Draw a digit"


def test_class_mode_served_without_encryption_signs_nobody_in_unless_the_settings_say_so(classroom, tmp_path):
    at = signed_in("bob", "bob-pass-123")  # plain_http = true (conftest): allowed, and said on the sign-in page
    assert at.title[0].value == "Draw a digit"
    door = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60).run()
    assert any("served without encryption (classroom.plain_http)" in w.value for w in door.warning)
    (tmp_path / "class.toml").write_text('[classroom]\nenabled = true\nroster = "roster.toml"\n')
    door = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60).run()
    assert not door.text_input and "nobody may sign in" in door.error[0].value


def test_signing_out_ends_the_persons_sessions_everywhere(classroom):
    from digitlab.classroom import sessions

    bob, other_tab = signed_in("bob", "bob-pass-123", "runs"), signed_in("bob", "bob-pass-123", "runs")
    cy = signed_in("cy", "cy-pass-123", "runs")
    bob.button(key="sign_out").click().run()
    assert bob.text_input(key="sign_in_password") and sessions.signed_out(classroom, "bob") > 0
    other_tab.run()
    assert other_tab.text_input(key="sign_in_password")  # the same person's other session: ended too
    cy.run()
    assert not cy.text_input and cy.title[0].value == "Runs"  # another person's: not


def test_someone_removed_from_the_roster_is_signed_out_at_their_next_click(classroom, tmp_path):
    from digitlab.classroom import roster

    bob = signed_in("bob", "bob-pass-123", "runs")
    roster.remove(tmp_path / "roster.toml", "bob")
    bob.run()
    assert bob.title[0].value == "digitlab" and bob.text_input(key="sign_in_password")


def test_students_see_their_own_runs_and_the_board_teachers_see_all(classroom, tiny_root):
    s = classroom
    for owner in ("bob", "cy"):
        rid = s.create(TrainConfig(hidden=[16], epochs=1, device="cpu", name=f"{owner}-run"), owner=owner)
    workers.work(s, tiny_root)
    bob = signed_in("bob", "bob-pass-123", "runs")
    assert bob.multiselect(key="compare_runs").options == ["1: bob-run"]  # cy's run is not his to open
    board = bob.dataframe[0].value
    assert sorted(board["owner"]) == ["bob", "cy"]  # the class board: everyone's results, read-only
    draw = signed_in("bob", "bob-pass-123", "draw")
    runs_offered = [o for o in draw.selectbox(key="draw_model").options if not o.endswith("(shipped)")]
    assert len(runs_offered) == 1 and runs_offered[0].startswith("run 1: bob-run")
    s.set_option("board", "False")
    tables = signed_in("bob", "bob-pass-123", "runs").dataframe
    assert not any("cy-run" in t.value.to_string() for t in tables)  # no board: nothing of cy's anywhere
    ada = signed_in("ada", "teacher-pass-1", "runs")
    assert sorted(ada.multiselect(key="compare_runs").options) == ["1: bob-run", f"{rid}: cy-run"]


def test_a_launch_records_its_owner_and_only_teachers_get_the_class_page(classroom, tiny_root):
    bob = signed_in("bob", "bob-pass-123", "train")
    bob.text_input(key="f_hidden").set_value("16")
    bob.button(key="launch").click().run()
    assert [r.owner for r in classroom.runs()] == ["bob"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        bob.switch_page("pages/classroom.py")  # not a page of his at all
    ada = signed_in("ada", "teacher-pass-1", "classroom")
    assert ada.title[0].value == "Class" and list(ada.dataframe[0].value["name"]) == ["ada", "bob", "cy"]


def everything_shown(at: AppTest) -> str:
    """The text of every element a person reads on the page, tables and pickers included."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info", "success", "warning", "error"):
        parts += [str(e.value) for e in at.get(kind)]
    parts += [t.value.to_string() for t in at.dataframe]
    parts += [" ".join(map(str, w.options)) for kind in ("selectbox", "multiselect", "radio") for w in at.get(kind)]
    return "\n".join(parts)


ISOLATION: list[tuple] = []  # (board, path, as whom, what it answered): printed for the table (pytest -s)


@pytest.mark.parametrize("board", ["off", "on"])
def test_every_way_a_student_names_anothers_runs_sweeps_or_digits_is_refused(classroom, tiny_root, monkeypatch, board):
    """Every address, picker, download and button that names a run, a sweep or a drawing, tried by bob on cy's:
    one sentence, nothing of cy's shown beyond the board's read-only row (board on), no button acts on it."""
    from digitlab.course import report
    from digitlab.runs import sweep

    s = classroom
    s.set_option("board", "True" if board == "on" else "False")
    done = s.create(TrainConfig(hidden=[16], epochs=1, device="cpu", name="cy-done"), owner="cy",
                    pins=[(7, bytes(784))])
    workers.work(s, tiny_root)
    running = s.create(TrainConfig(hidden=[16], epochs=1, device="cpu", name="cy-running"), pid=1, owner="cy")
    plan = sweep.parse('name = "cy-sweep"\n[search.lr]\nlow = 0.01\nhigh = 0.1\n')
    sweep_id = s.create_sweep(plan.name, plan.to_dict(), owner="cy")
    sweep.journal(s, sweep_id).parent.mkdir()
    save_digits(s.root, [3, 5], owner="cy")
    monkeypatch.setattr(Store, "reap", lambda self: 0)  # pid 1 stands for a worker that is alive
    rows = [("runs", {"compare": f"{done},{running}", "run": str(done)}, f"There is no run {done}, {running} of yours"),
            ("inside", {"a": f"run:{done}", "b": f"run:{running}"}, f"There is no model run:{done}, run:{running} of yours"),
            ("train", {"teacher": f"run:{done}"}, f"names run:{done}, which is not a model of yours"),
            ("train", {"start_from": f"run:{done}"}, f"names run:{done}, which is not a model of yours"),
            ("sweeps", {"sweep": str(sweep_id)}, f"There is no sweep {sweep_id} of yours"),
            ("lessons", {"lesson": "3"}, "Lesson 3 is not open: your teacher opens lessons one at a time"),
            ("draw", {}, None), ("digits", {}, None), ("data", {}, None)]
    for page, params, sentence in rows:
        bob = signed_in("bob", "bob-pass-123")
        for key, value in params.items():  # the address as typed: the page's first visit
            bob.query_params[key] = value
        bob.switch_page(f"pages/{page}.py").run()
        assert not bob.exception, (page, bob.exception)
        said = [m.value.replace("\\", "").replace("\u200b", "") for kind in ("warning", "error") for m in bob.get(kind)]
        if sentence:
            assert len(said) == 1 and sentence in said[0], (page, said)
        shown = everything_shown(bob)
        board_rows = [t.value.to_string() for t in bob.dataframe if "owner" in t.value.columns]
        leaked = shown.count("cy-") - sum(t.count("cy-") for t in board_rows)
        assert leaked == 0, (page, shown)  # beyond the board's own rows, nothing of cy's
        assert (board == "on" and page == "runs") or not board_rows, page
        keys = {b.key for b in bob.button} | {b.key for b in bob.get("download_button")}
        assert not keys & {f"del{done}", f"cr{running}", f"cq{running}", f"cancel_sweep{sweep_id}"}, (page, keys)
        assert not bob.get("download_button"), page  # the only download of a run is its own checkpoint's
        assert not bob.get("imgs") or page == "draw", page  # cy's pinned drawing, saved digits: not an image of them
        ISOLATION.append((board, f"/{page}?" + "&".join(f"{k}={v}" for k, v in params.items()), "student",
                          said[0] if said else "only their own"))
    # (a launch that names cy's run anyway, past the form, is refused by admission: tests/test_admission.py)
    with pytest.raises(UserError, match=f"There is no run {done} of yours to report on"):
        report.chosen(s, [done], may_see=lambda run: run.owner == "bob")  # the Runs page's ui.may_see for bob
    digits = signed_in("bob", "bob-pass-123", "digits")
    assert "cy" not in everything_shown(digits) and not digits.get("imgs")  # cy's two drawings: not his
    cy = signed_in("cy", "cy-pass-123", "runs")  # the same addresses open them for their owner
    cy.query_params["run"] = str(done)
    cy.run()
    assert "cy-done" in everything_shown(cy) and f"del{done}" in {b.key for b in cy.button} and not cy.warning
    ada = signed_in("ada", "teacher-pass-1", "runs")  # and for a teacher
    ada.query_params["compare"] = f"{done}"
    ada.run()
    assert not ada.warning and "cy-done" in everything_shown(ada)
    if board == "on":
        for row in ISOLATION:
            print(" | ".join(row))


def test_a_watched_run_that_ended_keeps_its_curves_with_the_way_to_runs(store_with_run):
    run_id = store_with_run.runs()[0].id
    at = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.session_state["watched"] = run_id  # this page watched it run
    at.switch_page("pages/train.py").run()
    assert not at.exception
    said = [m.value for m in at.markdown if f"**{run_id}**" in m.value]
    assert said and "completed · checkpoint kept (best validation, epoch" in said[0]  # every number says what it is
    assert len(at.get("plotly_chart")) == 2
    assert not [s for s in at.subheader if s.value == "Recent runs"]  # shown once, above
    at.button(key=f"dismiss{run_id}").click().run()
    assert not any("checkpoint kept (best validation" in m.value for m in at.markdown)
    assert any(s.value == "Recent runs" for s in at.subheader)


def test_a_finished_group_stays_whole_with_each_runs_numbers_labelled(app_env, tiny_root):
    s = Store(app_env)
    ids = admission.queue(s, [TrainConfig(hidden=[16], epochs=2, device="cpu", name=n, lr=lr)
                              for n, lr in (("slow", 1e-4), ("fast", 3e-3))], tiny_root)
    workers.work(s, tiny_root)
    at = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.session_state["watched"] = ids[-1]  # the page watched the group's last run end
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert any(h.value == f"Runs {ids[0]}, {ids[1]}, queued together: all 2 finished" for h in at.subheader)
    for run_id in ids:
        run = s.get(run_id)
        line = next(m.value for m in at.markdown if m.value.startswith(f":material/check_circle: **{run_id}**"))
        assert f"checkpoint kept (best validation, epoch {run.best_epoch}): test {run.test_acc:.2%}" in line
        last = s.epochs(run_id)[-1]
        assert run.best_epoch == last["epoch"] or f"last epoch (2): test {last['test_acc']:.2%}" in line
    figure = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert {t["name"] for t in figure["data"] if "name" in t} == {f"{ids[0]}: slow", f"{ids[1]}: fast"}  # both overlaid
    assert not [h for h in at.subheader if h.value == "Recent runs"]  # both are above, not twice


def test_one_click_queues_a_course_experiment_whole(app_env):
    at = open_page("train")
    at.selectbox(key="group").set_value("Hidden sizes").run()
    assert any("100-50 against 30-5" in c.value for c in at.caption)
    at.button(key="compare").click().run()
    assert not at.error
    assert sorted(r.name for r in Store(app_env).runs()) == ["trial-100-50", "trial-30-5"]


def save_digits(root, labels, owner=""):
    from digitlab.datasets import handwriting
    from testkit import redraw
    from testkit.fixtures import official_test_digits

    x, y = official_test_digits(200)
    store = Store(root)
    for label in labels:
        i = int(np.flatnonzero(y == label)[0])
        handwriting.save(store, handwriting.image_png(redraw.redraw(x[i], 170, 50, 50, 2)), label, owner)
    return store


def test_my_digits_scores_every_model_and_relabels_and_deletes(store_with_run):
    store = save_digits(store_with_run.root, [0, 1, 2, 3, 7])
    at = open_page("digits")
    scores = at.dataframe[0].value
    assert list(scores["model"])[:2] == ["mlp-default (shipped)", "cnn-default (shipped)"]
    assert scores["your digits acc"][0] >= 80 and scores["MNIST test acc"][0] > 99  # percentages
    assert len(scores) == 3  # the two shipped models and the run with a checkpoint
    assert "Draw a few more of 0, 1, 2" in at.caption[1].value
    assert list(at.dataframe[1].value["label"]) == [0, 1, 2, 3, 7]  # the relabel table
    ids = [r["id"] for r in store.digits(images=False)]
    at.session_state["digit_edits"] = {"edited_rows": {0: {"label": 6}, 4: {"delete": True}}, "added_rows": [],
                                       "deleted_rows": []}
    at.run()
    at.button(key="apply_digits").click().run()
    assert not at.exception
    rows = {r["id"]: r["label"] for r in store.digits(images=False)}
    assert rows == {ids[0]: 6, ids[1]: 1, ids[2]: 2, ids[3]: 3}
    at.session_state["digit_edits"] = {"edited_rows": {0: {"label": 42}, 1: {"label": "x"}}, "added_rows": [],
                                       "deleted_rows": []}  # what a scripted browser could send
    at.run()
    assert "is not a digit label" in at.error[0].value and at.button(key="apply_digits").disabled
    at.session_state["digit_edits"] = {"edited_rows": {}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="ft_launch").click().run()  # four digits left: too few to hold some out
    assert "needs at least 10 saved digits, and you have 4" in at.error[0].value
    save_digits(store_with_run.root, [4, 5, 6, 8, 9, 0])
    at.button(key="ft_launch").click().run()
    queued = store.runs(Status.QUEUED)
    assert [r.config["start_from"] for r in queued] == ["mlp-default"] and queued[0].config["my_digits"] == 0.5
    runs = open_page("runs")
    assert "your digits acc" in runs.dataframe[0].value.columns
    runs.segmented_control(key="scored_on").set_value("My digits").run()
    assert not runs.exception and runs.metric[0].label == "Accuracy"


def test_my_digits_without_any_invites_to_draw(app_env):
    at = open_page("digits")
    assert "No digits yet" in at.info[0].value


EVERY_SETTING = dict(name="my run", model="cnn", hidden=[100, 20], channels=[8, 16], kernel=3, convs=2,
                     optimizer="momentum", batch_size=32, epochs=7, lr=0.0125, device="cpu", dropout=0.3,
                     norm_layer="batch",
                     input_norm="symmetric", weight_decay=1e-4, label_smoothing=0.05, rotate=10.0, shear=5.0,
                     scale=0.1, translate=2.0, elastic=1.5, thickness=0.3, momentum=0.8, nesterov=True, ema=0.99,
                     schedule="step", step_size=3, gamma=0.3, precision="bf16", seed=42, shuffle=False,
                     start_from="mlp-default", my_digits=0.5, fonts=0.1, val_size=5_000, teacher="cnn-default",
                     distill=0.3)


def test_the_train_form_round_trips_through_the_address(app_env):
    """A link holding every setting fills every field of the form, and the page writes the same address back."""
    from digitlab.learn.config import NAMES, to_query

    config = TrainConfig(**EVERY_SETTING)
    assert set(EVERY_SETTING) == set(NAMES)
    at = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60)
    at.query_params.update(to_query(config))
    at.switch_page("pages/train.py").run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    for name, value in EVERY_SETTING.items():
        shown = at.session_state[f"f_{name}"]
        assert (shown == ", ".join(map(str, value)) if isinstance(value, list) else shown == value), name
    assert {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()} == to_query(config)
    at.number_input(key="f_epochs").set_value(9).run()  # the address follows the form
    assert at.query_params["epochs"] in ("9", ["9"])
    code = next(c.value for c in at.code)
    assert code.startswith("digitlab train --name 'my run' --model cnn") and "--epochs 9" in code


def test_a_bad_link_is_one_sentence_and_the_defaults(app_env):
    at = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60)
    at.query_params.update({"lr": "fast", "epochs": "3"})
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert any("Learning rate in the address must be a number" in e.value for e in at.error)
    assert at.session_state["f_lr"] == TrainConfig().lr and at.session_state["f_epochs"] == TrainConfig().epochs


def test_the_range_test_button_fills_the_learning_rate(app_env):
    at = open_page("train")
    at.text_input(key="f_hidden").set_value("16").run()
    at.button(key="lr_find").click().run()
    assert not at.exception, at.exception
    use = at.button(key="use_lr")
    value = float(use.label.split()[1])
    assert 1e-6 <= value <= 10
    use.click().run()
    assert at.session_state["f_lr"] == value and not any(b.key == "use_lr" for b in at.button)


def test_inside_page_shows_first_layers_of_a_run_and_a_shipped_model(store_with_run):
    at = open_page("inside")
    assert not at.exception, at.exception
    a, b = at.selectbox(key="first_a"), at.selectbox(key="first_b")
    assert a.value != b.value and "mlp-default (shipped)" in a.options
    run_key = "run:1"
    b.set_value("mlp-default").run()
    a.set_value(run_key).run()
    slider = at.select_slider(key="first-a-epoch")
    assert slider.options == ["before training", "1", "2"]  # every epoch it kept, and the start
    slider.set_value(0).run()
    assert not at.exception
    assert at.query_params["a"] in (run_key, [run_key])
    at.selectbox(key="first_a").set_value("cnn-default").run()  # the shipped CNN: its kernels, their own size
    captions = [i.caption for e in at.main if type(e).__name__ == "Image" for i in e.proto.imgs]
    assert any("32 first conv kernels (3×3)" in c for c in captions), captions


def test_sweeps_page_queues_a_sweep_and_shows_its_trials(app_env, tiny_root):
    from digitlab.runs import sweep

    at = open_page("sweeps")
    at.text_area(key="sweep_text").set_value("trials = 70\n[search.lr]\nlow = 0.1\nhigh = 1.0\n")
    at.button(key="queue_sweep").click().run()
    assert any("trials must be a whole number from 1 to 64" in e.value for e in at.error)  # one sentence, nothing
    s = Store(app_env)
    assert s.sweeps() == []
    text = ('name = "page sweep"\ntrials = 3\nsampler = "random"\nprune = false\n[fixed]\nhidden = "8"\nepochs = 1\n'
            'device = "cpu"\n[search.lr]\nlow = 1e-4\nhigh = 0.1\nlog = true\n')
    at.text_area(key="sweep_text").set_value(text)
    at.button(key="queue_sweep").click().run()
    assert not at.exception, at.exception
    (row,) = s.sweeps()
    while s.get_sweep(row.id).status == "running":  # the supervisor's part, here in the test
        sweep.advance(s, row.id)
        workers.work(s, tiny_root)
    at.run()
    assert not at.exception, at.exception
    assert any(e.value.startswith("Best so far: trial") for e in at.success)
    assert at.query_params["sweep"] in (str(row.id), [str(row.id)])
    charts = at.get("plotly_chart")
    assert len(charts) >= 2, [type(e).__name__ for e in at.main]  # Optuna's history and parallel coordinates


def test_the_train_form_hands_a_sweep_of_itself_to_the_sweeps_page(app_env):
    from digitlab.runs import sweep

    at = open_page("train")
    at.selectbox(key="preset").set_value("nmlp-30-5").run()
    at.button(key="to_sweep").click().run()
    assert not at.exception, at.exception
    text = at.text_area(key="sweep_text").value
    spec = sweep.parse(text)
    assert spec.base["hidden"] == [30, 5] and spec.base["norm_layer"] == "layer" and spec.base["epochs"] == 3
    assert [p.name for p in spec.params] == ["lr", "optimizer"] and spec.params[0].low == pytest.approx(0.001)


def test_a_link_to_a_preset_fills_the_preset_then_its_changes(app_env):
    at = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60)
    at.query_params.update({"preset": "compare-sgd", "epochs": "5", "lr": "0.1"})
    at.switch_page("pages/train.py").run()
    assert not at.exception and not at.error
    assert at.session_state["preset"] == "compare-sgd" and at.session_state["f_optimizer"] == "sgd"
    assert at.session_state["f_hidden"] == "128, 64" and at.session_state["f_epochs"] == 5
    assert TrainConfig().epochs == 10 != preset_epochs("compare-sgd")
    at.number_input(key="f_epochs").set_value(10).run()  # the default, but not the preset's: it stays in the address
    got = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert got == {"preset": "compare-sgd", "epochs": "10", "lr": "0.1"}
    bad = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60)
    bad.query_params.update({"preset": "<script>"})
    bad.switch_page("pages/train.py").run()
    assert any("The address names an unknown preset" in e.value for e in bad.error)


def preset_epochs(name: str) -> int:
    from digitlab.learn.presets import preset

    return preset(name).epochs


def test_a_run_that_did_not_learn_is_left_out_of_draw_unless_asked_and_named_on_runs(store_with_run, tiny_root):
    stuck = store_with_run.create(TrainConfig(hidden=[16], epochs=3, device="cpu", optimizer="sgd", lr=1e-9,
                                              name="stuck"))
    workers.work(store_with_run, tiny_root)
    assert store_with_run.get(stuck).health["flag"] == "not learning"
    at = open_page("draw")
    assert not any("stuck" in o for o in at.selectbox(key="draw_model").options)
    at.checkbox(key="draw_flagged").check().run()
    assert any(o.startswith(f"run {stuck}: stuck") and o.endswith("⚠ not learning")
               for o in at.selectbox(key="draw_model").options)
    at = open_page("runs")
    assert "not learning ⚠" in at.dataframe[0].value["status"].tolist()
    at.multiselect(key="compare_runs").select(f"{stuck}: stuck").run()
    assert any(f"Run {stuck} not learning: validation accuracy" in w.value for w in at.warning)


def test_the_queue_says_how_many_train_at_once_and_prices_at_the_measured_pace(store_with_run):
    done = store_with_run.runs()[0]
    store_with_run.update(done.id, train_seconds=40 * progress.estimated_seconds(done))  # a slow machine
    waiting = store_with_run.create(TrainConfig(hidden=[16], epochs=2, device="cpu", name="next"))
    at = open_page("train")
    line = next(c.value for c in at.caption if "training slot" in c.value)
    assert f"{workers.slot_count()} training slot" in line and "5x the model's) over its last 1 completed run" in line
    expected = progress.estimated_seconds(store_with_run.get(waiting)) * progress.PACE_LIMITS[1] / 60
    assert any(f"about {cost.duration(expected)}" in m.value for m in at.markdown if "**" + str(waiting) in m.value)


def test_a_lesson_checks_an_answer_against_your_runs_and_remembers_it_after_a_restart(app_env):
    from tests.test_lessons import fake_run

    s = Store(app_env)
    at = open_page("lessons")
    at.selectbox(key="lesson").set_value("3. Optimizers").run()
    assert "compare-sgd, compare-momentum, compare-adam" in everything_shown(at)  # the runs to launch, named
    at.button(key="lesson_launch").click().run()
    queued = s.runs(Status.QUEUED)
    assert not at.exception and sorted(r.name for r in queued) == ["compare-adam", "compare-momentum", "compare-sgd"]
    for r in queued:
        s.delete(r.id)
    fake_run(s, "compare-sgd", [0.90, 0.971])
    fake_run(s, "compare-momentum", [0.93, 0.972])
    fake_run(s, "compare-adam", [0.971, 0.98], test_acc=0.981)
    at = open_page("lessons")
    at.selectbox(key="lesson").set_value("3. Optimizers").run()
    at.radio(key="a:3-optimizers/first-97").set_value("compare-sgd").run()
    at.button(key="check:3-optimizers/first-97").click().run()
    hint = [w.value for w in at.warning if w.value.startswith("Not quite. Hint:")]
    assert not at.exception and hint and "Adam" not in hint[0] and not at.error  # a first wrong answer: a hint
    at.button(key="show:3-optimizers/first-97").click().run()  # "Show me the answer"
    assert at.error and at.error[0].value.startswith("Not quite: the answer is Adam. ")
    at.radio(key="a:3-optimizers/first-97").set_value("compare-adam").run()
    at.button(key="check:3-optimizers/first-97").click().run()
    assert at.success and "Adam at epoch 1" in at.success[0].value
    again = open_page("lessons")  # a new session, as after a restart: the answer is kept
    again.selectbox(key="lesson").set_value("3. Optimizers").run()
    assert "You answered Adam: right (2 tries)" in everything_shown(again)
    again.radio(key="a:3-optimizers/first-97").set_value("compare-sgd").run()
    again.button(key="check:3-optimizers/first-97").click().run()  # a later wrong click: done stays done
    assert {a["question"]: a for a in s.answers("")}["first-97"]["correct"]
    later = open_page("lessons")
    later.selectbox(key="lesson").set_value("3. Optimizers").run()
    assert "You answered Adam: right (3 tries)" in everything_shown(later)
    assert again.query_params["lesson"] == ["3"] or again.query_params["lesson"] == "3"


def test_a_teacher_opens_lessons_one_at_a_time_and_sees_each_student_s_progress(classroom):
    bob = signed_in("bob", "bob-pass-123", "lessons")
    assert "Your teacher has not opened a lesson yet" in everything_shown(bob)
    ada = signed_in("ada", "teacher-pass-1", "classroom")
    ada.toggle(key="open:1-data").set_value(True).run()
    assert classroom.open_lessons() == ["1-data"]
    bob = signed_in("bob", "bob-pass-123", "lessons")
    assert bob.selectbox(key="lesson").options == ["1. The data"]  # only the lesson opened
    bob.radio(key="a:1-data/chooses").set_value("val").run()
    bob.button(key="check:1-data/chooses").click().run()
    assert bob.success and "Validation chooses" in bob.success[0].value
    ada = signed_in("ada", "teacher-pass-1", "classroom")
    progress = ada.dataframe[1].value
    assert list(progress["name"]) == ["bob", "cy"] and list(progress["1. The data"]) == ["1/2", "0/2"]
    assert "validation" in ada.dataframe[2].value.to_string() and "bob" in ada.dataframe[2].value.to_string()


def test_a_lesson_opens_the_train_form_with_only_its_settings_in_view(app_env):
    at = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60)
    at.query_params["lesson"] = "3"
    at.query_params["preset"] = "compare-sgd"
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    shown = {w.label for kind in ("selectbox", "number_input", "text_input", "slider", "checkbox", "toggle")
             for w in at.sidebar.get(kind)}
    assert {"Optimizer", "Learning rate", "Momentum", "Epochs"} <= shown and "Dropout" not in shown
    assert at.toggle(key="lesson_only").value and at.query_params["lesson"] in (["3"], "3")
    at.toggle(key="lesson_only").set_value(False).run()  # every setting again
    assert "Dropout" in {w.label for kind in ("number_input", "slider") for w in at.sidebar.get(kind)}


def test_a_damaged_checkpoint_breaks_its_own_row_and_can_be_deleted(store_with_run, tiny_root):
    s = store_with_run
    broken = s.runs()[0]
    good = s.create(TrainConfig(hidden=[8], epochs=1, device="cpu", name="fine"))
    workers.work(s, tiny_root)
    Path(broken.checkpoint).write_bytes(b"half a file" * 10)  # a disk error, a copy cut short
    save_digits(s.root, [0, 1, 2])
    digits = open_page("digits")
    scores = digits.dataframe[0].value
    assert len(scores) == 4 and scores["your digits acc"].notna().sum() == 3  # the shipped models and the good run
    assert scores["model"].tolist()[-1].endswith("⚠ unreadable")
    said = [w.value for w in digits.warning if "cannot be read" in w.value]
    assert said == [markdown.as_text(f"Run {broken.id}'s checkpoint cannot be read (damaged or gone): delete the run, "
                                     "then train it again.")]
    runs = open_page("runs")
    status = dict(zip(runs.dataframe[0].value["id"], runs.dataframe[0].value["status"]))
    assert "checkpoint unreadable" in status[broken.id] and "unreadable" not in status[good]
    runs.selectbox(key="details_run").set_value(f"{broken.id}: {broken.name}").run()
    assert not runs.exception
    assert [e.value for e in runs.error] == said and str(s.root) not in said[0]
    runs.button(key=f"del{broken.id}").click().run()
    assert [r.id for r in s.runs()] == [good] and not s.run_dir(broken.id).exists()


def test_a_full_disk_leaves_every_page_readable_and_the_door_open(small_disk, tiny_root, monkeypatch, class_roster):
    from digitlab.classroom import roster
    from testkit import disk

    monkeypatch.setenv("DIGITLAB_RUNS", str(small_disk / "runs"))
    monkeypatch.setenv("DIGITLAB_DATA", str(tiny_root))
    s = Store(small_disk / "runs")
    rid = s.create(TrainConfig(hidden=[16], epochs=1, device="cpu", name="kept"))
    workers.work(s, tiny_root)
    save_digits(s.root, [1, 2, 3])
    disk.fill(small_disk)
    for page in ("runs", "train", "draw", "digits", "data", "inside", "sweeps", "lessons"):
        at = open_page(page)
        assert not [e.value for e in at.error if "damaged" in e.value], page
        assert [w.value for w in at.warning if w.value.startswith("The disk holding")], page  # said on every page
    assert "kept" in open_page("runs").dataframe[0].value["name"].tolist() and s.get(rid).checkpoint
    door = roster.SignIn(class_roster, Store(small_disk / "runs"))  # the store takes no count: this server does
    assert door("bob", "student-pass-1", "10.0.0.3").name == "bob"


def test_a_full_disk_is_named_to_a_teacher_with_its_folder_and_to_a_student_without(classroom, monkeypatch):
    from digitlab import files

    monkeypatch.setattr(files, "disk_full", lambda folder: True)
    ada = signed_in("ada", "teacher-pass-1", "runs")
    assert any(w.value.startswith("The disk holding") and "free at least" in w.value for w in ada.warning)
    bob = signed_in("bob", "bob-pass-123", "runs")
    said = [w.value for w in bob.warning if "disk" in w.value]
    assert len(said) == 1 and "tell your teacher" in said[0] and str(classroom.root) not in said[0]


def test_runs_opens_on_the_splits_and_the_measure_a_lesson_links_with(store_with_run):
    at = AppTest.from_file(str(PROJECT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/runs.py")
    at.query_params.update({"splits": "train,val", "on": "val", "compare": "1"})
    at.run()
    assert not at.exception
    assert at.segmented_control[0].label == "Splits" and at.segmented_control[0].value == ["train", "val"]
    assert [s.value for s in at.selectbox if s.label == "Accuracy on"] == ["val"]
    at.query_params.update({"splits": "val,val,test," + "x" * 3000, "on": "<b>"})  # hand-made, or hostile
    at.run()
    assert not at.exception and at.segmented_control[0].value == ["val", "test"]
    assert [s.value for s in at.selectbox if s.label == "Accuracy on"] == ["test"]


def test_a_newcomer_is_told_what_digitlab_is_and_where_the_course_starts(app_env):
    at = open_page()
    assert at.title[0].value == "Draw a digit"
    assert any(m.value.startswith("**digitlab** trains small neural networks") for m in at.markdown)
    links = [link.proto for link in at.get("page_link")]
    assert any(p.label == "Start: Lesson 1" and p.page.endswith("lessons") and "lesson=1" in p.query_string
               for p in links), links
    Store(app_env).record_answer("", "1-data", "chooses", "val", True)  # no longer new
    assert not any(m.value.startswith("**digitlab** trains") for m in open_page().markdown)
