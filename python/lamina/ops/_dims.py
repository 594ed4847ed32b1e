"""Helpers the joining, indexing and padding ops share: dimension wrapping with PyTorch's
messages, zero-filled C++ buffers."""
from __future__ import annotations

import numbers

from .. import _C
from ..tensor import Tensor

W = Tensor._wrap


def _wrap_dim(dim: int, ndim: int, op: str) -> int:
    if type(dim) is int and ndim > 0 and -ndim <= dim < ndim:  # the common case, without the ABC check
        return dim % ndim
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not lo <= dim <= hi:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return int(dim) % max(ndim, 1)


def _zeros_c(shape, dt_c, device="cpu"):
    g = _C.empty(list(shape), dt_c, device)
    _C.fill_(g, 0.0)
    return g
