"""ONNX reductions (ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare) and
ArgMax/ArgMin as lamina ops; axes come from the attribute (before opset 18) or the second input.
"""
from __future__ import annotations

import numpy as np

from ..ops import indexing as I
from ..ops import matmul as M
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
    if any(x.shape[a] == 0 for a in axes):
        return _empty_reduce(ctx, x, axes, keep)
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


# what a reduction over no elements gives (ONNX: the reduction's identity)
_EMPTY = {"ReduceSum": 0.0, "ReduceL1": 0.0, "ReduceL2": 0.0, "ReduceSumSquare": 0.0, "ReduceProd": 1.0,
          "ReduceMax": -np.inf, "ReduceMin": np.inf, "ReduceLogSum": -np.inf, "ReduceLogSumExp": -np.inf,
          "ReduceMean": np.nan}


def _empty_reduce(ctx, x, axes, keep):
    """a reduced axis of length 0: no data is read, the result is the identity of the reduction"""
    shape = [1 if d in axes else n for d, n in enumerate(x.shape) if keep or d not in axes]
    v = _EMPTY[ctx.node.op_type]
    if x.dtype.name == "bool":
        v = bool(v > 0)  # max over nothing is False, min True
    elif not x.dtype.is_floating_point:
        v = np.iinfo(np.int64).min if v == -np.inf else np.iinfo(np.int64).max if v == np.inf else v
    return to_lamina(np.full(shape, v, dtype=x.dtype._np), ctx.where)


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


@op("CumSum")
def _cumsum(ctx, ins):
    """A product with a constant 0/1 triangular matrix along the axis (lamina has no cumsum);
    a non-finite value spreads NaN into every sum (0 * inf)."""
    x = ctx.tensor(ins[0])
    if not x.dtype.is_floating_point:
        raise ctx.unsupported(f"CumSum of {x.dtype} (computed as a float matrix product)")
    axis = norm_axis(ctx, int(ctx.scalar(ins[1])), x.ndim)
    n = x.shape[axis]
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    excl, rev = ctx.attr("exclusive", 0), ctx.attr("reverse", 0)
    tri = (i > j if excl else i >= j) if rev else (i < j if excl else i <= j)  # out[j] = sum_i x[i] tri[i, j]
    xt = S.transpose(x, axis, -1) if axis != x.ndim - 1 else x
    y = M.matmul(xt, to_lamina(tri.astype(x.dtype._np)))
    return S.transpose(y, axis, -1) if axis != x.ndim - 1 else y
