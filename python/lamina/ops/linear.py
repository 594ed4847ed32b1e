"""Fused linear layer ``F.linear(x, weight, bias)``: ``x @ weight.T + bias`` in one C++ call (one
GEMM with the bias broadcast into the output first). C++: cpp/ops/linear.cpp.
"""
from __future__ import annotations

from .. import _C
from ..autograd.engine import take_grad_destination
from ..autograd.function import Function
from ..tensor import Tensor
from .elementwise import _stand_in

W = Tensor._wrap

__all__: list = []
FUNCTIONAL: list = ["linear"]
TENSOR_METHODS: dict = {}


class Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        if ctx.needs_input_grad:
            # dx reads weight and dweight reads x: keep each only when the other's gradient needs it.
            nx, nw = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
            ctx.x = x._c if nw else _stand_in(x._c)
            ctx.w = weight._c if nx else _stand_in(weight._c)
            # Leaves whose gradient has somewhere to go (engine.take_grad_destination): DDP's window.
            ctx.dest = (weight, bias) if _has_dest(weight) or _has_dest(bias) else None
        return W(_C.linear_forward(x._c, weight._c, None if bias is None else bias._c))

    @staticmethod
    def backward(ctx, dout):
        nx, nw, nb = (ctx.needs_input_grad + (False,) * 3)[:3]
        if ctx.dest is None:
            dx, dw, db = _C.linear_backward(dout._c, ctx.x, ctx.w, nx, nw, nb)
        else:
            wd = take_grad_destination(ctx.dest[0]) if nw else None
            bd = take_grad_destination(ctx.dest[1]) if nb else None
            dx, dw, db = _C.linear_backward(dout._c, ctx.x, ctx.w, nx, nw, nb,
                                            wd and wd[0], bd and bd[0], wd[1] if wd else 1.0, bd[1] if bd else 1.0)
        return (W(dx) if nx else None, W(dw) if nw else None, W(db) if nb else None)

    @staticmethod
    def backward_graph(ctx, dout):
        # dx = dout @ W, dW = dout^T @ x (rows flattened), db = column sums: matmuls and a sum.
        nx, nw, nb = (ctx.needs_input_grad + (False,) * 3)[:3]
        x, weight = ctx.input(0, ctx.x), ctx.input(1, ctx.w)
        dx = dw = db = None
        if nx:
            dx = dout @ weight
        if nw or nb:
            d2 = dout.reshape(-1, weight.shape[0])
            if nw:
                dw = d2.transpose(0, 1) @ x.reshape(-1, weight.shape[1])
            if nb:
                db = d2.sum(0)
        return dx, dw, db


def _has_dest(t) -> bool:
    acc = None if t is None else t._accum
    return acc is not None and acc.dest is not None


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: input ``(..., in_features)``, weight ``(out_features,
    in_features)``, bias ``(out_features,)`` or None -> ``(..., out_features)``.

    PyTorch: ``torch.nn.functional.linear``; the layer form is :class:`lamina.nn.Linear`.

    Example::

        F.linear(lamina.randn(4, 3), lamina.randn(5, 3), lamina.zeros(5)).shape   # (4, 5)
    """
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"linear: expected Tensors, got {type(input).__name__} and {type(weight).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"linear: bias must be a Tensor or None, got {type(bias).__name__}")
    return Linear.apply(input, weight, bias)
