import pytest
import torch
from torch import nn

from digitlab.config import TrainConfig
from digitlab.models import MLP, build


def expected_params(sizes, norm="none"):
    n = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    return n + (sum(2 * h for h in sizes[1:-1]) if norm != "none" else 0)


@pytest.mark.parametrize("hidden", [[512, 128], [128, 128], [128, 64], [100, 50], [30, 5], [800], [256, 256, 256]])
@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_course_architectures(hidden, norm):
    m = build(TrainConfig(hidden=hidden, norm_layer=norm, dropout=0.5))
    out = m(torch.rand(4, 1, 28, 28))
    assert out.shape == (4, 10)
    assert m.num_params() == expected_params([784, *hidden, 10], norm)
    kinds = [type(l) for l in m.net]
    assert kinds.count(nn.Linear) == len(hidden) + 1
    assert kinds.count(nn.Dropout) == len(hidden)
    assert kinds.count({"none": nn.ReLU, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}[norm]) == len(hidden)


def test_layernorm_dropout_30_5_order():
    m = MLP([30, 5], dropout=0.5, norm_layer="layer")
    names = [type(l).__name__ for l in m.net]
    assert names == ["Linear", "LayerNorm", "ReLU", "Dropout", "Linear", "LayerNorm", "ReLU", "Dropout", "Linear"]
    assert MLP([512, 128]).num_params() == 468_874  # 784-512-128-10, as in the course
