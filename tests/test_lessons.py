"""Lessons: every shipped lesson loads; every question is marked right and wrong from a store of fixture runs whose
numbers decide it; a missing run is named; a bad lesson file is one sentence; progress survives a new Store."""

import json
from pathlib import Path

import pytest

from digitlab import UserError
from digitlab.course import lessons
from digitlab.learn.presets import preset
from digitlab.runs.runner import workers
from digitlab.runs.store import Status, Store


def fake_run(store: Store, name: str, val_accs, val_losses=None, test_acc=None, train_accs=None, owner="") -> int:
    """A completed run of a preset with these per-epoch figures, as a worker would have stored it."""
    run_id = store.create(preset(name), owner=owner)  # the lesson's own settings: figures of its first epochs
    for k, acc in enumerate(val_accs):
        store.add_epoch(run_id, dict(epoch=k + 1, train_loss=0.5, train_acc=(train_accs or val_accs)[k],
                                     val_loss=(val_losses or [1 - a for a in val_accs])[k], val_acc=acc,
                                     test_loss=0.3, test_acc=acc, seconds=1.0, lr=1e-3))
    store.finish(run_id, Status.COMPLETED, best_epoch=1, best_val_acc=max(val_accs),
                 test_acc=test_acc if test_acc is not None else max(val_accs), num_params=1)
    return run_id


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "runs")
    fake_run(s, "compare-sgd", [0.90, 0.95, 0.96, 0.971], test_acc=0.972)
    fake_run(s, "compare-momentum", [0.93, 0.965, 0.972, 0.975], test_acc=0.978)
    fake_run(s, "compare-adam", [0.95, 0.971, 0.975, 0.976], test_acc=0.970)
    fake_run(s, "epochs-10", [0.96, 0.97, 0.975, 0.974], val_losses=[0.2, 0.1, 0.08, 0.09])
    fake_run(s, "epochs-3", [0.96, 0.97, 0.975], train_accs=[0.96, 0.99, 0.999])
    fake_run(s, "epochs-1", [0.96], train_accs=[0.95])
    fake_run(s, "trial-100-50", [0.97], test_acc=0.975)
    fake_run(s, "trial-30-5", [0.93], test_acc=0.931)
    fake_run(s, "dropout-0.2", [0.96, 0.975], test_acc=0.98)
    fake_run(s, "dropout-0.4", [0.95, 0.969], test_acc=0.974)
    fake_run(s, "dropout-0.6", [0.90, 0.95], test_acc=0.96)
    fake_run(s, "seed-assignment", [0.97, 0.981], test_acc=0.9812)
    fake_run(s, "nmlp-30-5", [0.92], test_acc=0.915)
    return s


# What the fixture runs decide, for every shipped question but those that need a checkpoint or My digits (below).
EXPECTED = {("3-optimizers", "first-97"): "compare-adam", ("3-optimizers", "ends-best"): "compare-momentum",
            ("4-how-long", "turns-up"): "4", ("4-how-long", "gap"): "epochs-3", ("5-how-wide", "wider"): "trial-100-50",
            ("5-how-wide", "params-narrow"): "23765", ("6-regularization", "best-dropout"): "dropout-0.2",
            ("6-regularization", "first-97"): "dropout-0.2", ("2-first-network", "params"): "118282",
            ("2-first-network", "reached"): "yes", ("1-data", "held-out"): "12000", ("1-data", "chooses"): "val",
            ("7-reading-results", "recall"): "truth", ("6-regularization", "layernorm"): "trial-30-5",
            ("8-your-handwriting", "held-back"): "measure"}


def question(lesson_id: str, qid: str) -> lessons.Question:
    lesson = next(lesson for lesson in lessons.all_lessons() if lesson.id == lesson_id)
    return next(q for q in lesson.questions if q.id == qid)


def test_the_eight_lessons_load_in_order_and_every_question_is_covered_here():
    shipped = lessons.all_lessons()
    assert [lesson.number for lesson in shipped] == list(range(1, 9))
    every = {(lesson.id, q.id) for lesson in shipped for q in lesson.questions}
    assert every == set(EXPECTED) | {("7-reading-results", "hardest"), ("8-your-handwriting", "closed")}


def _wrong(q: lessons.Question, right: str) -> str:
    if q.kind == "number":
        return str(float(right) + q.tolerance + 1)
    return next(k for k in q.choices if k != right)


@pytest.mark.parametrize("lesson_id,qid", sorted(EXPECTED))
def test_every_question_is_right_and_wrong_by_the_learner_s_runs(store, lesson_id, qid):
    q = question(lesson_id, qid)
    right = EXPECTED[(lesson_id, qid)]
    marked = lessons.mark(q, lessons.clean(q, right), store, None)
    assert marked.correct and marked.reason, marked
    wrong = lessons.mark(q, lessons.clean(q, _wrong(q, right)), store, None)
    assert not wrong.correct and wrong.reason == marked.reason


def test_the_largest_gap_is_training_minus_validation_in_points(store):
    marked = lessons.mark(question("4-how-long", "gap"), "epochs-3", store, None)
    assert marked.correct and "+2.40 points" in marked.reason and "-1.00 points" in marked.reason


def test_the_runs_decide_not_a_key(store):
    q = question("3-optimizers", "first-97")
    assert lessons.mark(q, "compare-adam", store, None).correct
    fake_run(store, "compare-sgd", [0.971, 0.98], test_acc=0.99)  # a newer SGD run, first at epoch 1
    marked = lessons.mark(q, "compare-adam", store, None)
    assert not marked.correct and marked.expected == "SGD" and "SGD at epoch 1" in marked.reason
    assert lessons.mark(question("3-optimizers", "ends-best"), "compare-sgd", store, None).correct


def test_a_validation_loss_that_never_turned_up_answers_0(store):
    q = question("4-how-long", "turns-up")
    fake_run(store, "epochs-10", [0.96, 0.97, 0.975], val_losses=[0.2, 0.1, 0.08])  # the newest run: still falling
    marked = lessons.mark(q, "0", store, None)
    assert marked.correct and "never turned up" in marked.reason and "0.0800 at epoch 3" in marked.reason
    fake_run(store, "epochs-10", [0.96, 0.97, 0.96], val_losses=[0.3, 0.1, 0.2])  # lowest at epoch 2, up at 3
    marked = lessons.mark(q, "3", store, None)
    assert marked.correct and marked.reason == ("Your run's validation loss was lowest at epoch 2 (0.1000) and higher "
                                                "at epoch 3 (0.2000): it turned up there.")


def test_an_answer_is_kept_only_when_it_was_marked(store):
    """lessons.answer, the Lessons page's and the CLI's one way to answer: checked, marked, kept under the person."""
    lesson = next(lesson for lesson in lessons.all_lessons() if lesson.id == "3-optimizers")
    q = next(q for q in lesson.questions if q.id == "first-97")
    with pytest.raises(UserError, match="Answer with one of"):
        lessons.answer(lesson, q, "rmsprop", store, "bob", None)
    with pytest.raises(lessons.Missing, match="^Your runs do not answer this yet: launch compare-sgd, "):
        lessons.answer(lesson, q, "Adam", store, "bob", "bob")  # bob has no runs of his own
    assert store.answers("bob") == []
    assert lessons.answer(lesson, q, "Adam", store, "bob", None).correct
    assert [(a["question"], a["answer"], a["correct"]) for a in store.answers("bob")] == [("first-97", "compare-adam", True)]


def test_a_missing_run_is_named_and_a_learner_sees_only_their_own(store, tmp_path):
    q = question("3-optimizers", "first-97")
    empty = Store(tmp_path / "other")
    fake_run(empty, "compare-adam", [0.98])
    with pytest.raises(lessons.Missing) as missing:
        lessons.mark(q, "compare-adam", empty, None)
    assert missing.value.presets == ["compare-sgd", "compare-momentum"]
    lesson = next(lesson for lesson in lessons.all_lessons() if lesson.id == "3-optimizers")
    assert lessons.missing_runs(lesson, empty, None) == ["compare-sgd", "compare-momentum"]
    assert lessons.missing_runs(lesson, store, "bob") == ["compare-sgd", "compare-momentum", "compare-adam"]
    with pytest.raises(lessons.Missing, match="fine-tune on My digits"):
        lessons.mark(question("8-your-handwriting", "closed"), "yes", store, None)


def test_lowest_recall_is_read_from_the_run_s_own_checkpoint(tmp_path, tiny_root):
    from digitlab.datasets import data
    from digitlab.learn import evaluation, checkpoint

    s = Store(tmp_path / "runs")
    rid = s.create(preset("compare-adam", epochs=1, device="cpu"))
    workers.work(s, tiny_root)
    s.update(rid, config=json.dumps(preset("compare-adam").to_dict()))  # as if it had run the lesson's 25 epochs
    mnist = data.load(tiny_root)
    per = evaluation.evaluate_checkpoint(checkpoint.load(s.runs()[0].checkpoint), mnist)["per_class"][:10]
    lowest = str(min(per, key=lambda r: (r["recall"], r["digit"]))["digit"])
    q = question("7-reading-results", "hardest")
    assert lessons.mark(q, lowest, s, None, mnist=lambda: mnist).correct
    assert not lessons.mark(q, str((int(lowest) + 1) % 10), s, None, mnist=lambda: mnist).correct


def test_the_fine_tune_question_reads_what_the_fine_tune_recorded(store):
    from digitlab.runs.runner.execution import MY_DIGITS

    run_id = fake_run(store, "fast", [0.98])
    store.update(run_id, config=json.dumps(preset("fast", my_digits=0.5).to_dict()))
    folder = store.run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MY_DIGITS).write_text(json.dumps({"trained": [1, 2], "held_out": [3, 4, 5, 6],
                                                "before": {"held_out_acc": 0.5}, "after": {"held_out_acc": 0.75}}))
    marked = lessons.mark(question("8-your-handwriting", "closed"), "yes", store, None)
    assert marked.correct and "50.0% before the fine-tune, 75.0% after (up)" in marked.reason


@pytest.mark.parametrize("answer,said", [("", "^Choose one of: SGD, momentum, Adam, none of them\\.$"), ("x" * 101, "1 to 100 characters"),
                                         (["Adam"], "text or a number"), (True, "text or a number"),
                                         ("Adamw", "Answer with one of: SGD, momentum, Adam"),
                                         ("<b>Adam</b>", "Answer with one of")])
def test_an_answer_is_checked_before_anything_reads_it(answer, said):
    with pytest.raises(UserError, match=said):
        lessons.clean(question("3-optimizers", "first-97"), answer)
    assert lessons.clean(question("3-optimizers", "first-97"), " adam ") == "compare-adam"  # a label, any case
    for bad in ("twelve", "nan", "1e999"):
        with pytest.raises(UserError):
            lessons.clean(question("2-first-network", "params"), bad)
    assert lessons.clean(question("2-first-network", "params"), "118,282") == "118282"


GOOD = """number = 9
title = "Mine"
page = "train"
text = "A lesson of mine."
[[questions]]
id = "q"
ask = "Which?"
kind = "choice"
check = "best_checkpoint"
presets = ["trial-100-50", "trial-30-5"]
choices = { "trial-100-50" = "wide", "trial-30-5" = "narrow" }
"""


QUESTION = """
[[questions]]
id = "q2"
ask = "How many?"
kind = "number"
check = "params"
presets = ["trial-30-5"]
"""


@pytest.mark.parametrize("change,said", [
    (("page = \"train\"", "page = \"nowhere\""), "page must be one of"),
    (("number = 9", "number = \"nine\""), "number must be a whole number"),
    (("check = \"best_checkpoint\"", "check = \"import os\""), "check must be one of"),
    (("presets = [\"trial-100-50\", \"trial-30-5\"]", "presets = [\"trial-100-50\"]"), "reads 2 or more preset"),
    (("presets = [\"trial-100-50\", \"trial-30-5\"]", "presets = [\"no-such\", \"trial-30-5\"]"), "preset names"),
    (("title = \"Mine\"", "title = \"Mine\"\nsecret = 1"), "unknown key 'secret'"),
    (("kind = \"choice\"", "kind = \"essay\""), "kind must be one of"),
    (("page = \"train\"", "page = \"train\"\nlaunch = [\"nope\", \"fast\", \"also-nope\"]"),
     "launch names 'nope', which is not a preset"),
    (("page = \"train\"", "page = \"train\"\ncontrols = [\"lr\", \"nope\"]"), "controls names 'nope', which is not a setting"),
    (("ask = \"Which?\"", "ask = \"Which?\"\nsecret = 1"), "a question has an unknown key 'secret'"),
    (("[[questions]]", "[[questions]"), "not valid TOML"),
    (("check = \"best_checkpoint\"\npresets = [\"trial-100-50\", \"trial-30-5\"]",
      "check = \"lowest_recall\"\npresets = []"), "reads 1 preset"),
    (("\"narrow\" }\n", "\"narrow\" }\n" + QUESTION.replace('id = "q2"', 'id = "q"')), "two questions share an id"),
])
def test_a_bad_lesson_file_is_one_sentence_naming_it(tmp_path, change, said):
    path = tmp_path / "9-mine.toml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(UserError, match=rf"^Lesson file 9-mine\.toml: .*{said}"):
        lessons.load(path)
    path.write_text(GOOD)
    assert lessons.load(path).questions[0].choices == {"trial-100-50": "wide", "trial-30-5": "narrow"}


def test_two_lessons_with_one_number_are_one_sentence_and_a_lesson_is_read_only(tmp_path):
    import dataclasses

    (tmp_path / "9-mine.toml").write_text(GOOD)
    lesson = lessons.all_lessons(tmp_path)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        lesson.number = 3  # shared by every session of the server: nobody's page may change it
    (tmp_path / "9-again.toml").write_text(GOOD)
    with pytest.raises(UserError, match=r"^Two lesson files in .* have number 9: give each its own\.$"):
        lessons.all_lessons(tmp_path)


def test_a_lesson_holds_1_to_10_questions_and_a_target_defaults_to_97(tmp_path):
    path = tmp_path / "9-mine.toml"
    path.write_text(GOOD + "".join(QUESTION.replace('"q2"', f'"n{k}"') for k in range(9)))
    lesson = lessons.load(path)
    assert len(lesson.questions) == 10 and lesson.questions[0].target == 0.97 and lesson.questions[1].tolerance == 0
    path.write_text(GOOD + "".join(QUESTION.replace('"q2"', f'"n{k}"') for k in range(10)))
    with pytest.raises(UserError, match="give 1 to 10"):
        lessons.load(path)


def test_oversized_and_misnamed_files_are_refused_before_they_are_read(tmp_path):
    big = tmp_path / "9-big.toml"
    big.write_bytes(b"#" * (lessons.MAX_FILE + 1))
    with pytest.raises(UserError, match="over the limit of 65,536"):
        lessons.load(big)
    odd = tmp_path / "My Lesson.toml"
    odd.write_text(GOOD)
    with pytest.raises(UserError, match="lowercase letters, digits and dashes"):
        lessons.load(odd)


def test_progress_survives_a_new_store_and_counts_tries(tmp_path):
    s = Store(tmp_path / "runs")
    s.record_answer("", "3-optimizers", "first-97", "compare-sgd", False)
    s.record_answer("", "3-optimizers", "first-97", "compare-adam", True)
    s.record_answer("bob", "1-data", "chooses", "test", False)
    again = Store(tmp_path / "runs")  # as after a restart
    mine = again.answers("")
    assert [(a["question"], a["answer"], a["correct"], a["tries"]) for a in mine] == [
        ("first-97", "compare-adam", True, 2)]
    assert {a["owner"] for a in again.answers()} == {"", "bob"}
    assert again.open_lessons() is None
    again.set_open_lessons(["3-optimizers", "1-data"])
    assert Store(tmp_path / "runs").open_lessons() == ["1-data", "3-optimizers"]


def test_the_lessons_folder_holds_only_lessons():
    assert sorted(p.suffix for p in Path(lessons.FOLDER).iterdir()) == [".toml"] * 8


def test_the_cli_lists_shows_answers_and_remembers(store, capsys, monkeypatch):
    from digitlab.cli import main

    monkeypatch.setenv("DIGITLAB_RUNS", str(store.root))
    assert main(["lessons", "3", "--answer", "first-97=Adam", "--answer", "ends-best=sgd"]) == 0
    out = capsys.readouterr().out
    assert "first-97: right: Adam. In your runs validation accuracy first reached 97%: SGD at epoch 4" in out
    assert "ends-best: not quite. Hint: Compare the test accuracy of each run's kept checkpoint" in out
    assert main(["lessons", "3", "--answer", "ends-best=sgd"]) == 0  # a second try: the answer, with its reason
    assert "ends-best: not quite: momentum." in capsys.readouterr().out
    assert main(["lessons"]) == 0
    assert "3. Optimizers                   1/2 answered right" in capsys.readouterr().out
    assert main(["lessons", "3"]) == 0
    assert "first-97: Which optimizer first reached 97%" in capsys.readouterr().out
    for argv, said in ((["lessons", "9"], "There is no lesson 9"), (["lessons", "3", "--answer", "nope=1"],
                       "has no question 'nope'"), (["lessons", "1", "--launch"], "has no runs to launch"),
                       (["lessons", "3", "--answer", "first-97=Adamw"], "Answer with one of")):
        assert main(argv) == 2
        assert said in capsys.readouterr().err


def test_a_tie_accepts_every_tied_answer_and_says_it_is_a_tie(tmp_path):
    s = Store(tmp_path / "runs")
    fake_run(s, "compare-sgd", [0.90, 0.95, 0.96], test_acc=0.96)
    fake_run(s, "compare-momentum", [0.93, 0.971, 0.975], test_acc=0.978)
    fake_run(s, "compare-adam", [0.95, 0.972, 0.976], test_acc=0.978)  # both first reach 97% at epoch 2
    for qid in ("first-97", "ends-best"):
        q = question("3-optimizers", qid)
        for tied in ("compare-momentum", "compare-adam"):
            marked = lessons.mark(q, tied, s, None)
            assert marked.correct and "A tie: momentum" in marked.reason and "so each of them is right" in marked.reason
            assert marked.expected == f"{q.choices['compare-momentum']} or {q.choices['compare-adam']}"
        assert not lessons.mark(q, "compare-sgd", s, None).correct


def test_a_first_wrong_answer_gets_a_hint_then_the_answer(store):
    lesson = next(x for x in lessons.all_lessons() if x.id == "3-optimizers")
    q = question("3-optimizers", "first-97")
    first = lessons.answer(lesson, q, "compare-sgd", store, "bob", None)
    assert not first.correct and first.tries == 1 and not lessons.shows_answer(first)
    assert "validation accuracy epoch by epoch" in first.hint and "compare-adam" not in first.hint
    assert lessons.shows_answer(first, asked=True)  # "Show me"
    second = lessons.answer(lesson, q, "compare-momentum", store, "bob", None)
    assert not second.correct and second.tries == 2 and lessons.shows_answer(second)


def test_a_question_once_right_stays_right(store):
    lesson = next(x for x in lessons.all_lessons() if x.id == "3-optimizers")
    q = question("3-optimizers", "first-97")
    assert lessons.answer(lesson, q, "compare-adam", store, "bob", None).correct
    assert not lessons.answer(lesson, q, "compare-sgd", store, "bob", None).correct  # a later wrong click
    kept = {a["question"]: a for a in store.answers("bob")}["first-97"]
    assert kept["correct"] and kept["answer"] == "compare-adam" and kept["tries"] == 2


def test_a_question_whose_run_still_trains_says_so(store):
    store.create(preset("epochs-1"), owner="")  # queued
    s = store
    q = question("4-how-long", "gap")
    for r in s.runs():
        if r.config["name"] == "epochs-1" and r.status is Status.COMPLETED:
            s.delete(r.id)
    with pytest.raises(lessons.Missing, match=r"^Your runs do not answer this yet: epochs-1 is still training: come "
                                              r"back when it finishes\.$"):
        lessons.mark(q, "epochs-3", s, None)


def test_a_run_with_other_settings_never_decides_and_says_what_differs(store):
    q = question("3-optimizers", "first-97")
    assert lessons.mark(q, "compare-adam", store, None).correct
    short = fake_run(store, "compare-adam", [0.99, 0.995])  # newer, and would answer otherwise ...
    store.update(short, config=json.dumps(preset("compare-adam", epochs=6, lr=0.01).to_dict()))  # ... but is not it
    assert lessons.mark(q, "compare-adam", store, None).correct  # the lesson's own run still decides
    for r in store.runs():
        if r.config["name"] == "compare-adam" and r.id != short:
            store.delete(r.id)
    with pytest.raises(lessons.Missing, match=r"^Your runs do not answer this yet: your compare-adam ran with epochs 6 "
                                              r"\(the course's 25\), lr 0\.01 \(the course's 0\.001\), so it is not "
                                              r"this lesson's run; launch compare-adam first\.$"):
        lessons.mark(q, "compare-adam", store, None)
    seeded = fake_run(store, "compare-adam", [0.95, 0.975])
    store.update(seeded, config=json.dumps(preset("compare-adam", seed=7, device="cpu").to_dict()))
    assert lessons.mark(q, "compare-adam", store, None).correct  # another seed or device: the same experiment


def test_the_course_figures_are_set_only_beside_the_course_s_experiment():
    from digitlab.runs import tables

    epochs = [dict(epoch=1, val_acc=0.97, test_acc=0.971)]
    same, other = preset("compare-adam", seed=3).to_dict(), preset("compare-adam", epochs=6).to_dict()
    rows = tables.course_rows([("a", epochs), ("b", epochs)], ["compare-adam"] * 2, [same, other])
    assert rows[0]["course"].startswith("97.83%")
    assert rows[1]["course"] == "not set beside it" and rows[1]["why"] == "it ran with epochs 6 (the course's 25)"


def test_a_lesson_links_to_its_runs_on_the_splits_it_talks_about(store):
    lesson = next(x for x in lessons.all_lessons() if x.id == "4-how-long")
    link = lessons.runs_link(lesson, store, None)
    ids = {r.config["name"]: r.id for r in store.runs()}
    assert link == {"compare": ",".join(str(ids[p]) for p in lesson.launch), "splits": "train,val", "on": "val"}
    assert lessons.runs_link(lesson, Store(store.root.parent / "empty"), None) is None


def test_an_answer_within_the_measure_s_spread_is_too_close_to_call(tmp_path):
    s = Store(tmp_path / "runs")
    fake_run(s, "compare-sgd", [0.90, 0.95], test_acc=0.960)
    fake_run(s, "compare-momentum", [0.93, 0.97], test_acc=0.9795)  # the course's own figures: 0.12 points apart
    fake_run(s, "compare-adam", [0.95, 0.97], test_acc=0.9783)
    q = question("3-optimizers", "ends-best")
    for close in ("compare-momentum", "compare-adam"):
        marked = lessons.mark(q, close, s, None)
        assert marked.correct and "Too close to call: momentum and Adam differ by 0.12 points, less than the" in \
            marked.reason and "so each of them is right" in marked.reason
    assert not lessons.mark(q, "compare-sgd", s, None).correct  # 1.95 points below: not close


def test_a_gap_decided_by_less_than_its_spread_is_too_close_to_call(tmp_path):
    s = Store(tmp_path / "runs")
    fake_run(s, "epochs-10", [0.97, 0.975], train_accs=[0.98, 0.9905])   # gap 1.55 points
    fake_run(s, "epochs-3", [0.97, 0.975], train_accs=[0.98, 0.9898])    # gap 1.48 points: 0.07 apart
    fake_run(s, "epochs-1", [0.96], train_accs=[0.95])                   # gap -1 point
    q = question("4-how-long", "gap")
    assert lessons.mark(q, "epochs-3", s, None).correct and lessons.mark(q, "epochs-10", s, None).correct
    assert "Too close to call" in lessons.mark(q, "epochs-10", s, None).reason
    assert not lessons.mark(q, "epochs-1", s, None).correct


@pytest.mark.parametrize("lesson_id,qid,drawn", [("3-optimizers", "first-97", True), ("4-how-long", "turns-up", True),
                                                 ("4-how-long", "gap", True), ("3-optimizers", "ends-best", False)])
def test_a_question_shows_the_figure_that_decides_it_from_your_runs(store, lesson_id, qid, drawn):
    from digitlab.course import plots

    q = question(lesson_id, qid)
    runs, ids, course = lessons.figure_runs(q, store, None)
    assert [label for label, _ in runs] == [q.choices.get(p, p) for p in q.presets] and len(ids) == len(runs)
    fig = plots.deciding(q.check, runs, split=q.split, target=q.target, course=course)
    assert (fig is not None) is drawn
    if q.check == "first_to_target":
        assert course == {"SGD": 22, "momentum": 8, "Adam": 5}  # the course's own, as open circles
        assert any(shape.y0 == 0.97 for shape in fig.layout.shapes)  # the 97% line
        assert sum(t.mode == "markers" and t.x in ((22,), (8,), (5,)) for t in fig.data) == 3
    if q.check == "turn_up":
        lowest = [t for t in fig.data if t.text == ("lowest",)]
        assert len(lowest) == 1 and lowest[0].x == (3,)  # the fixture's epochs-10: lowest at epoch 3
    assert lessons.figure_runs(q, Store(store.root.parent / "empty"), None)[0] == []
