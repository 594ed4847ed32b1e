"""lamina's dtypes (float32 default, float64, int64, bool) as PyTorch-like objects.

Each wraps the C++ enum value; ``lamina.float32`` etc. are the public names.
"""
from __future__ import annotations

import builtins

import numpy as np

from . import _C


class dtype:
    """An element type. Compare with ``is`` or ``==``; ``str(lamina.float32) == 'lamina.float32'``.

    PyTorch: ``torch.dtype`` (``lamina.float32``, ``float64``, ``int64``, ``bool``, as ``torch.float32``, ...).
    """

    __slots__ = ("name", "_c", "itemsize", "is_floating_point", "_np")

    def __init__(self, name: str, c, np_dtype) -> None:
        self.name = name
        self._c = c
        self.itemsize = _C.dtype_itemsize(c)
        self.is_floating_point = name in ("float32", "float64")
        self._np = np.dtype(np_dtype)

    def __repr__(self) -> str:
        return f"lamina.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


float32 = dtype("float32", _C.DType.float32, np.float32)
float64 = dtype("float64", _C.DType.float64, np.float64)
int64 = dtype("int64", _C.DType.int64, np.int64)
bool_ = dtype("bool", _C.DType.bool, np.bool_)
# PyTorch-style aliases
float = float32  # noqa: A001
double = float64
long = int64

_FROM_C = {float32._c: float32, float64._c: float64, int64._c: int64, bool_._c: bool_}
_BY_NAME = {"float32": float32, "float64": float64, "int64": int64, "bool": bool_,
            "float": float32, "double": float64, "long": int64}

_default = float32


def _by_name(name: str) -> dtype:
    return _BY_NAME[name]


def from_c(c) -> dtype:
    return _FROM_C[c]


def as_dtype(d) -> dtype:
    """Accepts a lamina dtype, a name ('float32'), a numpy dtype or a Python type."""
    if isinstance(d, dtype):
        return d
    if isinstance(d, str):
        try:
            return _BY_NAME[d]
        except KeyError:
            raise TypeError(f"unknown dtype {d!r}; expected one of float32, float64, int64, bool") from None
    if d is builtins.float:
        return _default
    if d is int:
        return int64
    if d is bool:
        return bool_
    try:
        nd = np.dtype(d)
    except TypeError:
        raise TypeError(f"expected a lamina dtype, got {d!r}") from None
    return from_numpy_dtype(nd)


def from_numpy_dtype(nd: np.dtype) -> dtype:
    """The lamina dtype that holds numpy dtype ``nd`` without loss (TypeError if none does)."""
    for d in (float32, float64, int64, bool_):
        if d._np == nd:
            return d
    raise TypeError(f"numpy dtype {nd} is not supported by lamina (float32, float64, int64, bool)")


def get_default_dtype() -> dtype:
    """The dtype of floating-point tensors created from Python numbers (float32 unless changed).

    PyTorch: ``torch.get_default_dtype``.
    """
    return _default


def set_default_dtype(d) -> None:
    """Sets the default floating-point dtype (float32 or float64).

    PyTorch: ``torch.set_default_dtype``.
    """
    global _default
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _default = d
