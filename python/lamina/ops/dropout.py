"""``F.dropout``: zeroes each element with probability ``p`` and scales the rest by 1 / (1 - p).
The mask comes from the seeded Philox generator (``lamina.manual_seed``): element i uses counter
offset + i, so it does not depend on the thread count, and the backward rebuilds the very same
mask from the saved (seed, offset) instead of storing it. C++: cpp/ops/dropout.cpp.
"""
from __future__ import annotations

from .. import _C
from ..autograd import grad_mode
from ..autograd.function import Function
from ..autograd.views import write_inplace
from ..tensor import Tensor

W = Tensor._wrap

__all__: list = []
FUNCTIONAL: list = ["dropout"]
TENSOR_METHODS: dict = {}


class Dropout(Function):
    @staticmethod
    def forward(ctx, x, p):
        out, seed, offset = _C.dropout_forward(x._c, p)
        ctx.state = (p, seed, offset)
        return W(out)

    @staticmethod
    def backward(ctx, dout):
        p, seed, offset = ctx.state
        return W(_C.dropout_backward(dout._c, p, seed, offset)), None

    @staticmethod
    def backward_graph(ctx, dout):
        return DropoutMask.apply(dout, ctx.state), None


class DropoutMask(Function):
    """g * mask / (1 - p), with the mask rebuilt from dropout's saved (seed, offset): dropout's
    gradient, and its own adjoint (so gradients of any order stay a DropoutMask)."""

    @staticmethod
    def forward(ctx, g, state):
        ctx.state = state
        p, seed, offset = state
        return W(_C.dropout_backward(g._c, p, seed, offset))

    @staticmethod
    def backward(ctx, dg):
        return DropoutMask.apply(dg, ctx.state), None

    backward_graph = backward


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Randomly zeroes elements with probability ``p`` during training, scaling survivors by
    ``1 / (1 - p)`` so the expectation is unchanged. ``training=False`` or ``p=0`` returns the input;
    ``p=1`` gives zeros. With ``inplace=True`` the result is written into ``input``.

    PyTorch: ``torch.nn.functional.dropout(input, p=0.5, training=True)``; Keras:
    ``keras.layers.Dropout``. The mask comes from the seeded generator.

    Example::

        F.dropout(lamina.ones(3, 4), p=0.5, training=True)   # entries 0 or 2
    """
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"dropout: expected a floating-point tensor, got {input.dtype}")
    if not training or p == 0.0:
        return input
    if not inplace:
        return Dropout.apply(input, p)
    if input.requires_grad and grad_mode._tls.enabled:
        return write_inplace(input, "dropout", lambda src: Dropout.apply(src, p))
    out = Dropout.apply(input, p)
    input._c.copy_(out._c)
    return input
