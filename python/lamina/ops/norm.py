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
        ctx.stats, ctx.training, ctx.eps = (mean, invstd), training, eps
        return W(out)

    @staticmethod
    def backward(ctx, dout):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        dx, dw, db = _C.batch_norm_backward(dout._c, x._c, _c(weight), ctx.stats[0], ctx.stats[1], ctx.training,
                                            need[0], need[3], need[4])
        return (W(dx) if need[0] else None, None, None, W(dw) if need[3] else None,
                W(db) if need[4] else None, None, None, None)

    @staticmethod
    def backward_graph(ctx, dout):
        # The closed form as lamina ops (every dim but C reduced; xhat = (x - mean) * invstd):
        # training: dx = invstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = dout * weight, with
        # mean and invstd functions of x; eval: dx = gw * invstd (running statistics are constants);
        # dweight = sum(dout * xhat), dbias = sum(dout).
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        x = ctx.input(0, x._c)
        dims = [0] + list(range(2, x.ndim))
        bshape = [1, x.shape[1]] + [1] * (x.ndim - 2)
        w = None if weight is None else ctx.input(3, weight._c).reshape(bshape)
        if ctx.training:
            xc = x - x.mean(dims, keepdim=True)
            r = ((xc * xc).mean(dims, keepdim=True) + ctx.eps) ** -0.5
        else:
            mean, invstd = (W(s if s.dtype == x._c.dtype else s.to_dtype(x._c.dtype)).reshape(bshape)
                            for s in ctx.stats)
            xc, r = x - mean, invstd
        xhat = xc * r
        dx = dw = db = None
        if need[0]:
            gw = dout if w is None else dout * w
            if ctx.training:
                dx = r * (gw - gw.mean(dims, keepdim=True) - xhat * (gw * xhat).mean(dims, keepdim=True))
            else:
                dx = gw * r
        if need[3]:
            dw = (dout * xhat).sum(dims)
        if need[4]:
            db = dout.sum(dims)
        return dx, None, None, dw, db, None, None, None


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalisation of ``input`` ``(N, C)`` or ``(N, C, *)`` over every dim but C.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``. training: batch mean and biased variance;
    the running statistics (if given) become ``(1 - momentum) * running + momentum * batch``
    (unbiased variance). Eval: the running statistics are used (they must be given).

    PyTorch: ``torch.nn.functional.batch_norm``.
    """
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
        ctx.shape, ctx.stats, ctx.eps = shape, (mean, rstd), eps
        return W(out)

    @staticmethod
    def backward(ctx, dout):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        dx, dw, db = _C.layer_norm_backward(dout._c, x._c, ctx.shape, _c(weight), ctx.stats[0], ctx.stats[1],
                                            need[0], need[2], need[3])
        return (W(dx) if need[0] else None, None, W(dw) if need[2] else None, W(db) if need[3] else None, None)

    @staticmethod
    def backward_graph(ctx, dout):
        # Closed form as lamina ops over the trailing normalized dims (xhat = (x - mean) * rstd):
        # dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = dout * weight;
        # dweight = sum over the leading dims of dout * xhat, dbias = sum of dout.
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        x = ctx.input(0, x._c)
        k = len(ctx.shape)
        dims, lead = list(range(x.ndim - k, x.ndim)), list(range(x.ndim - k))
        xc = x - x.mean(dims, keepdim=True)
        r = ((xc * xc).mean(dims, keepdim=True) + ctx.eps) ** -0.5
        xhat = xc * r
        dx = dw = db = None
        if need[0]:
            gw = dout if weight is None else dout * ctx.input(2, weight._c)
            dx = r * (gw - gw.mean(dims, keepdim=True) - xhat * (gw * xhat).mean(dims, keepdim=True))
        if need[2]:
            dw = (dout * xhat).sum(lead) if lead else dout * xhat
        if need[3]:
            db = dout.sum(lead) if lead else dout
        return dx, None, dw, db, None


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalises over the last ``len(normalized_shape)`` dims (which must equal
    ``normalized_shape``): ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the biased
    variance; weight and bias have shape ``normalized_shape``.

    PyTorch: ``torch.nn.functional.layer_norm``.
    """
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = [int(normalized_shape)]
    return LayerNorm.apply(input, [int(v) for v in normalized_shape], weight, bias, float(eps))
