"""matmul (``@``): 1-D, 2-D and batched with broadcasting. C++: cpp/ops/matmul.cpp."""
from __future__ import annotations

from .. import _C
from ..autograd.function import Function
from ..tensor import Tensor

W = Tensor._wrap


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return W(_C.matmul_forward(a._c, b._c))

    @staticmethod
    def backward(ctx, dout):
        a, b = ctx.saved_tensors
        da, db = _C.matmul_backward(dout._c, a._c, b._c, ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return (W(da) if ctx.needs_input_grad[0] else None, W(db) if ctx.needs_input_grad[1] else None)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy semantics (``a @ b``)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    return MatMul.apply(a, b)
