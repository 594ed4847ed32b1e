"""LeNet-5 (LeCun et al. 1998): conv5-pool-conv5-pool-fc120-fc84-fc10, adapting to the input size
(28x28 MNIST, 8x8 UCI digits, 32x32)."""
from __future__ import annotations

from .. import nn
from .mlp import activation as _act


def _out(size: int, k: int, p: int, s: int = 1) -> int:
    return (size - k + 2 * p) // s + 1


class LeNet5(nn.Module):
    """``LeNet5(in_channels=1, num_classes=10, input_size=28, activation="relu", pool="max")``.

    Convolutions are 5x5; padding 2 keeps small inputs from vanishing (conv1 is padded for inputs
    under 32 pixels, like the classic 32x32 LeNet fed with padded MNIST; conv2 too for tiny
    inputs such as 8x8). ``features`` and ``classifier`` are Sequentials.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28, activation: str = "relu",
                 pool: str = "max") -> None:
        super().__init__()
        p1 = 2 if input_size < 32 else 0
        s = _out(input_size, 5, p1) // 2
        p2 = 2 if s < 10 else 0
        s = _out(s, 5, p2) // 2
        if s < 1:
            raise ValueError(f"LeNet5: input_size {input_size} is too small")
        Pool = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=p1), _act(activation), Pool(2),
            nn.Conv2d(6, 16, 5, padding=p2), _act(activation), Pool(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * s * s, 120), _act(activation), nn.Linear(120, 84), _act(activation),
            nn.Linear(84, num_classes),
        )
        self.input_size = input_size

    def forward(self, x):
        return self.classifier(self.features(x))
