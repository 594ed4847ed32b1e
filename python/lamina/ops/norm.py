"""``F.batch_norm`` and ``F.layer_norm``, forward and backward in C++ (cpp/ops/norm.cpp).
batch_norm normalises x ``(N, C, *)`` per channel; in training it uses the batch statistics and
updates ``running_mean`` / ``running_var`` in place (running_var from the unbiased variance, as in
PyTorch). layer_norm normalises over the trailing ``normalized_shape`` dimensions.
"""
from __future__ import annotations

import numbers

from .. import _C
from ..autograd.function import Function
from ..tensor import Tensor

W = Tensor._wrap

__all__: list = []
FUNCTIONAL: list = ["batch_norm", "layer_norm"]
TENSOR_METHODS: dict = {}


def _c(t):
    return None if t is None else t._c


class BatchNorm(Function):
    @staticmethod
    def forward(ctx, x, running_mean, running_var, weight, bias, training, momentum, eps):
        out, mean, invstd = _C.batch_norm_forward(x._c, _c(running_mean), _c(running_var), _c(weight), _c(bias),
                                                  training, momentum, eps)
        ctx.save_for_backward(x, weight)
        ctx.stats, ctx.training = (mean, invstd), training
        return W(out)

    @staticmethod
    def backward(ctx, dout):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        dx, dw, db = _C.batch_norm_backward(dout._c, x._c, _c(weight), ctx.stats[0], ctx.stats[1], ctx.training,
                                            need[0], need[3], need[4])
        return (W(dx) if need[0] else None, None, None, W(dw) if need[3] else None,
                W(db) if need[4] else None, None, None, None)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalisation of ``input`` ``(N, C)`` or ``(N, C, *)`` over every dim but C.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``. training: batch mean and biased variance;
    the running statistics (if given) become ``(1 - momentum) * running + momentum * batch``
    (unbiased variance). Eval: the running statistics are used (they must be given)."""
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"batch_norm: {name} must be a Tensor or None, got {type(t).__name__}")
    if momentum is None:
        raise NotImplementedError("batch_norm: momentum=None (cumulative average) is not supported")
    return BatchNorm.apply(input, running_mean, running_var, weight, bias, bool(training), float(momentum),
                           float(eps))


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, shape, weight, bias, eps):
        out, mean, rstd = _C.layer_norm_forward(x._c, shape, _c(weight), _c(bias), eps)
        ctx.save_for_backward(x, weight)
        ctx.shape, ctx.stats = shape, (mean, rstd)
        return W(out)

    @staticmethod
    def backward(ctx, dout):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        dx, dw, db = _C.layer_norm_backward(dout._c, x._c, ctx.shape, _c(weight), ctx.stats[0], ctx.stats[1],
                                            need[0], need[2], need[3])
        return (W(dx) if need[0] else None, None, W(dw) if need[2] else None, W(db) if need[3] else None, None)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalises over the last ``len(normalized_shape)`` dims (which must equal
    ``normalized_shape``): ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the biased
    variance; weight and bias have shape ``normalized_shape``."""
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = [int(normalized_shape)]
    return LayerNorm.apply(input, [int(v) for v in normalized_shape], weight, bias, float(eps))
