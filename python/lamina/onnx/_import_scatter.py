"""ONNX GatherND, ScatterElements and ScatterND as lamina ops: N-d indices become flat row indices
(int64 tensor arithmetic), then lamina's index_select / scatter_add do the data movement. A plain
(reduction="none") scatter writes through a mask of the scattered positions.
"""
from __future__ import annotations

import numpy as np

from .. import _dtype as D
from ..ops import compare as Cmp
from ..ops import creation as C
from ..ops import indexing as I
from ..ops import reduce as R
from ..ops import shape as S
from ..ops import unary as U
from ._import_common import NodeContext, norm_axis, op, to_lamina


def _index_tensor(ctx, v):
    t = ctx.tensor(v)
    return t if t.dtype is D.int64 else t.to(D.int64)


def _flat_rows(idx, dims: list):
    """indices [..., k] into dims[:k] -> flat row numbers [...] (negatives wrapped)."""
    k = len(dims)
    d = to_lamina(np.array(dims, dtype=np.int64))
    idx = idx + Cmp.lt(idx, 0).to(D.int64) * d
    strides = np.cumprod([1] + dims[::-1])[:-1][::-1].copy()
    return R.sum(idx * to_lamina(strides.astype(np.int64)), -1) if k else None


@op("GatherND")
def _gather_nd(ctx: NodeContext, ins):
    x = ctx.tensor(ins[0])
    idx = _index_tensor(ctx, ins[1])
    b = ctx.attr("batch_dims", 0)
    k = idx.shape[-1]
    xs, iss = list(x.shape), list(idx.shape)
    batch = int(np.prod(xs[:b], dtype=np.int64))
    inner = xs[b:b + k]
    rows = _flat_rows(idx, inner)  # [*batch, *mid]
    mid = iss[b:-1]
    per = int(np.prod(inner, dtype=np.int64))
    if b:
        offs = np.arange(batch, dtype=np.int64).reshape(xs[:b] + [1] * len(mid)) * per
        rows = rows + to_lamina(offs)
    flat = S.reshape(x, [batch * per] + xs[b + k:])
    out = I.index_select(flat, 0, S.reshape(rows, [-1]))
    return S.reshape(out, iss[:-1] + xs[b + k:])


def _scatter(ctx, x, dim: int, index, upd):
    """out = x with out[index] = upd along dim (reduction none) or += upd (add)."""
    red = ctx.attr("reduction", "none")
    if red == "add":
        return I.scatter_add(x, dim, index, upd)
    if red != "none":
        raise ctx.unsupported(f"reduction '{red}'")
    hit = I.scatter_add(C.zeros(*x.shape, dtype=D.float32), dim, index, C.ones(*index.shape, dtype=D.float32))
    written = I.scatter_add(C.zeros(*x.shape, dtype=x.dtype), dim, index, upd)
    return U.where(Cmp.gt(hit, 0), written, x)


@op("ScatterElements")
def _scatter_elements(ctx, ins):
    x = ctx.tensor(ins[0])
    axis = norm_axis(ctx, ctx.attr("axis", 0), x.ndim)
    idx = _index_tensor(ctx, ins[1])
    idx = idx + Cmp.lt(idx, 0).to(D.int64) * x.shape[axis]
    return _scatter(ctx, x, axis, idx, ctx.tensor(ins[2], like=x))


@op("ScatterND")
def _scatter_nd(ctx, ins):
    x = ctx.tensor(ins[0])
    idx = _index_tensor(ctx, ins[1])
    upd = ctx.tensor(ins[2], like=x)
    k = idx.shape[-1]
    xs = list(x.shape)
    rest = xs[k:]
    per = int(np.prod(xs[:k], dtype=np.int64))
    rows = S.reshape(_flat_rows(idx, xs[:k]), [-1] + [1] * len(rest))
    m = rows.shape[0]
    flat_x = S.reshape(x, [per] + rest)
    flat_u = S.reshape(upd, [m] + rest)
    index = S.contiguous(S.expand(rows, m, *rest)) if rest else S.reshape(rows, [m])
    return S.reshape(_scatter(ctx, flat_x, 0, index, flat_u), xs)
