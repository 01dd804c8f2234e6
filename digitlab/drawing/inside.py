"""Inside a network: why it answered (captum), what each layer computes for one drawing, what its first layer
learned, and the smallest change to a drawing that makes it answer another digit."""

import numpy as np
import torch
from torch import nn

from digitlab import UserError
from digitlab.learn.checkpoint import Checkpoint
from digitlab.datasets.data import normalize
from digitlab.learn.models import CNN, MLP, Classifier

METHODS = {"gradient": "Gradient saliency", "integrated": "Integrated Gradients"}
IG_STEPS = 24        # integration steps: ~3 ms for the shipped MLP, ~20 ms for the CNN on one CPU thread
SNAPSHOT_UNITS = 64  # first-layer units of an MLP kept per epoch (the first 64, so the same units every epoch)


def _input(ck: Checkpoint, image: np.ndarray) -> torch.Tensor:
    """A 28x28 image in [0, 1] -> the (1, 784) normalized tensor the model reads."""
    return normalize(torch.as_tensor(np.asarray(image, dtype=np.float32))[None], ck.config.input_norm)


def _target(target) -> int:
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target <= 9:
        raise UserError(f"The digit to explain must be a whole number from 0 to 9, got {target!r}.")
    return int(target)


def saliency(ck: Checkpoint, image: np.ndarray, target: int, method: str = "gradient") -> np.ndarray:
    """(28, 28) attribution of the class `target`'s logit to each input pixel: the gradient's size ("gradient"), or
    Integrated Gradients from a blank image ("integrated", signed: positive pixels speak for the class)."""
    from captum.attr import (  # here: captum brings matplotlib, which workers never need
        IntegratedGradients,
        Saliency,
    )

    target = _target(target)
    x = _input(ck, image).requires_grad_()
    model = ck.model.eval()
    if method == "gradient":
        attr = Saliency(model).attribute(x, target=target, abs=True)
    elif method == "integrated":
        blank = _input(ck, np.zeros((28, 28), np.float32))
        attr = IntegratedGradients(model).attribute(x, baselines=blank, target=target, n_steps=IG_STEPS,
                                                    internal_batch_size=IG_STEPS)
    else:
        raise UserError(f"Unknown attribution method {method!r}: choose one of {', '.join(METHODS)}.")
    return attr.detach().reshape(28, 28).numpy()


def _layers(model: Classifier) -> list[tuple[str, nn.Module]]:
    """The modules whose outputs are shown, with a name a person reads: each hidden layer after its activation, and
    a CNN's feature maps after each block's ReLU."""
    if isinstance(model, MLP):
        relus = [m for m in model.net if isinstance(m, nn.ReLU)]
        return [(f"hidden layer {k}", m) for k, m in enumerate(relus, 1)]
    if isinstance(model, CNN):
        maps, block, conv = [], 1, 0
        for m in model.features:
            if isinstance(m, nn.MaxPool2d):
                block, conv = block + 1, 0
            elif isinstance(m, nn.ReLU):
                conv += 1
                maps.append((block, conv, m))
        deep = any(conv > 1 for _, conv, _ in maps)
        head = [m for m in model.head if isinstance(m, nn.ReLU)]
        return ([(f"conv block {b}{f', conv {c}' if deep else ''} feature maps", m) for b, c, m in maps]
                + [(f"head hidden layer {k}", m) for k, m in enumerate(head, 1)])
    raise UserError(f"Cannot look inside a {type(model).__name__}: only digitlab's MLP and CNN.")


@torch.no_grad()
def activations(ck: Checkpoint, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """What each hidden layer computes for one image: (name, (units,)) for a fully connected layer, (name,
    (channels, H, W)) for conv feature maps, in the order the network runs them."""
    seen: list[tuple[str, np.ndarray]] = []
    model = ck.model.eval()
    hooks = [m.register_forward_hook(lambda _m, _i, out, name=name: seen.append((name, out[0].numpy().copy())))
             for name, m in _layers(model)]
    try:
        model(_input(ck, image))
    finally:
        for h in hooks:
            h.remove()
    return seen


def first_layer(model: Classifier) -> nn.Module:
    """The layer that looks at the pixels: an MLP's first Linear, a CNN's first Conv2d."""
    return next(m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))


def first_weights(model: Classifier, units: int | None = None) -> np.ndarray:
    """The first layer's weights as images: (units, 28, 28) for an MLP (the first `units` of them), (channels, K, K)
    kernels for a CNN."""
    w = first_layer(model).weight.detach().float().cpu()
    if isinstance(first_layer(model), nn.Conv2d):
        return w[:, 0].numpy().copy()  # (C, K, K): one input channel
    return w[:units].reshape(-1, 28, 28).numpy().copy()


def snapshot(model: Classifier) -> np.ndarray:
    """What a run keeps of its first layer after each epoch: float16, a few hundred KB at most."""
    return first_weights(model, SNAPSHOT_UNITS).astype(np.float16)


def by_norm(weights: np.ndarray, top: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The units of weights (K, H, W) ordered by weight norm, largest first, and their indices: the ones that look
    hardest at the pixels."""
    norms = np.sqrt((weights.astype(np.float32) ** 2).reshape(len(weights), -1).sum(1))
    order = np.argsort(-norms, kind="stable")[:top]
    return weights[order], order


MAX_FOOL_STEPS = 200


def fool(ck: Checkpoint, image: np.ndarray, target: int, eps: float, steps: int = 1) -> np.ndarray:
    """The image changed by at most eps per pixel (kept in [0, 1]) to make the model answer `target`: one signed
    gradient step on the target's log-probability (FGSM, steps=1), or projected gradient steps (PGD)."""
    target = _target(target)
    if not (isinstance(eps, (int, float)) and 0 <= eps <= 1):
        raise UserError(f"Epsilon must be a number from 0 to 1 (a share of a pixel's range), got {eps!r}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_FOOL_STEPS:
        raise UserError(f"Steps must be a whole number from 1 to {MAX_FOOL_STEPS}, got {steps!r}.")
    model = ck.model.eval()
    start = torch.as_tensor(np.asarray(image, dtype=np.float32)).reshape(1, 28, 28)
    x = start.clone()
    alpha = eps if steps == 1 else 2.5 * eps / steps  # PGD's usual step: it can cross the ball and come back
    for _ in range(steps):
        x.requires_grad_()
        logp = model(normalize(x, ck.config.input_norm)).log_softmax(-1)[0, target]
        (grad,) = torch.autograd.grad(logp, x)
        with torch.no_grad():
            x = x + alpha * grad.sign()
            x = (start + (x - start).clamp(-eps, eps)).clamp(0, 1)
    return x.detach()[0].numpy()


def smallest_flip(ck: Checkpoint, image: np.ndarray, target: int, steps: int = 10, rounds: int = 8,
                  ) -> tuple[float, np.ndarray] | None:
    """The smallest eps (to 1/2**rounds) at which `fool` makes the model answer `target`, and that image; None when
    even eps 1 does not."""
    def answers(eps: float) -> tuple[bool, np.ndarray]:
        changed = fool(ck, image, target, eps, steps)
        return int(ck.predict_proba(changed[None])[0].argmax()) == target, changed

    ok, best = answers(1.0)
    if not ok:
        return None
    low, high = 0.0, 1.0
    if answers(0.0)[0]:
        return 0.0, np.asarray(image, dtype=np.float32)
    for _ in range(rounds):
        mid = (low + high) / 2
        ok, changed = answers(mid)
        if ok:
            high, best = mid, changed
        else:
            low = mid
    return high, best
