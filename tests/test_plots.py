import numpy as np

from digitlab.course import plots


def epochs(n, base):
    return [dict(epoch=e, train_loss=1 / e, val_loss=1.1 / e, test_loss=1.2 / e, train_acc=base + e / 100,
                 val_acc=base, test_acc=base + 0.01) for e in range(1, n + 1)]


def test_epoch_curves_one_trace_per_run_and_split_one_legend_entry_and_colour_per_run():
    colors = [plots.run_color(7), plots.run_color(2)]
    fig = plots.epoch_curves([("a", epochs(3, 0.9)), ("b", epochs(5, 0.8))], "acc", ("val", "test"), colors=colors)
    lines = curves(fig)
    assert [(t.name, t.line.dash) for t in lines] == [("a", "dash"), ("a", "solid"), ("b", "dash"), ("b", "solid")]
    assert [t.showlegend for t in lines] == [True, False, True, False]  # the legend names runs, not splits
    assert [t.line.color for t in lines] == [colors[0]] * 2 + [colors[1]] * 2
    assert fig.layout.legend.groupclick == "togglegroup" and "dashed val" in fig.layout.title.text
    assert list(lines[3].y) == [0.81] * 5 and fig.layout.yaxis.tickformat == ".1%"
    assert plots.run_color(7) == plots.run_color(17) != plots.run_color(8)  # a run keeps its colour everywhere


def curves(fig):
    return [t for t in fig.data if t.mode == "lines+markers"]


def test_each_runs_last_epoch_is_marked_so_runs_that_coincide_all_show():
    """The epochs trial: 10, 3 and 1 epochs of one recipe and seed draw one line; each end is marked on it."""
    runs = [(f"epochs-{n}", epochs(n, 0.9)) for n in (10, 3, 1)]
    fig = plots.epoch_curves(runs, "acc", ("test",), colors=["red", "green", "blue"])
    ends = [t for t in fig.data if t.mode == "markers"]
    assert [(list(t.x), t.marker.color, t.legendgroup, t.showlegend) for t in ends] == \
        [([10], "red", "epochs-10", False), ([3], "green", "epochs-3", False), ([1], "blue", "epochs-1", False)]


def test_epoch_curves_against_seconds_and_on_a_log_scale():
    fig = plots.epoch_curves([("a", [dict(e, seconds=2.0) for e in epochs(3, 0.9)])], "loss", ("test",), x="seconds",
                             log_y=True)
    assert list(fig.data[0].x) == [2.0, 4.0, 6.0] and fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text == "seconds of training"


def test_epoch_curves_against_steps_count_each_runs_own_steps_per_epoch():
    fig = plots.epoch_curves([("a", epochs(2, 0.9)), ("b", epochs(2, 0.9))], "acc", ("test",), x="step",
                             steps_per_epoch=[469, 938])  # batch 128 against batch 64
    assert [list(t.x) for t in curves(fig)] == [[469, 938], [938, 1876]] and fig.layout.xaxis.title.text == "step"


def test_ten_runs_keep_a_readable_plot_area():
    one = plots.epoch_curves([("a", epochs(3, 0.9))], "acc")
    ten = plots.epoch_curves([(f"run {k}", epochs(3, 0.9)) for k in range(10)], "acc")
    assert ten.layout.height - one.layout.height == 3 * 22  # the figure grows with the legend, the plot does not


def test_step_losses_draw_every_average_over_every_raw_trace():
    steps = [dict(step=i, loss=float(i % 2)) for i in range(1, 11)]
    fig = plots.step_losses([("a", steps), ("b", steps)], window=2)
    assert [t.name for t in fig.data] == ["a · raw steps", "b · raw steps", "a", "b"]
    assert [t.visible for t in fig.data[:2]] == ["legendonly"] * 2  # raw steps hidden until asked for
    assert list(fig.data[2].y)[1:] == [0.5] * 9
    assert plots.step_losses([("a", steps)], raw=True).data[0].visible is True


def test_confusion_highlights_a_cell_and_every_cell_can_be_clicked():
    cm = np.eye(10, dtype=int) * 5
    cm[3, 5] = 2
    fig = plots.confusion(cm, highlight=(3, 5))
    assert fig.data[0].text[3][5] == 2 and len(fig.layout.shapes) == 1
    cells = fig.data[1]  # the clickable markers: one a cell, carrying its count
    assert len(cells.x) == 100 and (cells.y[35], cells.x[35], cells.customdata[35]) == ("3", "5", 2)


def test_enlarge_is_crisp():
    img = np.zeros((28, 28))
    img[0, 0] = 1
    big = plots.enlarge(img, 4)
    assert big.shape == (112, 112) and big[:4, :4].min() == 255 and big[4:, :].max() == 0


def test_histograms_and_counts():
    fig = plots.pixel_histograms({"none": np.random.rand(100), "mnist": np.random.randn(100)})
    assert len(fig.data) == 2
    assert fig.layout.yaxis.dtick == 1 and fig.layout.yaxis.tickformat == "~s"  # a readable tick a decade
    counts = plots.class_counts({"train": np.arange(10), "test": np.ones(10)})
    assert len(counts.data) == 2 and counts.layout.xaxis.type == "category"  # all ten digits labelled


def test_long_runs_are_thinned_to_a_readable_number_of_points():
    steps = [dict(step=i, loss=1 / i) for i in range(1, 18_751)]  # 25 epochs of batch 64
    fig = plots.step_losses([("a", steps)], window=50)
    assert all(len(t.x) <= plots.MAX_POINTS for t in fig.data) and fig.data[1].x[-1] == 18_750
    x, y = plots.thin(range(10), range(10), 4)
    assert list(x) == [0, 3, 6, 9] and list(y) == [0, 3, 6, 9]


def test_names_are_shown_as_text_in_legends():
    fig = plots.epoch_curves([("<a href='http://x'>x</a>", epochs(1, 0.9))], "acc", ("test",))
    assert fig.data[0].name == "&lt;a href='http://x'&gt;x&lt;/a&gt;"
