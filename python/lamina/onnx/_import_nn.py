"""ONNX normalisation (Batch/Layer/Instance/Group/RMS/LRN/Lp/MeanVariance), softmax family and
Dropout as lamina ops. BatchNormalization statistics are the module's buffers: in train() mode
they update in place, as lamina's BatchNorm layers do.
"""
from __future__ import annotations

import numpy as np

from ..autograd.grad_mode import no_grad
from ..ops import compare as Cmp
from ..ops import creation as C
from ..ops import dropout as DR
from ..ops import elementwise as E
from ..ops import indexing as I
from ..ops import norm as N
from ..ops import reduce as R
from ..ops import shape as S
from ..ops import softmax as SM
from ..ops import unary as U
from ._import_common import NodeContext, norm_axis, op, to_lamina


def _per_channel(v, ndim: int):
    return S.reshape(v, [1, -1] + [1] * (ndim - 2))


@op("BatchNormalization")
def _batch_norm(ctx: NodeContext, ins):
    x = ctx.tensor(ins[0])
    scale, bias, mean, var = (ctx.tensor(v, like=x) for v in ins[1:5])
    eps, momentum = ctx.attr("epsilon", 1e-5), ctx.attr("momentum", 0.9)
    outs = [o for o in ctx.node.output[1:] if o]
    if ctx.attr("training_mode", 0) or outs:
        # ONNX training mode: batch statistics, and the updated running ones as extra outputs
        dims = [0] + list(range(2, x.ndim))
        bm = R.mean(x, dims)
        bv = R.var(x, dims, correction=0)
        y = (x - _per_channel(bm, x.ndim)) / U.sqrt(_per_channel(bv, x.ndim) + eps)
        y = y * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)
        return y, mean * momentum + bm * (1 - momentum), var * momentum + bv * (1 - momentum)
    training = ctx.module is not None and ctx.module.training
    return N.batch_norm(x, mean, var, scale, bias, training, 1.0 - momentum, eps)


def _stats(x, dims, eps):
    mean = R.mean(x, dims, keepdim=True)
    d = x - mean
    var = R.mean(d * d, dims, keepdim=True)
    return d, mean, U.reciprocal(U.sqrt(var + eps))


@op("LayerNormalization")
def _layer_norm(ctx, ins):
    x = ctx.tensor(ins[0])
    scale = ctx.tensor(ins[1], like=x)
    bias = ctx.tensor(ins[2], like=x) if len(ins) > 2 else None
    axis = norm_axis(ctx, ctx.attr("axis", -1), x.ndim)
    eps = ctx.attr("epsilon", 1e-5)
    shape = list(x.shape[axis:])
    extra = [o for o in ctx.node.output[1:] if o]
    if not extra and list(scale.shape) == shape and (bias is None or list(bias.shape) == shape):
        return N.layer_norm(x, shape, scale, bias, eps)
    d, mean, inv = _stats(x, list(range(axis, x.ndim)), eps)
    y = d * inv * scale
    if bias is not None:
        y = y + bias
    return y, mean, inv


@op("InstanceNormalization")
def _instance_norm(ctx, ins):
    x = ctx.tensor(ins[0])
    scale, bias = ctx.tensor(ins[1], like=x), ctx.tensor(ins[2], like=x)
    d, _, inv = _stats(x, list(range(2, x.ndim)), ctx.attr("epsilon", 1e-5))
    return d * inv * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)


@op("GroupNormalization")
def _group_norm(ctx, ins):
    x = ctx.tensor(ins[0])
    scale, bias = ctx.tensor(ins[1], like=x), ctx.tensor(ins[2], like=x)
    g = ctx.attr("num_groups")
    n, c = x.shape[0], x.shape[1]
    xg = S.reshape(x, [n, g, -1])
    d, _, inv = _stats(xg, [2], ctx.attr("epsilon", 1e-5))
    y = S.reshape(d * inv, list(x.shape))
    if scale.shape[0] == g and g != c:  # opset 18: one scale/bias per group
        scale = S.reshape(S.expand(S.reshape(scale, [g, 1]), g, c // g), [c])
        bias = S.reshape(S.expand(S.reshape(bias, [g, 1]), g, c // g), [c])
    return y * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)


@op("RMSNormalization")
def _rms_norm(ctx, ins):
    x = ctx.tensor(ins[0])
    scale = ctx.tensor(ins[1], like=x)
    axis = norm_axis(ctx, ctx.attr("axis", -1), x.ndim)
    ms = R.mean(x * x, list(range(axis, x.ndim)), keepdim=True)
    return x * U.reciprocal(U.sqrt(ms + ctx.attr("epsilon", 1e-5))) * scale


@op("MeanVarianceNormalization")
def _mvn(ctx, ins):
    x = ctx.tensor(ins[0])
    axes = [norm_axis(ctx, a, x.ndim) for a in (ctx.attr("axes") or [0, 2, 3])]
    d, _, inv = _stats(x, axes, 1e-9)
    return d * inv


@op("LpNormalization")
def _lp_norm(ctx, ins):
    x = ctx.tensor(ins[0])
    axis = norm_axis(ctx, ctx.attr("axis", -1), x.ndim)
    p = ctx.attr("p", 2)
    if p == 1:
        nrm = R.sum(U.abs(x), axis, keepdim=True)
    elif p == 2:
        nrm = U.sqrt(R.sum(x * x, axis, keepdim=True))
    else:
        raise ctx.unsupported(f"p={p}")
    zero = Cmp.eq(nrm, 0)
    return U.where(zero, x * 0.0, x / U.where(zero, C.ones(1, dtype=x.dtype), nrm))


@op("LRN")
def _lrn(ctx, ins):
    x = ctx.tensor(ins[0])
    size = ctx.attr("size")
    alpha, beta, bias = ctx.attr("alpha", 1e-4), ctx.attr("beta", 0.75), ctx.attr("bias", 1.0)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = x * x
    flat = [0, 0] * (x.ndim - 2) + [lo, hi]
    sp = I.pad(sq, flat)  # zero-pad the channel axis, then sum `size` shifted windows
    c = x.shape[1]
    acc = None
    for i in range(size):
        part = S.narrow(sp, 1, i, c)
        acc = part if acc is None else acc + part
    return x / E.pow(acc * (alpha / size) + bias, beta)


def _softmax_axis(ctx, x):
    return norm_axis(ctx, ctx.attr("axis", -1), x.ndim)


@op("Softmax")
def _softmax(ctx, ins):
    x = ctx.tensor(ins[0])
    return SM.softmax(x, _softmax_axis(ctx, x))


@op("LogSoftmax")
def _log_softmax(ctx, ins):
    x = ctx.tensor(ins[0])
    return SM.log_softmax(x, _softmax_axis(ctx, x))


@op("Hardmax")
def _hardmax(ctx, ins):
    x = ctx.tensor(ins[0])
    axis = _softmax_axis(ctx, x)
    idx = R.argmax(x, axis, keepdim=True)  # the first maximum, as ONNX asks
    classes = to_lamina(np.arange(x.shape[axis], dtype=np.int64).reshape([-1] + [1] * (x.ndim - 1 - axis)))
    return Cmp.eq(idx, classes).to(x.dtype)


@op("Dropout")
def _dropout(ctx, ins):
    x = ctx.tensor(ins[0])
    ratio = ctx.scalar(ins[1] if len(ins) > 1 else None, 0.5)
    training = bool(ctx.scalar(ins[2] if len(ins) > 2 else None, False)) or (
        ctx.module is not None and ctx.module.training)
    want_mask = len(ctx.node.output) > 1 and ctx.node.output[1]
    if not training or ratio == 0:
        y = x
        mask = C.ones(*x.shape, dtype=x.dtype) if want_mask else None
    else:
        y = DR.dropout(x, float(ratio), True)
        if want_mask:
            with no_grad():
                mask = Cmp.ne(y, 0)
    if not want_mask:
        return y
    return y, (mask if mask.dtype.name == "bool" else Cmp.ne(mask, 0))


def _nll(ctx, logp, target, weight):
    from ..ops import loss as LS
    t = ctx.tensor(target)  # class indices, widened to int64
    ignore = ctx.attr("ignore_index")
    # without ignore_index no target is ignored: pass one no class index can take
    return LS.nll_loss(logp, t, weight, ignore_index=-(2 ** 62) if ignore is None else ignore,
                       reduction=ctx.attr("reduction", "mean"))


@op("NegativeLogLikelihoodLoss")
def _nll_loss(ctx, ins):
    x = ctx.tensor(ins[0])
    w = ctx.tensor(ins[2], like=x) if len(ins) > 2 else None
    return _nll(ctx, x, ins[1], w)


@op("SoftmaxCrossEntropyLoss")
def _softmax_ce(ctx, ins):
    x = ctx.tensor(ins[0])
    w = ctx.tensor(ins[2], like=x) if len(ins) > 2 else None
    logp = SM.log_softmax(x, 1)
    return _nll(ctx, logp, ins[1], w), logp


@op("EyeLike")
def _eye_like(ctx, ins):
    from ._import_common import lamina_dtype
    shape = list(ins[0].shape)
    k = ctx.attr("k", 0)
    dt = lamina_dtype(ctx.attr("dtype"), ctx.where) if ctx.has_attr("dtype") else ctx.tensor(ins[0]).dtype
    # a constant of the input's shape: ones on the k-th diagonal
    eye = np.eye(shape[0], shape[1], k, dtype=dt._np)
    return to_lamina(eye, ctx.where)
