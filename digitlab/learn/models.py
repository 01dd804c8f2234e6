"""The networks: plain nn.Modules, no I/O and no training inside."""

import torch
from torch import nn

from digitlab.learn.config import TrainConfig


class Classifier(nn.Module):
    """A digit classifier: (B, 784) or (B, 1, 28, 28) normalized images -> (B, 10) logits."""

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


class MLP(Classifier):
    """784 -> hidden... -> 10; each hidden layer is Linear, [Batch|Layer]Norm, ReLU, [Dropout]."""

    def __init__(self, hidden=(512, 128), dropout: float = 0.0, norm_layer: str = "none"):
        super().__init__()
        layers, width = [], 28 * 28
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if norm_layer == "batch":
                layers.append(nn.BatchNorm1d(h))
            elif norm_layer == "layer":
                layers.append(nn.LayerNorm(h))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 10))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(len(x), -1))  # (B, 784) -> (B, 10) logits


class CNN(Classifier):
    """Conv blocks ((KxK conv, [BatchNorm], ReLU) x convs, then a 2x2 max-pool), then an MLP head on the flattened
    maps. One flat Sequential, so that checkpoints of every shape name their weights the same way."""

    def __init__(self, channels=(32, 64), hidden=(128,), dropout: float = 0.0, norm_layer: str = "batch",
                 kernel: int = 5, convs: int = 1):
        super().__init__()
        layers, in_channels = [], 1
        for out_channels in channels:
            for _ in range(convs):
                layers += [nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2,
                                     bias=norm_layer != "batch")]
                layers += [nn.BatchNorm2d(out_channels)] if norm_layer == "batch" else []
                layers += [nn.ReLU()]
                in_channels = out_channels
            layers += [nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        side = 28 >> len(channels)
        head, width = [nn.Flatten()], in_channels * side * side
        for h in hidden:
            head += [nn.Linear(width, h), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
            width = h
        head.append(nn.Linear(width, 10))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.reshape(len(x), 1, 28, 28)))  # (B, 784) -> (B, 10) logits


def build(config: TrainConfig) -> Classifier:
    """The model a config describes."""
    if config.model == "cnn":
        return CNN(config.channels, config.hidden, config.dropout, config.norm_layer, config.kernel, config.convs)
    return MLP(config.hidden, config.dropout, config.norm_layer)
