"""Comparisons (eq, ne, lt, le, gt, ge), logical and/or/not, isnan/isfinite and the operators
``==``, ``<``, ``~``, ``&``, ``|``: bool results, no gradient. They share the binary/unary kernels
and the scalar type promotion of ops/elementwise.py (C++: cpp/ops/elementwise.cpp, unary.cpp).
"""
from __future__ import annotations

from .. import _C
from .._state import _tracers
from ..autograd.function import Function
from ..tensor import Tensor
from .elementwise import _B, _BOOL, _U, W, _is_operand, _op, _scalar_dtype


class Compare(Function):
    """Comparisons and logical and/or as an op, used only while lamina.jit.trace records (they
    have no gradient, so they are plain C++ calls otherwise)."""

    @staticmethod
    def forward(ctx, op, a, b):
        return _compare_c(op, a, b)

    @staticmethod
    def backward(ctx, dout):
        return None, None, None


class Predicate(Function):
    """logical_not / isnan / isfinite as an op, used only while lamina.jit.trace records."""

    @staticmethod
    def forward(ctx, x, op):
        return W(_C.unary_forward(x._c, op))

    @staticmethod
    def backward(ctx, dout):
        return None, None


def _compare(op, a, b) -> Tensor:
    if _tracers:
        return Compare.apply(op, a, b)
    return _compare_c(op, a, b)


def _predicate(x, op) -> Tensor:
    if _tracers:
        return Predicate.apply(x, op)
    return W(_C.unary_forward(x._c, op))


def _compare_c(op, a, b) -> Tensor:
    if isinstance(b, Tensor):
        if isinstance(a, Tensor):
            return W(_C.binary_forward(a._c, b._c, op, 1.0))
        return W(_C.binary_scalar_forward(b._c, float(a), op, True, _scalar_dtype(b._c.dtype, a, op), 1.0))
    if isinstance(a, Tensor):
        return W(_C.binary_scalar_forward(a._c, float(b), op, False, _scalar_dtype(a._c.dtype, b, op), 1.0))
    raise TypeError(f"{op.name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")


def eq(input, other) -> Tensor:
    """Elementwise ``==`` (bool tensor).

    PyTorch: ``torch.eq``.
    """
    return _compare(_B.eq, input, other)


def ne(input, other) -> Tensor:
    """Elementwise ``!=``.

    PyTorch: ``torch.ne``.
    """
    return _compare(_B.ne, input, other)


def lt(input, other) -> Tensor:
    """Elementwise ``<``.

    PyTorch: ``torch.lt``.
    """
    return _compare(_B.lt, input, other)


def le(input, other) -> Tensor:
    """Elementwise ``<=``.

    PyTorch: ``torch.le``.
    """
    return _compare(_B.le, input, other)


def gt(input, other) -> Tensor:
    """Elementwise ``>``.

    PyTorch: ``torch.gt``.
    """
    return _compare(_B.gt, input, other)


def ge(input, other) -> Tensor:
    """Elementwise ``>=``.

    PyTorch: ``torch.ge``.
    """
    return _compare(_B.ge, input, other)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def logical_and(input, other) -> Tensor:
    """True where both are nonzero.

    PyTorch: ``torch.logical_and``.
    """
    return _compare(_B.logical_and, input, other)


def logical_or(input, other) -> Tensor:
    """True where either is nonzero.

    PyTorch: ``torch.logical_or``.
    """
    return _compare(_B.logical_or, input, other)


def logical_not(input) -> Tensor:
    """True where the element is zero (False).

    PyTorch: ``torch.logical_not``.
    """
    return _predicate(input, _U.logical_not)


def isnan(input) -> Tensor:
    """True where the element is NaN.

    PyTorch: ``torch.isnan``.
    """
    return _predicate(input, _U.isnan)


def isfinite(input) -> Tensor:
    """True where the element is neither NaN nor infinite.

    PyTorch: ``torch.isfinite``.
    """
    return _predicate(input, _U.isfinite)


def all_finite(t: Tensor) -> bool:
    """Whether every element of ``t`` is finite (used by ``autograd.detect_anomaly``)."""
    return _C.all_finite(t._c)


def _invert(self):
    if self._c.dtype != _BOOL:
        raise TypeError(f"~ (bitwise not) is only supported for bool tensors here, got {self.dtype}")
    return logical_not(self)


def _bool_op(op, name):
    def f(self, other):
        if not _is_operand(other):
            return NotImplemented
        if self._c.dtype != _BOOL or (isinstance(other, Tensor) and other._c.dtype != _BOOL):
            raise TypeError(f"{name}: only bool tensors are supported (logical {name})")
        return _compare(op, self, other)
    return f


__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
           "logical_and", "logical_or", "logical_not", "isnan", "isfinite"]
FUNCTIONAL: list = []
TENSOR_METHODS: dict = {
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "logical_not": logical_not,
    "logical_and": logical_and, "logical_or": logical_or, "isnan": isnan, "isfinite": isfinite,
    "__eq__": _op(eq), "__ne__": _op(ne), "__lt__": _op(lt), "__le__": _op(le), "__gt__": _op(gt),
    "__ge__": _op(ge), "__invert__": _invert,
    "__and__": _bool_op(_B.logical_and, "and"), "__or__": _bool_op(_B.logical_or, "or"),
}
