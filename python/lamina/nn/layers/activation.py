"""A module for every activation in the op library (the seed's whole zoo), wrapping F.*."""
from __future__ import annotations

from .. import functional as F
from ..module import Module

__all__ = ["Step", "Linear_", "Sigmoid", "BipolarSigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus",
           "GELU", "Softmax", "LogSoftmax"]


class Step(Module):
    """Heaviside step: 1 where x >= threshold else 0. Its gradient is a surrogate
    ('ste': straight-through inside |x - threshold| <= 1; 'sigmoid': derivative of a sigmoid
    of slope beta) — see F.step."""

    def __init__(self, threshold: float = 0.0, surrogate: str = "ste", beta: float = 1.0) -> None:
        super().__init__()
        self.threshold, self.surrogate, self.beta = threshold, surrogate, beta

    def forward(self, x):
        return F.step(x, self.threshold, self.surrogate, self.beta)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, surrogate={self.surrogate!r}"


class Linear_(Module):
    """The 'linear' (identity) activation, f(x) = x. (Named with an underscore so it is not
    confused with the nn.Linear layer; nn.Identity is the same thing.)"""

    def forward(self, x):
        return x


class _Simple(Module):
    _fn = None

    def forward(self, x):
        return type(self)._fn(x)


class Sigmoid(_Simple):
    """1 / (1 + exp(-x))."""

    _fn = staticmethod(lambda x: F.sigmoid(x))


class BipolarSigmoid(_Simple):
    """2 * sigmoid(x) - 1, values in (-1, 1)."""

    _fn = staticmethod(lambda x: F.bipolar_sigmoid(x))


class Tanh(_Simple):
    _fn = staticmethod(lambda x: F.tanh(x))


class ReLU(Module):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x, inplace=self.inplace) if self.inplace else F.relu(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, self.dim)
