"""matmul (``@``): 1-D, 2-D and batched with broadcasting. C++: cpp/ops/matmul.cpp."""
from __future__ import annotations

from .. import _C
from ..autograd.function import Function
from ..tensor import Tensor
from .elementwise import _stand_in

W = Tensor._wrap


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad:
            # da reads b and db reads a: an operand only the other's gradient would read is kept
            # as a shape stand-in (PyTorch saves the same).
            na, nb = ctx.needs_input_grad
            ctx.save_for_backward(a if nb else W(_stand_in(a._c)), b if na else W(_stand_in(b._c)))
        return W(_C.matmul_forward(a._c, b._c))

    @staticmethod
    def backward(ctx, dout):
        a, b = ctx.saved_tensors
        da, db = _C.matmul_backward(dout._c, a._c, b._c, ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return (W(da) if ctx.needs_input_grad[0] else None, W(db) if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_graph(ctx, dout):
        # Bilinear: da = dout @ b^T and db = a^T @ dout, themselves matmuls (1-D operands promoted
        # as in forward; the engine sums broadcast batch dims away).
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        a_vec, b_vec = a.dim() == 1, b.dim() == 1
        d = dout.unsqueeze(-1) if b_vec else dout
        if a_vec:
            d = d.unsqueeze(-2)
        da = db = None
        if na:
            da = MatMul.apply(d, (b.unsqueeze(-1) if b_vec else b).transpose(-2, -1))
            if a_vec:
                da = da.squeeze(-2)
        if nb:
            db = MatMul.apply((a.unsqueeze(0) if a_vec else a).transpose(-2, -1), d)
            if b_vec:
                db = db.squeeze(-1)
        return da, db


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy semantics (``a @ b``).

    PyTorch: ``torch.matmul``; NumPy: ``np.matmul``. float32 or float64 through BLAS.

    Example::

        (lamina.randn(10, 4, 5) @ lamina.randn(5, 2)).shape         # (10, 4, 2)
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    return MatMul.apply(a, b)


__all__: list = ["matmul"]
FUNCTIONAL: list = []
TENSOR_METHODS: dict = {
    "matmul": matmul, "mm": matmul, "__matmul__": matmul,
    "__rmatmul__": lambda self, other: matmul(other, self),
}
