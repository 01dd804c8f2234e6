"""The networks: plain nn.Modules, no I/O and no training inside."""

import torch
from torch import nn

from digitlab.config import TrainConfig


class MLP(nn.Module):
    """784 -> hidden... -> 10; each hidden layer is Linear, [Batch|Layer]Norm, ReLU, [Dropout]."""

    def __init__(self, hidden=(512, 128), dropout: float = 0.0, norm: str = "none"):
        super().__init__()
        layers, width = [], 28 * 28
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(h))
            elif norm == "layer":
                layers.append(nn.LayerNorm(h))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 10))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(len(x), -1))  # (B, 784) -> (B, 10) logits

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, 10) in eval mode."""
        was_training = self.training
        self.eval()
        p = self(x).softmax(-1)
        self.train(was_training)
        return p


def build(config: TrainConfig) -> nn.Module:
    """The model a config describes."""
    return MLP(config.hidden, config.dropout, config.norm)
