"""Classification metrics (scikit-learn backed) and curve helpers."""

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

CLASSES = list(range(10))


def accuracy(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else 0.0


def per_class(y_true, y_pred) -> list[dict]:
    """Precision, recall, F1 and support per digit, then a 'macro' row."""
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=CLASSES, zero_division=0)
    rows = [dict(digit=str(k), precision=float(p[k]), recall=float(r[k]), f1=float(f[k]), support=int(s[k]))
            for k in CLASSES]
    rows.append(dict(digit="macro", precision=float(p.mean()), recall=float(r.mean()), f1=float(f.mean()),
                     support=int(s.sum())))
    return rows


def confusion(y_true, y_pred) -> np.ndarray:
    """(10, 10) counts; row = true digit, column = predicted digit."""
    return confusion_matrix(y_true, y_pred, labels=CLASSES)


def misclassified(y_true, y_pred, true: int | None = None, pred: int | None = None) -> np.ndarray:
    """Indices of wrong predictions, optionally only those of one confusion-matrix cell."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    keep = y_true != y_pred
    if true is not None:
        keep &= y_true == true
    if pred is not None:
        keep &= y_pred == pred
    return np.flatnonzero(keep)


def moving_average(values, window: int) -> np.ndarray:
    """Trailing mean over the last `window` values (fewer at the start), same length as values."""
    v = np.asarray(values, dtype=float)
    if window <= 1:  # an empty v needs no case of its own: it comes out empty below
        return v
    csum = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(idx - window, 0)
    return (csum[idx] - csum[lo]) / (idx - lo)


def first_epoch_reaching(accs, target: float) -> int | None:
    """1-based epoch at which accuracy first reaches target, or None."""
    for i, a in enumerate(accs, start=1):
        if a >= target:
            return i
    return None


def run_summary(epochs: list[dict], target: float = 0.97, split: str = "test") -> dict:
    """The course's comparison row: first epoch reaching target, best and last accuracy, last losses."""
    accs = [e[f"{split}_acc"] for e in epochs]
    if not accs:
        return dict(first_epoch=None, best_acc=None, best_epoch=None, last_acc=None, last_train_loss=None,
                    last_test_loss=None)
    best = int(np.argmax(accs))
    return dict(first_epoch=first_epoch_reaching(accs, target), best_acc=accs[best], best_epoch=best + 1,
                last_acc=accs[-1], last_train_loss=epochs[-1]["train_loss"], last_test_loss=epochs[-1]["test_loss"])


def worst_confusion(cm) -> tuple[int, int]:
    """(true, predicted) of the confusion matrix's largest off-diagonal cell: the most common mistake."""
    cm = np.asarray(cm)
    mistakes = cm - np.diag(np.diag(cm))
    true, pred = np.unravel_index(mistakes.argmax(), mistakes.shape)
    return int(true), int(pred)


DIGITS = [str(k) for k in range(10)]


def clicked_cell(points) -> tuple[int, int] | None:
    """(true, predicted) of the first clicked confusion-matrix cell in a chart selection, or None when it names none."""
    try:
        y, x = points[0]["y"], points[0]["x"]
    except (TypeError, KeyError, IndexError):
        return None
    return (int(y), int(x)) if isinstance(y, str) and isinstance(x, str) and y in DIGITS and x in DIGITS else None
