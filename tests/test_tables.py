"""What the pages show, computed in the core: progress, table rows, the summary, the model list."""

from dataclasses import replace

import pytest

from digitlab import markdown
from digitlab.drawing import answers
from digitlab.learn import checkpoint
from digitlab.runs import catalog, progress, tables
from digitlab.learn.presets import COURSE
from digitlab.learn.config import TrainConfig
from digitlab.learn.models import build
from digitlab.runs.store import Run, Status, Store


def running(epoch, step, epochs=4, per_epoch=10):
    return Run(1, "r", TrainConfig(epochs=epochs).to_dict(), Status.RUNNING, steps_per_epoch=per_epoch, epoch=epoch,
               step=step)


def test_progress_counts_finished_epochs_and_the_steps_of_the_one_under_way():
    assert progress.progress(running(1, 5), 0)["fraction"] == pytest.approx(5 / 40)
    assert progress.progress(running(2, 10), 2)["fraction"] == pytest.approx(20 / 40)  # epoch 2 done, 3 not begun
    p = progress.progress(running(3, 4), 2)
    assert p["fraction"] == pytest.approx(24 / 40) and (p["epoch"], p["epochs"], p["step"]) == (3, 4, 4)
    assert progress.progress(replace(running(0, 0), steps_per_epoch=None), 0) == dict(
        fraction=0.0, epoch=1, epochs=4, step=0, steps_per_epoch=1)  # before its first step


def test_run_row_and_summary_rows():
    run = Run(id=3, name="x", owner="ada", status=Status.COMPLETED, config=TrainConfig(hidden=[30, 5], dropout=0.5,
              norm_layer="layer").to_dict(), started=10.0, finished=22.44, num_params=100, best_val_acc=0.9,
              test_acc=0.89)
    row = tables.run_row(run)
    assert row["hidden"] == "30-5" and row["dropout/norm"] == "0.5 / layer" and row["duration"] == 12.4
    cnn = TrainConfig(model="cnn", channels=[32, 64], kernel=3, convs=2, hidden=[128]).to_dict()
    assert tables.layers(cnn) == "conv 32-64 (2x 3x3) | 128"
    assert tables.layers({**cnn, "kernel": 5, "convs": 1}) == "conv 32-64 (1x 5x5) | 128"
    assert row["status"] == "completed" and row["owner"] == "ada"
    epochs = [dict(epoch=1, test_acc=0.95, val_acc=0.96, train_loss=0.3, test_loss=0.2),
              dict(epoch=2, test_acc=0.975, val_acc=0.95, train_loss=0.1, test_loss=0.1)]
    rows = tables.summary_rows([("a", epochs), ("b", epochs[:1])], 0.97, "test")
    assert rows[0] == {"run": "a", "first epoch ≥ 97.0%": "2", "best test acc (any epoch)": 0.975, "at epoch": 2,
                       "checkpoint test acc": 0.95, "last test acc": 0.975,
                       "last train loss": 0.1, "last test loss": 0.1}
    assert rows[1]["first epoch ≥ 97.0%"] == "not reached"


def test_model_choices_put_the_default_first_then_finished_runs(tmp_path):
    shipped = tmp_path / "shipped"
    for name in ("cnn-default", "mlp-default"):
        checkpoint.save(shipped / f"{name}.pt", build(TrainConfig(hidden=[4])).state_dict(), TrainConfig(hidden=[4]), {})
    store = Store(tmp_path / "runs")
    done, failed, queued = (store.create(TrainConfig(hidden=[4])) for _ in range(3))
    path = checkpoint.save(store.run_dir(done) / "best.pt", build(TrainConfig(hidden=[4])).state_dict(),
                           TrainConfig(hidden=[4]), {})
    store.finish(done, Status.COMPLETED, checkpoint=str(path), test_acc=0.5)
    store.finish(failed, Status.FAILED, checkpoint=str(path))
    choices = catalog.model_choices(store, shipped)
    assert list(choices) == ["mlp-default (shipped)", "cnn-default (shipped)", f"run {done}: adam 784-4-10, test 50.00%"]


def test_typed_text_is_made_literal_markdown():
    assert markdown.as_text("plain name 42") == "plain name 42"
    escaped = markdown.as_text("![x](http://a.b/c) **b** :smile: `c` <i> $x$ a@b.c www.d.e")
    assert "\\!\\[x\\]\\(http\\:\u200b\\/\\/a\\.\u200bb\\/c\\)" in escaped and "\\*\\*b\\*\\*" in escaped
    assert "\\:\u200bsmile\\:\u200b" in escaped and "\\`c\\`" in escaped and "\\<i\\>" in escaped
    assert "\\$x\\$" in escaped and "a\\@\u200bb" in escaped and "www\\.\u200bd" in escaped


def test_class_rows_count_each_persons_runs(tmp_path):
    from digitlab.classroom.roster import Person

    store = Store(tmp_path)
    for owner in ("bob", "bob", "cy"):
        store.create(TrainConfig(), owner=owner)
    cy = store.runs(owner="cy")[0].id
    store.finish(cy, Status.COMPLETED)
    store.run_dir(cy).mkdir(parents=True)
    (store.run_dir(cy) / "best.pt").write_bytes(bytes(3 * 2**20 // 2))  # 1.5 MB of checkpoint
    people = [Person("ada", "teacher", ""), Person("bob", "student", ""), Person("cy", "student", "")]
    assert tables.class_rows(store, people, 6 * 2**20) == [
        {"name": "ada", "role": "teacher", "runs": 0, "active": 0, "stored MB": 0.0, "of quota": "0%"},
        {"name": "bob", "role": "student", "runs": 2, "active": 2, "stored MB": 0.0, "of quota": "0%"},
        {"name": "cy", "role": "student", "runs": 1, "active": 0, "stored MB": 1.5, "of quota": "25%"}]


def test_reading_is_the_digit_when_sure_and_the_two_likeliest_when_not():
    sure = answers.reading([0.01] * 7 + [0.91] + [0.01] * 2)
    assert sure["sure"] and sure["headline"] == "7" and sure["detail"] == "91.0% confident" and sure["short"] == "7 · 91%"
    p = [0.0] * 10
    p[4], p[9], p[1] = 0.45, 0.40, 0.15  # an X, say: no digit stands out
    unsure = answers.reading(p)
    assert not unsure["sure"] and unsure["digit"] == 4
    assert unsure["headline"] == "4 or 9?" and unsure["detail"] == "not sure: 45% 4, 40% 9"
    edge = [0.0] * 10
    edge[2], edge[3] = answers.SURE, 1 - answers.SURE
    assert answers.reading(edge)["sure"]
    pair = answers.reading(p, digits=2)  # two digits side by side: no answer looks confident
    assert not pair["sure"] and pair["headline"] == "one digit?" and "2 digits side by side" in pair["detail"]


def test_the_runs_page_compares_the_last_batch_queued_together_and_never_a_failed_run():
    def run(i, batch=None, status=Status.COMPLETED, acc=0.9):
        return Run(i, f"r{i}", {}, status, batch=batch, test_acc=acc)

    runs = [run(1), run(2, 2), run(3, 2), run(4, 2, acc=0.95), run(5, 5, Status.FAILED, acc=None), run(6, 5),
            run(7, None, Status.RUNNING, acc=None)]
    assert catalog.default_comparison(runs) == [2, 3, 4]  # 5 and 6 were queued together, but 5 failed
    assert catalog.default_comparison([run(1), run(2), run(3)]) == [3, 2, 1]  # no batch: the newest three
    assert [r.id for r in catalog.batch_of(runs[2], runs)] == [2, 4] and catalog.batch_of(runs[0], runs) == []
    assert catalog.best_completed(runs) == 4 and catalog.best_completed([run(7, 0, Status.RUNNING, acc=None)]) is None


def done_run(run_id: int, config: TrainConfig, seconds: float, status=Status.COMPLETED, health=None) -> Run:
    return Run(run_id, f"r{run_id}", config.to_dict(), status, train_seconds=seconds, device="cpu", health=health)


def test_waiting_runs_are_priced_at_this_machines_measured_pace():
    config = TrainConfig(hidden=[64], epochs=3, device="cpu")
    estimate = progress.estimated_seconds(done_run(1, config, 0))
    assert progress.pace([]) == (1.0, 0)  # nothing measured yet: the model alone
    runs = [done_run(1, config, 3 * estimate), done_run(2, config, 2 * estimate)]
    assert progress.pace(runs) == (pytest.approx(2.5), 2)  # this machine took 2.5 times the estimate
    odd = [done_run(3, config, 999 * estimate, status=Status.FAILED),  # neither a failed run ...
           done_run(4, config, 999 * estimate, health={"flag": "diverged"})]  # ... nor a flagged one counts
    assert progress.pace(runs + odd) == (pytest.approx(2.5), 2)
    assert progress.pace([done_run(5, config, 1e6 * estimate)])[0] == progress.PACE_LIMITS[1]  # clamped
    many = [done_run(k, config, estimate) for k in range(20)] + [done_run(-1, config, 4 * estimate)]
    assert progress.pace(many) == (1.0, progress.CALIBRATE_ON)  # the newest ten: the old slow one is forgotten


def test_ink_too_small_to_read_is_asked_to_be_bigger_whatever_the_model_says():
    small = answers.reading([0.01] * 9 + [0.91], small=True)  # a dot scaled up reads as a confident digit
    assert small["headline"] == "too small" and not small["sure"] and small["detail"].startswith("draw bigger")


def test_a_course_presets_run_is_set_beside_the_courses_figures_on_the_same_measures():
    epochs = [{"epoch": k, "val_acc": v, "test_acc": t} for k, (v, t) in
              enumerate([(0.95, 0.955), (0.971, 0.972), (0.975, 0.974), (0.973, 0.976)], 1)]
    lines = tables.course_lines([("3: compare-adam", epochs), ("4: mine", epochs), ("5: <b>x</b>", epochs[:1])],
                                ["compare-adam", None, "seed-assignment"])
    assert lines == [f"**{markdown.as_text('3: compare-adam')}** (compare-adam): you test 97.40%, 97% first at "
                     "epoch 2 · the course 97.83%, 97% first at epoch 5 · " + COURSE["compare-adam"]["why"],
                     f"**{markdown.as_text('5: <b>x</b>')}** (seed-assignment): you test 95.50% · the course 98.16%"]
    assert "<b>" not in lines[1]  # a name is text, never markup
