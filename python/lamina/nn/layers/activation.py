"""A module for every activation in the op library (the seed's whole zoo), wrapping F.*."""
from __future__ import annotations

from .. import functional as F
from ..module import Module

__all__ = ["Step", "Linear_", "Sigmoid", "BipolarSigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus",
           "GELU", "Softmax", "LogSoftmax"]


class Step(Module):
    """Heaviside step: 1 where x >= threshold else 0. Its gradient is a surrogate
    ('ste': straight-through inside ``|x - threshold| <= 1``; 'sigmoid': derivative of a sigmoid
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
    """1 / (1 + exp(-x)).

    PyTorch: ``torch.nn.Sigmoid``; Keras: ``activation="sigmoid"``. Any shape, same shape out, values
    in (0, 1); computed without overflow for large ``|x|``.

    Example::

        nn.Sigmoid()(lamina.zeros(3))    # tensor([0.5, 0.5, 0.5])
    """

    _fn = staticmethod(lambda x: F.sigmoid(x))


class BipolarSigmoid(_Simple):
    """2 * sigmoid(x) - 1, values in (-1, 1)."""

    _fn = staticmethod(lambda x: F.bipolar_sigmoid(x))


class Tanh(_Simple):
    """Hyperbolic tangent elementwise, values in (-1, 1); ``torch.nn.Tanh`` (Keras: ``activation="tanh"``).
    Any shape, same shape out.
    """
    _fn = staticmethod(lambda x: F.tanh(x))


class ReLU(Module):
    """max(x, 0) elementwise; ``torch.nn.ReLU`` (Keras: ``keras.layers.ReLU``). Any shape in, same shape
    out; gradient 0 at x == 0. ``inplace=True`` overwrites the input.

    Example::

        nn.ReLU()(lamina.tensor([-1.0, 2.0]))    # tensor([0., 2.])
    """
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x, inplace=self.inplace) if self.inplace else F.relu(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope * x`` otherwise (default slope 0.01); ``torch.nn.LeakyReLU``
    (Keras: ``keras.layers.LeakyReLU``). Any shape, same shape out. ``inplace=True`` overwrites the
    input (as PyTorch: refused on a leaf that requires grad).
    """
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, inplace=self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise (default alpha 1.0); ``torch.nn.ELU`` (Keras:
    ``keras.layers.ELU``). Any shape, same shape out; ``inplace=True`` overwrites the input.
    """
    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x):
        return F.elu(x, self.alpha, inplace=self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, and x itself where ``beta * x > threshold`` (defaults 1.0 and
    20.0); ``torch.nn.Softplus``. Any shape, same shape out.
    """
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(Module):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate="tanh"`` uses the tanh formula;
    ``torch.nn.GELU`` (Keras: ``keras.activations.gelu``). Any shape, same shape out.
    """
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along ``dim`` (default -1, the last axis), computed stably;
    ``torch.nn.Softmax`` (Keras: ``keras.layers.Softmax``). Any shape, same shape out; each slice
    along ``dim`` sums to 1.

    Example::

        nn.Softmax(dim=1)(lamina.randn(4, 10)).sum(1)   # four ones
    """
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """``log(softmax(x))`` along ``dim`` (default -1), computed stably; ``torch.nn.LogSoftmax``. Pair it
    with :class:`NLLLoss`, or use :class:`CrossEntropyLoss` on logits directly.
    """
    def forward(self, x):
        return F.log_softmax(x, self.dim)
