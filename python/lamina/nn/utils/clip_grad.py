"""Gradient clipping as ``torch.nn.utils``: ``clip_grad_norm_`` (scale all gradients together so
their joint norm is at most ``max_norm``), ``clip_grad_value_`` (clamp each element), and the two
halves of the former, ``get_total_norm`` and ``clip_grads_with_norm_``. The norm, scale and clamp
each run as one C++ call over all gradients.
"""
from __future__ import annotations

import math
from typing import Iterable, Union

import numpy as np

from ... import _C
from ... import _dtype as D
from ...ops.creation import tensor
from ...tensor import Tensor

_tensor_or_tensors = Union[Tensor, Iterable[Tensor]]


def _grads(parameters: _tensor_or_tensors) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _as_list(tensors: _tensor_or_tensors) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _result_dtype(tensors: list[Tensor]):
    return D.float64 if any(t.dtype is D.float64 for t in tensors) else D.float32


def get_total_norm(tensors: _tensor_or_tensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The norm of all ``tensors`` together, as if concatenated into one vector (a 0-d tensor of
    their dtype; ``tensor(0.)`` when there are none).

    Args:
        tensors: a tensor or an iterable of tensors (typically gradients).
        norm_type: the p of the p-norm; ``inf`` for the largest absolute value.
        error_if_nonfinite: raise RuntimeError when the norm is nan or inf.

    PyTorch: ``torch.nn.utils.get_total_norm``.
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not (norm_type > 0):
        raise ValueError(f"get_total_norm: norm_type must be positive or inf, got {norm_type}")
    if len(tensors) == 0:
        return tensor(0.0)
    dt = _result_dtype(tensors)
    total = _C.multi_tensor_norm([t._c for t in tensors], norm_type)
    if dt is D.float32:
        total = float(np.float32(total))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`")
    return tensor(total, dtype=dt)


def _scale_grads(grads: list[Tensor], max_norm: float, total_norm: Tensor | float) -> None:
    tn = float(total_norm)
    if _result_dtype(grads) is D.float32:
        # float32 arithmetic as torch: (total + 1e-6).reciprocal() * max_norm, clamped to 1
        f = np.float32
        coef = float(np.minimum(f(1.0) / (f(tn) + f(1e-6)) * f(max_norm), f(1.0)))
    else:
        coef = float(np.minimum(1.0 / (tn + 1e-6) * float(max_norm), 1.0))
    _C.multi_tensor_scale_([g._c for g in grads], coef)


def clip_grads_with_norm_(parameters: _tensor_or_tensors, max_norm: float,
                          total_norm: Tensor | float, foreach: bool | None = None) -> None:
    """Scales the gradients of ``parameters`` by ``min(1, max_norm / (total_norm + 1e-6))`` in
    place (always multiplying, as PyTorch does, so a non-finite norm spreads to the gradients)."""
    grads = _grads(parameters)
    if grads:
        _scale_grads(grads, max_norm, total_norm)


def clip_grad_norm_(parameters: _tensor_or_tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Clips the gradients of ``parameters`` in place so that their joint ``norm_type``-norm is at
    most ``max_norm``, and returns that norm (before clipping) as a 0-d tensor.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped.
        max_norm: the largest norm allowed.
        norm_type: the p of the p-norm (default 2); ``inf`` for the largest absolute value.
        error_if_nonfinite: raise RuntimeError when the norm is nan or inf.

    PyTorch: ``torch.nn.utils.clip_grad_norm_``.
    """
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        _scale_grads(grads, max_norm, total)
    return total


def clip_grad_value_(parameters: _tensor_or_tensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamps every gradient element of ``parameters`` into ``[-clip_value, clip_value]`` in
    place.

    PyTorch: ``torch.nn.utils.clip_grad_value_``.
    """
    clip_value = float(clip_value)
    grads = _grads(parameters)
    if grads:
        _C.multi_tensor_clamp_([g._c for g in grads], -clip_value, clip_value)
