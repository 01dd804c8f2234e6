import numpy as np
import pytest

from digitlab.learn import metrics


def test_hand_computed_per_class():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 2, 2]
    rows = {r["digit"]: r for r in metrics.per_class(y_true, y_pred)}
    # digit 0: tp 1, fp 0, fn 1; digit 1: tp 2, fp 1, fn 1; digit 2: tp 1, fp 1, fn 0
    assert rows["0"]["precision"] == 1.0 and rows["0"]["recall"] == 0.5 and rows["0"]["f1"] == pytest.approx(2 / 3)
    assert rows["1"]["precision"] == pytest.approx(2 / 3) and rows["1"]["recall"] == pytest.approx(2 / 3)
    assert rows["2"]["precision"] == 0.5 and rows["2"]["recall"] == 1.0 and rows["2"]["support"] == 1
    assert rows["3"]["support"] == 0 and rows["3"]["f1"] == 0.0
    assert rows["macro"]["f1"] == pytest.approx((2 / 3 + 2 / 3 + 2 / 3) / 10)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(4 / 6)


def test_confusion_rows_are_true_digits():
    cm = metrics.confusion([0, 0, 1, 9], [0, 1, 1, 3])
    assert cm.shape == (10, 10)
    assert cm[0, 0] == 1 and cm[0, 1] == 1 and cm[1, 1] == 1 and cm[9, 3] == 1 and cm.sum() == 4


def test_misclassified_cells():
    y_true, y_pred = [1, 2, 2, 3, 2], [1, 7, 2, 8, 7]
    assert metrics.misclassified(y_true, y_pred).tolist() == [1, 3, 4]
    assert metrics.misclassified(y_true, y_pred, true=2, pred=7).tolist() == [1, 4]
    assert metrics.misclassified(y_true, y_pred, true=3).tolist() == [3]


def test_moving_average():
    np.testing.assert_allclose(metrics.moving_average([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(metrics.moving_average([1, 2, 3], 1), [1, 2, 3])
    np.testing.assert_allclose(metrics.moving_average([2, 4, 6, 8], 3), [2, 3, 4, 6])
    assert len(metrics.moving_average([], 5)) == 0
    np.testing.assert_allclose(metrics.moving_average([1, 2, 3], 0), [1, 2, 3])  # no window: the values themselves


def test_first_epoch_reaching():
    assert metrics.first_epoch_reaching([0.9, 0.96, 0.97, 0.98], 0.97) == 3
    assert metrics.first_epoch_reaching([0.9, 0.96], 0.97) is None


def test_worst_confusion_is_the_largest_mistake():
    cm = np.eye(10, dtype=int) * 100
    cm[4, 9], cm[7, 2], cm[9, 4] = 5, 11, 3
    assert metrics.worst_confusion(cm) == (7, 2)


def test_run_summary_is_the_course_row():
    epochs = [dict(epoch=e, test_acc=a, val_acc=a - 0.01, train_loss=1 / e, test_loss=2 / e)
              for e, a in enumerate([0.90, 0.97, 0.985, 0.98], start=1)]
    s = metrics.run_summary(epochs, target=0.97)
    assert s == dict(first_epoch=2, best_acc=0.985, best_epoch=3, last_acc=0.98, last_train_loss=0.25,
                     last_test_loss=0.5)
    assert metrics.run_summary(epochs, target=0.99)["first_epoch"] is None
    assert metrics.run_summary(epochs, target=0.97, split="val")["first_epoch"] == 3
    assert metrics.run_summary([])["best_acc"] is None


@pytest.mark.parametrize("points, cell", [
    ([{"x": "5", "y": "3"}], (3, 5)),
    ([], None), (None, None), ([{"x": "5"}], None), ([{"x": 5, "y": 3}], None), ([{"x": "55", "y": "3"}], None),
    ([{"x": "-1", "y": "3"}], None), ([{"x": "5", "y": "1e9"}], None), (["5,3"], None), ({"x": "5"}, None),
])
def test_a_clicked_cell_is_read_only_when_it_names_one(points, cell):
    assert metrics.clicked_cell(points) == cell


def test_the_best_epoch_is_counted_from_one_wherever_it_falls():
    for accs, best in (([0.90, 0.95, 0.96, 0.99, 0.98], 4), ([0.5, 0.9, 0.6, 0.7, 0.8, 0.6], 2), ([0.99, 0.5], 1)):
        epochs = [dict(epoch=e, test_acc=a, val_acc=a, train_loss=1.0, test_loss=1.0) for e, a in enumerate(accs, 1)]
        assert metrics.run_summary(epochs)["best_epoch"] == best


def test_accuracy_counts_only_exact_answers():
    assert metrics.accuracy(np.array([1, 2, 3, 9]), np.array([0, 2, 3, 8])) == 0.5  # answers below the truth are wrong
    assert metrics.accuracy(np.array([1, 2]), np.array([3, 4])) == 0.0
    assert metrics.accuracy(np.array([], int), np.array([], int)) == 0.0
