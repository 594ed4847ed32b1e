"""ONNX selection ops as lamina ops: TopK (k rounds of argmax/argmin, each pick masked out: lamina
has no sort, so this suits the small k of classifier heads), NonZero and Compress (lamina's
boolean-mask indexing), ReverseSequence (a gather with indices from the sequence lengths).
"""
from __future__ import annotations

import math

import numpy as np

from .. import _dtype as D
from ..ops import compare as Cmp
from ..ops import indexing as I
from ..ops import join as J
from ..ops import reduce as R
from ..ops import shape as S
from ..ops import unary as U
from ._import_common import NodeContext, norm_axis, op, to_lamina


@op("TopK")
def _topk(ctx: NodeContext, ins):
    x = ctx.tensor(ins[0])
    k = int(ctx.scalar(ins[1]))
    axis = norm_axis(ctx, ctx.attr("axis", -1), x.ndim)
    largest = bool(ctx.attr("largest", 1))
    n = x.shape[axis]
    if not 0 <= k <= n:
        raise ctx.error(f"k={k} is outside [0, {n}] for axis {axis} of shape {list(x.shape)}")
    if x.dtype.is_floating_point:
        fill = -math.inf if largest else math.inf
    else:
        fill = np.iinfo(np.int64).min if largest else np.iinfo(np.int64).max
    fill_t = to_lamina(np.array(fill, dtype=x.dtype._np))
    pos = to_lamina(np.arange(n, dtype=np.int64).reshape([n] + [1] * (x.ndim - 1 - axis)))
    pick = R.argmax if largest else R.argmin
    work, vals, idxs = x, [], []
    for _ in range(k):  # the first extremum wins ties: the lower index comes first, as ONNX asks
        i = pick(work, axis, keepdim=True)
        idxs.append(i)
        vals.append(I.gather(x, axis, i))
        work = U.where(Cmp.eq(pos, i), fill_t, work)
    if not k:
        shape = list(x.shape)
        shape[axis] = 0
        return S.narrow(x, axis, 0, 0), to_lamina(np.zeros(shape, dtype=np.int64))
    return J.cat(vals, axis), J.cat(idxs, axis)


@op("NonZero")
def _nonzero(ctx, ins):
    x = ctx.tensor(ins[0])
    mask = x if x.dtype is D.bool_ else Cmp.ne(x, 0)
    grids = np.indices(x.shape, dtype=np.int64)  # each element's coordinates: a constant of the shape
    rows = [to_lamina(g)[mask] for g in grids]
    return J.stack(rows, 0) if rows else to_lamina(np.zeros((0, 1), dtype=np.int64))


@op("Compress")
def _compress(ctx, ins):
    x = ctx.tensor(ins[0])
    cond = ctx.tensor(ins[1])
    cond = cond if cond.dtype is D.bool_ else Cmp.ne(cond, 0)
    axis = ctx.attr("axis")
    if axis is None:
        x, axis = S.reshape(x, [-1]), 0
    axis = norm_axis(ctx, axis, x.ndim)
    n = min(cond.shape[0], x.shape[axis])
    picked = to_lamina(np.arange(n, dtype=np.int64))[S.narrow(cond, 0, 0, n)]
    return I.index_select(x, axis, picked)


@op("ReverseSequence")
def _reverse_sequence(ctx, ins):
    x = ctx.tensor(ins[0])
    lens = np.asarray(ctx.ints(ins[1]), dtype=np.int64)
    t_ax, b_ax = ctx.attr("time_axis", 0), ctx.attr("batch_axis", 1)
    t_n, b_n = x.shape[t_ax], x.shape[b_ax]
    t = np.arange(t_n)[:, None]
    src = np.where(t < lens[None, :], lens[None, :] - 1 - t, t)  # [T, B]: row t of batch b reads src
    shape = [1] * x.ndim
    shape[t_ax], shape[b_ax] = t_n, b_n
    src = src if t_ax < b_ax else src.T
    idx = S.contiguous(S.expand(to_lamina(src.reshape(shape)), *x.shape))
    return I.gather(x, t_ax, idx)
