"""ONNX pooling as lamina ops: MaxPool and AveragePool on lamina's 1-D/2-D kernels where they fit
(float, no average-pool dilation), otherwise — 3-D, dilated averages, integer MaxPool, LpPool — as
a max or sum over the kernel's taps, each tap a strided view of the padded input. Output sizes
follow ONNX (ceil_mode drops a last window that would start in the end padding).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..ops import creation as C
from ..ops import elementwise as E
from ..ops import pool as P
from ..ops import reduce as R
from ..ops import shape as S
from ..ops import unary as U
from ._import_common import NodeContext, op, to_lamina
from ._import_conv import _explicit_pad, _pads, _spatial


def _out_sizes(ctx, in_sizes, k, st, dl, lo, hi) -> list:
    ceil = bool(ctx.attr("ceil_mode", 0))
    out = []
    for i in range(len(k)):
        span = in_sizes[i] + lo[i] + hi[i] - ((k[i] - 1) * dl[i] + 1)
        o = (-(-span // st[i]) if ceil else span // st[i]) + 1
        if ceil and (o - 1) * st[i] >= in_sizes[i] + lo[i]:
            o -= 1
        out.append(o)
    return out


def _crop(y, sizes):
    n = len(sizes)
    for i, o in enumerate(sizes):
        d = y.ndim - n + i
        if y.shape[d] > o:
            y = S.narrow(y, d, 0, o)
    return y


def _setup(ctx, x):
    n, k = _spatial(ctx, x, dims=(1, 2, 3))
    st = ctx.attr("strides") or [1] * n
    dl = ctx.attr("dilations") or [1] * n
    lo, hi = _pads(ctx, n, list(x.shape[2:]), k, st, dl)
    return n, k, st, dl, lo, hi


def _taps(x, k, st, dl, out, combine):
    """combine(acc, view) over every kernel tap; a tap's view is the strided slice of ``x`` it reads."""
    acc = None
    for tap in itertools.product(*[range(kk) for kk in k]):
        key = [slice(None), slice(None)] + [slice(t * d, t * d + (o - 1) * s + 1, s)
                                            for t, d, o, s in zip(tap, dl, out, st)]
        v = x[tuple(key)]
        acc = v if acc is None else combine(acc, v)
    return acc


def _extent(in_sizes, k, st, dl, lo, hi, out) -> list:
    """how far past the end padding the last ceil_mode window reaches, per dim"""
    return [max(0, (o - 1) * s + (kk - 1) * d + 1 - (i + a + b))
            for i, kk, s, d, a, b, o in zip(in_sizes, k, st, dl, lo, hi, out)]


def _tap_max(x, k, st, dl, lo, hi, out):
    fill = -math.inf if x.dtype.is_floating_point else float(np.iinfo(np.int64).min)
    extra = _extent(list(x.shape[2:]), k, st, dl, lo, hi, out)
    xp = _explicit_pad(x, lo, [b + e for b, e in zip(hi, extra)], fill)
    return _taps(xp, k, st, dl, out, E.maximum)


def _tap_sum(x, k, st, dl, lo, hi, out):
    extra = _extent(list(x.shape[2:]), k, st, dl, lo, hi, out)
    xp = _explicit_pad(x, lo, [b + e for b, e in zip(hi, extra)], 0.0)
    return _taps(xp, k, st, dl, out, E.add)


@op("MaxPool")
def _max_pool(ctx: NodeContext, ins):
    x = ctx.tensor(ins[0])
    n, k, st, dl, lo, hi = _setup(ctx, x)
    in_sizes = list(x.shape[2:])
    out = _out_sizes(ctx, in_sizes, k, st, dl, lo, hi)
    want_idx = len(ctx.node.output) > 1 and ctx.node.output[1]
    if n == 3 or not x.dtype.is_floating_point:
        if want_idx:
            raise ctx.unsupported(f"the Indices output of a {n}-D {x.dtype} MaxPool")
        return _tap_max(x, k, st, dl, lo, hi, out)
    sym = lo == hi and all(2 * p <= kk for p, kk in zip(lo, k))
    xx, pad = x, lo
    if not sym:
        if want_idx:
            raise ctx.unsupported("the Indices output with asymmetric padding")
        xx, pad = _explicit_pad(x, lo, hi, -math.inf), [0] * n
    fn = P.max_pool2d if n == 2 else P.max_pool1d
    args = (xx, tuple(k), tuple(st), tuple(pad), tuple(dl), bool(ctx.attr("ceil_mode", 0)))
    if not want_idx:  # without indices lamina can take its fast paths (2x2 windows)
        return _crop(fn(*args), out)
    y, idx = fn(*args, return_indices=True)
    y = _crop(y, out)
    if ctx.attr("storage_order", 0):
        raise ctx.unsupported("storage_order=1 for the Indices output")
    plane = int(np.prod(in_sizes))
    base = np.arange(x.shape[0] * x.shape[1], dtype=np.int64).reshape([x.shape[0], x.shape[1]] + [1] * n) * plane
    return y, _crop(idx, out) + to_lamina(base)  # ONNX indexes the whole tensor, PyTorch each (n, c) plane


def _counts(ctx, x, k, st, dl, lo, hi, out):
    """cells each window averages over: the padding counts with count_include_pad, the part of a
    ceil_mode window past the end padding never does"""
    ones = C.ones(1, 1, *x.shape[2:], dtype=x.dtype)
    ones = _explicit_pad(ones, lo, hi, 1.0 if ctx.attr("count_include_pad", 0) else 0.0)
    zero = [0] * len(k)
    return _tap_sum(ones, k, st, dl, zero, zero, out)


@op("AveragePool")
def _avg_pool(ctx, ins):
    x = ctx.tensor(ins[0])
    n, k, st, dl, lo, hi = _setup(ctx, x)
    if not x.dtype.is_floating_point:
        raise ctx.unsupported(f"AveragePool on {x.dtype}")
    out = _out_sizes(ctx, list(x.shape[2:]), k, st, dl, lo, hi)
    if n < 3 and all(d == 1 for d in dl) and not any(lo) and not any(hi) and not ctx.attr("ceil_mode", 0):
        x2 = x if n == 2 else S.unsqueeze(x, 2)
        y = P.avg_pool2d(x2, tuple([1] * (2 - n) + k), tuple([1] * (2 - n) + st))
        return y if n == 2 else S.squeeze(y, 2)
    return _tap_sum(x, k, st, dl, lo, hi, out) / _counts(ctx, x, k, st, dl, lo, hi, out)


@op("LpPool")
def _lp_pool(ctx, ins):
    x = ctx.tensor(ins[0])
    _, k, st, dl, lo, hi = _setup(ctx, x)
    p = float(ctx.attr("p", 2))
    out = _out_sizes(ctx, list(x.shape[2:]), k, st, dl, lo, hi)
    return E.pow(_tap_sum(E.pow(U.abs(x), p), k, st, dl, lo, hi, out), 1.0 / p)


@op("GlobalAveragePool")
def _gap(ctx, ins):
    x = ctx.tensor(ins[0])
    return R.mean(x, list(range(2, x.ndim)), keepdim=True)


@op("GlobalMaxPool")
def _gmp(ctx, ins):
    x = ctx.tensor(ins[0])
    return R.amax(x, list(range(2, x.ndim)), keepdim=True)


@op("GlobalLpPool")
def _glp(ctx, ins):
    x = ctx.tensor(ins[0])
    p = float(ctx.attr("p", 2))
    return E.pow(R.sum(E.pow(U.abs(x), p), list(range(2, x.ndim)), keepdim=True), 1.0 / p)
