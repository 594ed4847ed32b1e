"""ONNX export of the layer ops: linear, convolutions, pools (adaptive ones where the window is
fixed), batch norm (inference), layer norm, embedding, dropout (inference only), attention, and
the RBF and conic-section units composed from elementwise ops.
"""
from __future__ import annotations

import numpy as np

from ..jit.ir import Sym
from ..ops.attention import ScaledDotProductAttention
from ..ops.conv import _Conv
from ..ops.dropout import Dropout
from ..ops.embedding import Embedding
from ..ops.linear import Linear
from ..ops.norm import BatchNorm, LayerNorm
from ..ops.pool import (
    _AdaptiveAvgPool,
    _AdaptiveMaxPool,
    _AvgPool,
    _MaxPool,
    _MaxPool2x2,
    pool_spec,
)
from ..ops.rbf import RBF, Conic
from ._export_core import np_dtype, rank, unsupported


def _linear(b, n, a):
    x, w, bias = a
    if rank(n.args[0]) == 2:
        return b.op("Gemm", [x, w] + ([bias] if bias is not None else []), transB=1)
    y = b.op("MatMul", [x, b.op("Transpose", [w], perm=[1, 0])])
    return b.op("Add", [y, bias]) if bias is not None else y


def _last(t, dims: int):
    """1-D ops keep 2-D parameter pairs with a unit first entry: their last entries."""
    return list(t)[-dims:]


def _conv(b, n, a):
    x, w, bias, p, transposed = a
    d = int(p.dims)
    attrs = dict(strides=_last(p.stride, d), dilations=_last(p.dilation, d), group=int(p.groups))
    pad = _last(p.padding, d)
    attrs["pads"] = pad + pad
    ins = [x, w] + ([bias] if bias is not None else [])
    if transposed:
        op = _last(p.output_padding, d)
        if any(op):
            attrs["output_padding"] = op
        return b.op("ConvTranspose", ins, **attrs)
    return b.op("Conv", ins, **attrs)


def _pool_attrs(spec):
    d = spec["dims"]
    k, s, p = _last(spec["kernel"], d), _last(spec["stride"], d), _last(spec["padding"], d)
    return d, dict(kernel_shape=k, strides=s, pads=p + p, ceil_mode=int(spec["ceil_mode"]))


def _max_pool(b, n, a):
    x, params = a
    if n.outputs[1] is not None and _used(b, n.outputs[1]):
        raise unsupported(n, "max pooling indices (ONNX's MaxPool indices count over the whole tensor, lamina's "
                             "within each plane)")
    spec = pool_spec(params)
    d, attrs = _pool_attrs(spec)
    dil = _last(spec["dilation"], d)
    return [b.op("MaxPool", [x], dilations=dil if any(v != 1 for v in dil) else None, **attrs), None]


def _max_pool_2x2(b, n, a):
    return b.op("MaxPool", [a[0]], kernel_shape=[2, 2], strides=[2, 2])


def _avg_pool(b, n, a):
    x, params = a
    spec = pool_spec(params)
    d, attrs = _pool_attrs(spec)
    if spec["divisor"]:
        # sum / divisor = (mean over the padded window) * window size / divisor: exact while every
        # window lies inside the padded input, i.e. without ceil_mode
        if spec["ceil_mode"]:
            raise unsupported(n, "avg_pool with divisor_override and ceil_mode=True")
        y = b.op("AveragePool", [x], count_include_pad=1, **attrs)
        k = float(np.prod(attrs["kernel_shape"]))
        return b.op("Mul", [y, b.scalar(k / spec["divisor"], n.args[0])])
    return b.op("AveragePool", [x], count_include_pad=int(spec["count_include_pad"]), **attrs)


def _adaptive(b, n, a, kind: str):
    x, size = a[0], a[1]
    v = n.args[0]
    ins = v.shape[-len(size):]
    if any(isinstance(s, Sym) for s in ins):
        raise unsupported(n, f"adaptive_{kind}_pool over a dimension that follows the batch")
    size = [i if o is None else o for i, o in zip(ins, size)]
    if all(o == 1 for o in size):
        y = b.op("GlobalAveragePool" if kind == "avg" else "GlobalMaxPool", [x])
    else:
        if any(i % o for i, o in zip(ins, size)):
            raise unsupported(n, f"adaptive_{kind}_pool from {list(ins)} to {list(size)}: ONNX pools have one window "
                                 "size, which exists only when each input size is a multiple of the output size")
        k = [i // o for i, o in zip(ins, size)]
        y = b.op("AveragePool" if kind == "avg" else "MaxPool", [x], kernel_shape=k, strides=k)
    if kind == "max":
        if len(n.outputs) > 1 and n.outputs[1] is not None and _used(b, n.outputs[1]):
            raise unsupported(n, "adaptive max pooling indices")
        return [y] + [None] * (len(n.outputs) - 1)
    return y


def _used(b, v) -> bool:
    """Whether a later node or the graph's outputs read Value ``v``."""
    return any(v is u for node in b.graph.nodes for u in node.inputs) or any(v is o for o in b.graph.outputs)


def _batch_norm(b, n, a):
    x, rm, rv, w, bias, training, momentum, eps = a
    if training:
        raise unsupported(n, "batch norm in training mode (call model.eval() first; export does so by default)")
    if rm is None or rv is None:
        raise unsupported(n, "batch norm without running statistics (track_running_stats=False)")
    C = n.args[1].shape[0]
    dt = np_dtype(n.args[0].dtype)
    w = w if w is not None else b.const(np.ones(C, dt), hint="bn_scale")
    bias = bias if bias is not None else b.const(np.zeros(C, dt), hint="bn_bias")
    return b.op("BatchNormalization", [x, w, bias, rm, rv], epsilon=float(eps))


def _layer_norm(b, n, a):
    x, shape, w, bias, eps = a
    dt = np_dtype(n.args[0].dtype)
    if w is None:
        w = b.const(np.ones(shape, dt), hint="ln_scale")
    ins = [x, w] + ([bias] if bias is not None else [])
    return b.op("LayerNormalization", ins, axis=-len(shape), epsilon=float(eps))


def _embedding(b, n, a):
    ids, weight = a[0], a[1]
    return b.op("Gather", [weight, ids], axis=0)


def _dropout(b, n, a):
    raise unsupported(n, "dropout in training mode (export calls model.eval(), where dropout is the identity)")


def _pairwise_diff(b, x, c):
    """x (N, D), c (K, D) -> x[:, None, :] - c[None] (N, K, D)."""
    return b.op("Sub", [b.op("Unsqueeze", [x, b.ints([1])]), c])


def _rbf(b, n, a):
    # exp(-||x - c_k||^2 / (2 sigma_k^2)), the difference taken before squaring (as the C++ does)
    x, c, w = a
    v = n.args[0]
    diff = _pairwise_diff(b, x, c)
    d2 = b.op("ReduceSum", [b.op("Mul", [diff, diff]), b.ints([2])], keepdims=0)
    den = b.op("Mul", [b.op("Mul", [w, w]), b.scalar(-2.0, v)])
    return b.op("Exp", [b.op("Div", [d2, den])])


def _conic(b, n, a):
    # sum_i (x - c_k)_i w_ki - cos(omega_k) ||x - c_k||
    x, w, c, om = a
    diff = _pairwise_diff(b, x, c)
    dot = b.op("ReduceSum", [b.op("Mul", [diff, w]), b.ints([2])], keepdims=0)
    dist = b.op("Sqrt", [b.op("ReduceSum", [b.op("Mul", [diff, diff]), b.ints([2])], keepdims=0)])
    return b.op("Sub", [dot, b.op("Mul", [b.op("Cos", [om]), dist])])


def _attention(b, n, a):
    q, k, v, mask, dropout_p, is_causal, scale, need_weights, safe_softmax = a
    qv, kv = n.args[0], n.args[1]
    if dropout_p:
        raise unsupported(n, "attention dropout (export runs in eval mode, where it is 0)")
    E = qv.shape[-1]
    if isinstance(E, Sym):
        raise unsupported(n, "attention with a head size that follows the batch")
    s = (1.0 / np.sqrt(E)) if scale is None else float(scale)
    r = rank(kv)
    perm = list(range(r - 2)) + [r - 1, r - 2]
    scores = b.op("Mul", [b.op("MatMul", [q, b.op("Transpose", [k], perm=perm)]), b.scalar(s, qv)])
    keep = None
    if is_causal:
        L, S = qv.shape[-2], kv.shape[-2]
        if isinstance(L, Sym) or isinstance(S, Sym):
            raise unsupported(n, "is_causal with sequence lengths that follow the batch")
        keep = b.const(np.tril(np.ones((L, S), dtype=bool)), hint="causal")
    if mask is not None:
        mv = n.args[3]
        if mv.dtype.name == "bool":
            keep = mask if keep is None else b.op("And", [keep, mask])
        else:
            scores = b.op("Add", [scores, mask])
    if keep is not None:
        scores = b.op("Where", [keep, scores, b.scalar(-np.inf, qv)])
    probs = b.op("Softmax", [scores], axis=-1)
    if keep is not None:  # a row with every key masked gives zeros (lamina's safe softmax), not NaN
        probs = b.op("Where", [keep, probs, b.scalar(0.0, qv)])
    elif mask is not None and safe_softmax:  # the same for a float mask that is -inf along a row
        probs = b.op("Where", [b.op("IsNaN", [probs]), b.scalar(0.0, qv), probs])
    out = b.op("MatMul", [probs, v])
    return [out, probs] if need_weights else out


CONVERTERS: dict = {
    Linear: _linear, _Conv: _conv, _MaxPool: _max_pool, _MaxPool2x2: _max_pool_2x2, _AvgPool: _avg_pool,
    _AdaptiveAvgPool: lambda b, n, a: _adaptive(b, n, a, "avg"),
    _AdaptiveMaxPool: lambda b, n, a: _adaptive(b, n, a, "max"),
    BatchNorm: _batch_norm, LayerNorm: _layer_norm, Embedding: _embedding, Dropout: _dropout,
    RBF: _rbf, Conic: _conic, ScaledDotProductAttention: _attention,
}
