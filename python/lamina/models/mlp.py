"""MLP: a multilayer perceptron from a list of layer sizes."""
from __future__ import annotations

from .. import nn

_ACTS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "bipolar_sigmoid": nn.BipolarSigmoid,
         "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU, "softplus": nn.Softplus,
         "linear": nn.Identity, "identity": nn.Identity}


def activation(name):
    """An activation module from a name ('relu', 'tanh', ...) or a module class/instance."""
    if isinstance(name, nn.Module):
        return name
    if isinstance(name, type) and issubclass(name, nn.Module):
        return name()
    try:
        return _ACTS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(_ACTS)}") from None


class MLP(nn.Sequential):
    """``MLP([784, 256, 256, 10], activation="relu")``: Linear layers with the activation between
    them (none after the last unless ``output_activation``), optional dropout after each hidden
    activation. Input (N, sizes[0]) or anything that flattens to it."""

    def __init__(self, sizes, activation: str = "relu", output_activation=None, dropout: float = 0.0) -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        layers = [nn.Flatten()]
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(globals()["activation"](activation))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        if output_activation is not None:
            layers.append(globals()["activation"](output_activation))
        super().__init__(*layers)
        self.sizes = sizes
