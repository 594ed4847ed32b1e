"""ONNX Gemm/MatMul, Conv/ConvTranspose (1-D and 2-D) and the pools (Max, Average, Global*) as
lamina ops. ONNX's asymmetric or SAME_* padding becomes an explicit pad (or crop) around lamina's
symmetric-padding kernels.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops import conv as CV
from ..ops import creation as C
from ..ops import elementwise as E
from ..ops import indexing as I
from ..ops import linear as L
from ..ops import matmul as M
from ..ops import pool as P
from ..ops import reduce as R
from ..ops import shape as S
from ._import_common import NodeContext, op, to_lamina


@op("MatMul")
def _matmul(ctx: NodeContext, ins):
    a = ctx.tensor(ins[0])
    b = ctx.tensor(ins[1], like=a)
    a = ctx.tensor(ins[0], like=b)
    if not (a.dtype.is_floating_point and b.dtype.is_floating_point):
        raise ctx.unsupported(f"MatMul of {a.dtype} x {b.dtype} (lamina's matmul is float32/float64)")
    return M.matmul(a, b)


@op("Gemm")
def _gemm(ctx, ins):
    a = ctx.tensor(ins[0])
    b = ctx.tensor(ins[1], like=a)
    c = ctx.tensor(ins[2], like=a) if len(ins) > 2 else None
    alpha, beta = ctx.attr("alpha", 1.0), ctx.attr("beta", 1.0)
    if ctx.attr("transA", 0):
        a = S.t(a)
    if ctx.attr("transB", 0) and alpha == 1.0 and beta == 1.0 and (c is None or c.ndim == 1 and
                                                                   c.shape[0] == b.shape[0]):
        return L.linear(a, b, c)  # weight stored (out, in): lamina's fused Linear
    if ctx.attr("transB", 0):
        b = S.t(b)
    y = M.matmul(a, b)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return y


def _spatial(ctx, x, w_shape=None):
    n = x.ndim - 2
    if n not in (1, 2):
        raise ctx.unsupported(f"{n}-D spatial input of shape {list(x.shape)} (lamina has 1-D and 2-D kernels)")
    k = ctx.attr("kernel_shape") or (list(w_shape[2:]) if w_shape is not None else None)
    return n, list(k)


def _pads(ctx, n: int, in_sizes, k, strides, dil) -> tuple[list, list]:
    """(begin, end) padding per spatial dim, auto_pad resolved as the ONNX spec does."""
    auto = ctx.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        lo, hi = [], []
        for i in range(n):
            out = -(-in_sizes[i] // strides[i])
            total = max((out - 1) * strides[i] + (k[i] - 1) * dil[i] + 1 - in_sizes[i], 0)
            small, big = total // 2, total - total // 2
            lo.append(small if auto == "SAME_UPPER" else big)
            hi.append(big if auto == "SAME_UPPER" else small)
        return lo, hi
    if auto == "VALID":
        return [0] * n, [0] * n
    p = ctx.attr("pads") or [0] * (2 * n)
    return list(p[:n]), list(p[n:])


def _explicit_pad(x, lo, hi, value=0.0):
    flat = []
    for a, b in zip(reversed(lo), reversed(hi)):
        flat += [a, b]
    return I.pad(x, flat, "constant", value)


@op("Conv")
def _conv(ctx, ins):
    x = ctx.tensor(ins[0])
    w = ctx.tensor(ins[1], like=x)
    b = ctx.tensor(ins[2], like=x) if len(ins) > 2 else None
    n, k = _spatial(ctx, x, w.shape)
    st = ctx.attr("strides") or [1] * n
    dl = ctx.attr("dilations") or [1] * n
    lo, hi = _pads(ctx, n, list(x.shape[2:]), k, st, dl)
    if lo != hi:
        x, lo = _explicit_pad(x, lo, hi), [0] * n
    fn = CV.conv2d if n == 2 else CV.conv1d
    return fn(x, w, b, stride=tuple(st), padding=tuple(lo), dilation=tuple(dl), groups=ctx.attr("group", 1))


@op("ConvTranspose")
def _conv_transpose(ctx, ins):
    x = ctx.tensor(ins[0])
    w = ctx.tensor(ins[1], like=x)
    b = ctx.tensor(ins[2], like=x) if len(ins) > 2 else None
    n, k = _spatial(ctx, x, w.shape)
    st = ctx.attr("strides") or [1] * n
    dl = ctx.attr("dilations") or [1] * n
    opad = ctx.attr("output_padding") or [0] * n
    full = [st[i] * (x.shape[2 + i] - 1) + (k[i] - 1) * dl[i] + 1 for i in range(n)]
    out_shape = ctx.attr("output_shape")
    auto = ctx.attr("auto_pad", "NOTSET")
    if out_shape or auto in ("SAME_UPPER", "SAME_LOWER"):
        # the padding that gives the asked-for size (SAME: input * stride), split as onnxruntime does
        target = list(out_shape)[-n:] if out_shape else [x.shape[2 + i] * st[i] for i in range(n)]
        total = [full[i] + opad[i] - target[i] for i in range(n)]
        lo = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in total]
        hi = [t - lo_ for t, lo_ in zip(total, lo)]
    else:
        p = ctx.attr("pads") or [0] * (2 * n)
        lo, hi = list(p[:n]), list(p[n:])
    group = ctx.attr("group", 1)
    fn = CV.conv_transpose2d if n == 2 else CV.conv_transpose1d
    if lo == hi and all(0 <= o < max(s, d) for o, s, d in zip(opad, st, dl)) and not out_shape:
        return fn(x, w, b, stride=tuple(st), padding=tuple(lo), output_padding=tuple(opad), groups=group,
                  dilation=tuple(dl))
    # general case: the unpadded result, then crop (negative pad) / extend with zeros, then bias
    y = fn(x, w, None, stride=tuple(st), padding=0, output_padding=0, groups=group, dilation=tuple(dl))
    y = _explicit_pad(y, [-v for v in lo], [opad[i] - hi[i] for i in range(n)])
    if b is not None:
        y = y + S.reshape(b, [1, -1] + [1] * n)
    return y


def _crop_to_onnx_size(ctx, y, in_sizes, k, st, dl, lo, hi):
    """Drop a last ceil_mode window that would start in the end padding (ONNX's output size rule)."""
    if not ctx.attr("ceil_mode", 0):
        return y
    n = len(k)
    for i in range(n):
        span = in_sizes[i] + lo[i] + hi[i] - ((k[i] - 1) * dl[i] + 1)
        out = -(-span // st[i]) + 1
        if (out - 1) * st[i] >= in_sizes[i] + lo[i]:
            out -= 1
        d = y.ndim - n + i
        if y.shape[d] > out:
            y = S.narrow(y, d, 0, out)
    return y


def _pool_setup(ctx, x):
    n, k = _spatial(ctx, x)
    st = ctx.attr("strides") or [1] * n
    dl = ctx.attr("dilations") or [1] * n
    lo, hi = _pads(ctx, n, list(x.shape[2:]), k, st, dl)
    return n, k, st, dl, lo, hi


@op("MaxPool")
def _max_pool(ctx, ins):
    x = ctx.tensor(ins[0])
    n, k, st, dl, lo, hi = _pool_setup(ctx, x)
    ceil = bool(ctx.attr("ceil_mode", 0))
    in_sizes, lo0 = list(x.shape[2:]), lo
    want_idx = len(ctx.node.output) > 1 and ctx.node.output[1]
    if not x.dtype.is_floating_point:
        raise ctx.unsupported(f"MaxPool on {x.dtype}")
    sym = lo == hi and all(2 * p <= kk for p, kk in zip(lo, k))
    if not sym:
        if want_idx:
            raise ctx.unsupported("Indices output with asymmetric padding")
        x, lo = _explicit_pad(x, lo, hi, -math.inf), [0] * n
    fn = P.max_pool2d if n == 2 else P.max_pool1d
    out, idx = fn(x, tuple(k), tuple(st), tuple(lo), tuple(dl), ceil, return_indices=True)
    if not want_idx:
        return _crop_to_onnx_size(ctx, out, in_sizes, k, st, dl, lo0, hi)
    if ctx.attr("storage_order", 0):
        raise ctx.unsupported("storage_order=1 for the Indices output")
    plane = int(np.prod(x.shape[2:]))
    base = to_lamina(np.arange(x.shape[0] * x.shape[1], dtype=np.int64).reshape(
        [x.shape[0], x.shape[1]] + [1] * n) * plane)
    return out, idx + base  # ONNX indexes the whole tensor, PyTorch each (n, c) plane


@op("AveragePool")
def _avg_pool(ctx, ins):
    x = ctx.tensor(ins[0])
    n, k, st, dl, lo, hi = _pool_setup(ctx, x)
    if any(d != 1 for d in dl):
        raise ctx.unsupported(f"dilations {dl} (lamina's average pooling has no dilation)")
    ceil = bool(ctx.attr("ceil_mode", 0))
    include = bool(ctx.attr("count_include_pad", 0))
    x2 = x if n == 2 else S.unsqueeze(x, 2)
    lo2, hi2, k2, st2 = ([0] * (2 - n) + lo, [0] * (2 - n) + hi, [1] * (2 - n) + k, [1] * (2 - n) + st)
    if lo2 == hi2 == [0, 0] and not ceil:
        y = P.avg_pool2d(x2, tuple(k2), tuple(st2))
    else:
        # window sums over the explicitly padded input, divided by the count of the cells each window
        # covers (pads included or not); the counts come from pooling a ones plane the same way
        xp = _explicit_pad(x2, lo2, hi2)
        sums = P.avg_pool2d(xp, tuple(k2), tuple(st2), 0, ceil, True, 1)
        ones = C.ones(1, 1, *x2.shape[2:], dtype=x.dtype)
        cnt = P.avg_pool2d(_explicit_pad(ones, lo2, hi2, 1.0 if include else 0.0), tuple(k2), tuple(st2), 0,
                           ceil, True, 1)
        y = _crop_to_onnx_size(ctx, sums / cnt, list(x2.shape[2:]), k2, st2, [1, 1], lo2, hi2)
    return y if n == 2 else S.squeeze(y, 2)


@op("GlobalAveragePool")
def _gap(ctx, ins):
    x = ctx.tensor(ins[0])
    return R.mean(x, list(range(2, x.ndim)), keepdim=True)


@op("GlobalMaxPool")
def _gmp(ctx, ins):
    x = ctx.tensor(ins[0])
    return R.amax(x, list(range(2, x.ndim)), keepdim=True)


@op("LpPool", "GlobalLpPool")
def _lp_pool(ctx, ins):
    x = ctx.tensor(ins[0])
    p = ctx.attr("p", 2)
    if ctx.node.op_type == "GlobalLpPool":
        s = R.sum(E.pow(x.abs(), float(p)), list(range(2, x.ndim)), keepdim=True)
        return E.pow(s, 1.0 / p)
    n, k, st, dl, lo, hi = _pool_setup(ctx, x)
    if any(d != 1 for d in dl):
        raise ctx.unsupported(f"dilations {dl}")
    x2 = x if n == 2 else S.unsqueeze(x, 2)
    lo2, hi2, k2, st2 = ([0] * (2 - n) + lo, [0] * (2 - n) + hi, [1] * (2 - n) + k, [1] * (2 - n) + st)
    xp = _explicit_pad(E.pow(x2.abs(), float(p)), lo2, hi2)
    y = E.pow(P.avg_pool2d(xp, tuple(k2), tuple(st2), 0, bool(ctx.attr("ceil_mode", 0)), True, 1), 1.0 / p)
    return y if n == 2 else S.squeeze(y, 2)
