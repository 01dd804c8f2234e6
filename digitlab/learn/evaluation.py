"""A checkpoint measured on the official test set: predictions and every metric the pages show."""

import numpy as np
import torch

from digitlab import UserError
from digitlab.learn import metrics
from digitlab.learn.checkpoint import Checkpoint
from digitlab.datasets.data import MNIST


def predict(ck: Checkpoint, images: torch.Tensor, batch: int = 8192) -> np.ndarray:
    """uint8 (N, 28, 28) -> (N, 10) probabilities, a batch at a time."""
    return np.concatenate([ck.predict_proba(images[i : i + batch]) for i in range(0, len(images), batch)])


def evaluate_checkpoint(ck: Checkpoint, mnist: MNIST) -> dict:
    """Accuracy, loss, per-class metrics and the confusion matrix of a checkpoint on the official test set."""
    return evaluate(ck, mnist.test_x, mnist.test_y.numpy())


def evaluate(ck: Checkpoint, images, labels) -> dict:
    """Accuracy, loss, per-class metrics and the confusion matrix of a checkpoint on uint8 images (N, 28, 28) and
    their labels: the test set, or My digits."""
    if len(images) == 0:
        raise UserError("There are no digits to score on: save some on the Draw page first.")
    images = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images, np.uint8))
    probs = predict(ck, images)
    y_true = np.asarray(labels, np.int64)
    y_pred = probs.argmax(1)
    loss = float(-np.log(np.clip(probs[np.arange(len(y_true)), y_true], 1e-12, None)).mean())
    per_class = metrics.per_class(y_true, y_pred)
    return dict(test_acc=metrics.accuracy(y_true, y_pred), test_loss=loss, macro_f1=per_class[-1]["f1"],
                per_class=per_class, confusion=metrics.confusion(y_true, y_pred).tolist(),
                num_params=ck.num_params, y_true=y_true, y_pred=y_pred, probs=probs)
