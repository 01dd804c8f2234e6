import pytest
import torch
from torch import nn

from digitlab.learn import cost
from digitlab.learn.config import TrainConfig
from digitlab.learn.models import CNN, MLP, build


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


@pytest.mark.parametrize("kernel, convs", [(5, 1), (3, 2), (3, 3), (7, 1), (1, 2)])
def test_a_cnns_blocks_have_convs_of_the_kernel_asked_for(kernel, convs):
    config = TrainConfig(model="cnn", channels=[4, 6], hidden=[10], kernel=kernel, convs=convs, norm_layer="batch")
    m = build(config)
    assert m(torch.rand(3, 784)).shape == (3, 10)
    conv = [l for l in m.features if isinstance(l, nn.Conv2d)]
    assert [c.kernel_size for c in conv] == [(kernel, kernel)] * 2 * convs
    assert [c.out_channels for c in conv] == [4] * convs + [6] * convs
    kinds = [type(l).__name__ for l in m.features]
    assert kinds == (["Conv2d", "BatchNorm2d", "ReLU"] * convs + ["MaxPool2d"]) * 2
    assert m.num_params() == cost.params(config)


def test_the_shipped_cnns_weights_keep_their_names():
    names = list(CNN([32, 64], [128]).state_dict())
    assert names[:3] == ["features.0.weight", "features.1.weight", "features.1.bias"] and "features.5.weight" in names
