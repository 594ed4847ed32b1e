"""softmax and log_softmax over one dimension (stable; backward from the saved output).
C++: cpp/ops/softmax.cpp.
"""
from __future__ import annotations

from .. import _C
from .. import _dtype as D
from ..autograd.function import Function
from ..tensor import Tensor

W = Tensor._wrap


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim, log):
        y = W(_C.softmax_forward(x._c, dim, log))
        ctx.save_for_backward(y)
        ctx.args = (dim, log)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        dim, log = ctx.args
        return W(_C.softmax_backward(dy._c, y._c, dim, log)), None, None

    @staticmethod
    def backward_graph(ctx, dy):
        # From the saved output y (attached to this op), so every order differentiates through it.
        (y,) = ctx.saved_tensors
        dim, log = ctx.args
        if log:
            return dy - y.exp() * dy.sum(dim, keepdim=True), None, None
        return y * (dy - (dy * y).sum(dim, keepdim=True)), None, None


def _prep(input, dim, dtype, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): expected a Tensor as input, got {type(input).__name__}")
    if dim is None:
        raise TypeError(f"{op}(): dim is required (implicit dim choice is deprecated in PyTorch)")
    if dtype is not None:
        input = input.to(D.as_dtype(dtype))
    elif not input.dtype.is_floating_point:
        raise TypeError(f"{op}(): expected a floating-point tensor, got {input.dtype}")
    return input, int(dim)


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``.

    PyTorch: ``torch.softmax`` / ``torch.nn.functional.softmax(input, dim)``; Keras:
    ``keras.activations.softmax``. Computed stably (the row maximum is subtracted first); every
    slice along ``dim`` sums to 1.

    Example::

        p = F.softmax(lamina.randn(4, 10), dim=1)   # p.sum(1) == 1
    """
    x, d = _prep(input, dim, dtype, "softmax")
    return Softmax.apply(x, d, False)


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``, computed stably.

    PyTorch: ``torch.nn.functional.log_softmax``.
    """
    x, d = _prep(input, dim, dtype, "log_softmax")
    return Softmax.apply(x, d, True)


__all__: list = ["softmax", "log_softmax"]
FUNCTIONAL: list = ["softmax", "log_softmax"]
TENSOR_METHODS: dict = {"softmax": softmax, "log_softmax": log_softmax}
