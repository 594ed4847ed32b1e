"""ONNX reductions (ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare) and
ArgMax/ArgMin as lamina ops; axes come from the attribute (before opset 18) or the second input.
"""
from __future__ import annotations

import numpy as np

from ..ops import indexing as I
from ..ops import reduce as R
from ..ops import shape as S
from ..ops import unary as U
from ._import_common import NodeContext, norm_axis, op, to_lamina

# ops whose axes moved from an attribute to an input at opset 18 (ReduceSum moved at 13)
_AXES_INPUT_FROM = 18


def _axes(ctx: NodeContext, ins, rank: int):
    """The reduced axes (sorted, non-negative), or None for 'no-op' (noop_with_empty_axes)."""
    from_input = ctx.node.op_type == "ReduceSum" or ctx.opset >= _AXES_INPUT_FROM
    axes = (ctx.ints(ins[1]) if len(ins) > 1 and ins[1] is not None else None) if from_input else ctx.attr("axes")
    if not axes:
        if ctx.attr("noop_with_empty_axes", 0):
            return None
        return list(range(rank))
    return sorted({norm_axis(ctx, a, rank) for a in axes})


def _reduce_np(ctx, ins):
    x = ins[0]
    axes = _axes(ctx, ins, x.ndim)
    if axes is None:
        return x
    fn = {"ReduceSum": np.sum, "ReduceProd": np.prod, "ReduceMax": np.max, "ReduceMin": np.min}[ctx.node.op_type]
    return np.asarray(fn(x, axis=tuple(axes), keepdims=bool(ctx.attr("keepdims", 1))))


def _sum(x, axes, keep):
    return R.sum(x, axes, keepdim=keep)


_REDUCERS = {
    "ReduceSum": _sum,
    "ReduceMean": lambda x, a, k: R.mean(x, a, keepdim=k),
    "ReduceMax": lambda x, a, k: R.amax(x, a, keepdim=k),
    "ReduceMin": lambda x, a, k: R.amin(x, a, keepdim=k),
    "ReduceProd": lambda x, a, k: _prod(x, a, k),
    "ReduceL1": lambda x, a, k: _sum(U.abs(x), a, k),
    "ReduceL2": lambda x, a, k: U.sqrt(_sum(x * x, a, k)),
    "ReduceSumSquare": lambda x, a, k: _sum(x * x, a, k),
    "ReduceLogSum": lambda x, a, k: U.log(_sum(x, a, k)),
    "ReduceLogSumExp": lambda x, a, k: R.logsumexp(x, a, keepdim=k),
}


def _prod(x, axes, keep):
    for a in sorted(axes, reverse=True):  # lamina's prod takes one dim at a time
        x = R.prod(x, a, keepdim=keep)
    return x


@op("ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin", fold=_reduce_np)
def _reduce_fold(ctx, ins):
    return _reduce(ctx, ins)


@op(*[k for k in _REDUCERS if k not in ("ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin")])
def _reduce(ctx, ins):
    x = ctx.tensor(ins[0])
    axes = _axes(ctx, ins, x.ndim)
    if axes is None:
        return x
    keep = bool(ctx.attr("keepdims", 1))
    if x.ndim == 0:
        return x
    if ctx.node.op_type == "ReduceLogSumExp" and len(axes) > 1:
        # lamina's logsumexp takes one dim: flatten the reduced dims into one first
        perm = [d for d in range(x.ndim) if d not in axes] + axes
        xp = S.permute(x, *perm)
        kept = [x.shape[d] for d in range(x.ndim) if d not in axes]
        y = R.logsumexp(S.reshape(xp, kept + [-1]), -1)
        return S.reshape(y, [1 if d in axes else x.shape[d] for d in range(x.ndim)]) if keep else y
    if ctx.node.op_type == "ReduceLogSumExp":
        return R.logsumexp(x, axes[0], keepdim=keep)
    return _REDUCERS[ctx.node.op_type](x, axes, keep)


@op("ArgMax", "ArgMin")
def _arg(ctx, ins):
    x = ctx.tensor(ins[0])
    axis = norm_axis(ctx, ctx.attr("axis", 0), x.ndim)
    keep = bool(ctx.attr("keepdims", 1))
    fn = R.argmax if ctx.node.op_type == "ArgMax" else R.argmin
    if not ctx.attr("select_last_index", 0):
        return fn(x, axis, keepdim=keep)
    n = x.shape[axis]  # the last extremum is the first one of the reversed axis
    rev = I.index_select(x, axis, to_lamina(np.arange(n - 1, -1, -1, dtype=np.int64)))
    return fn(rev, axis, keepdim=keep) * -1 + (n - 1)
