"""``lamina.nn.init``: in-place weight initialisers with PyTorch's names, formulas and gains.
All draw from lamina's seeded generator and run under no_grad."""
from __future__ import annotations

import math

import numpy as np

from ..autograd.grad_mode import no_grad
from ..ops.creation import randn, tensor
from ..tensor import Tensor

_GAINS = {"linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "sigmoid": 1.0,
          "conv_transpose1d": 1.0, "conv_transpose2d": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0),
          "selu": 3.0 / 4}


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (e.g. sqrt(2) for relu).

    PyTorch: ``torch.nn.init.calculate_gain``.
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    try:
        return _GAINS[nonlinearity]
    except KeyError:
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}") from None


def _calculate_fan_in_and_fan_out(t: Tensor):
    if t.ndim < 2:
        raise ValueError(f"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions (shape {list(t.shape)})")
    receptive = 1
    for s in t.shape[2:]:
        receptive *= s
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fan(t: Tensor, mode: str) -> int:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    return fan_in if mode == "fan_in" else fan_out


@no_grad()
def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fills ``t`` in place from U(a, b) (defaults 0, 1) with the seeded generator and returns it; ``torch.nn.init.uniform_``."""
    return t.uniform_(a, b)


@no_grad()
def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fills ``t`` in place from N(mean, std^2) (defaults 0, 1) and returns it; ``torch.nn.init.normal_``."""
    return t.normal_(mean, std)


@no_grad()
def constant_(t: Tensor, val: float) -> Tensor:
    """Fills ``t`` in place with ``val`` and returns it; ``torch.nn.init.constant_``."""
    return t.fill_(val)


def zeros_(t: Tensor) -> Tensor:
    """Fills ``t`` with zeros in place and returns it; ``torch.nn.init.zeros_`` (Keras: ``zeros``)."""
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    """Fills ``t`` with ones in place and returns it; ``torch.nn.init.ones_`` (Keras: ``ones``)."""
    return constant_(t, 1.0)


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot/Xavier uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``, in place;
    ``torch.nn.init.xavier_uniform_`` (Keras: ``GlorotUniform``, Keras's Dense default). For a
    Linear weight (out, in) fan_in = in, fan_out = out; conv weights multiply both by the kernel area.

    Example::

        nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain("tanh"))
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot/Xavier normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``, in place; ``torch.nn.init.xavier_normal_`` (Keras: ``GlorotNormal``, not truncated here)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He/Kaiming uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``, ``gain = calculate_gain(nonlinearity, a)``,
    ``fan`` = fan_in (default) or fan_out per ``mode``; in place; ``torch.nn.init.kaiming_uniform_``
    (Keras: ``HeUniform``). ``a``: the negative slope for leaky_relu. PyTorch's Linear and Conv
    default is ``kaiming_uniform_(w, a=sqrt(5))``, i.e. b = 1 / sqrt(fan_in).
    """
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(t, mode))
    return uniform_(t, -bound, bound)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He/Kaiming normal: N(0, std^2) with ``std = calculate_gain(nonlinearity, a) / sqrt(fan)``, fan per ``mode`` (default fan_in), in place; ``torch.nn.init.kaiming_normal_`` (Keras: ``HeNormal``, not truncated here)."""
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode)))


def lecun_normal_(t: Tensor) -> Tensor:
    """N(0, 1/fan_in): LeCun's initialisation (Keras' lecun_normal is truncated; this is not)."""
    return normal_(t, 0.0, 1.0 / math.sqrt(_fan(t, "fan_in")))


@no_grad()
def orthogonal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a seeded normal matrix.

    PyTorch: ``torch.nn.init.orthogonal_``.
    """
    if t.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    rows = t.shape[0]
    cols = t.numel() // rows
    flat = randn(rows, cols, dtype="float64").numpy()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    t._c.copy_(tensor((gain * q).reshape(t.shape), dtype=t.dtype)._c)
    return t
