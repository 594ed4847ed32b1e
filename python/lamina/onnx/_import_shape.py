"""ONNX shape and indexing ops as lamina ops: Constant, Shape, Reshape, Flatten, Transpose, Concat,
Split, Slice, Gather(Elements), (Un)Squeeze, Expand, Tile, Pad, ConstantOfShape, Range,
Depth/SpaceToDepth, Trilu, OneHot. Shape arithmetic on integer constants folds in NumPy.
"""
from __future__ import annotations

import numpy as np

from .. import _dtype as D
from ..ops import compare as Cmp
from ..ops import creation as C
from ..ops import indexing as I
from ..ops import join as J
from ..ops import shape as S
from ..ops import unary as U
from ..tensor import Tensor
from ._import_common import NodeContext, norm_axis, np_of, op, to_lamina


def _shape(v) -> list:
    return list(v.shape)


@op("Constant")
def _constant(ctx: NodeContext, ins):
    from onnx import numpy_helper
    for a in ctx.node.attribute:
        if a.name == "value":
            return np.array(numpy_helper.to_array(a.t))
        if a.name == "value_float":
            return np.array(a.f, dtype=np.float32)
        if a.name == "value_floats":
            return np.array(list(a.floats), dtype=np.float32)
        if a.name == "value_int":
            return np.array(a.i, dtype=np.int64)
        if a.name == "value_ints":
            return np.array(list(a.ints), dtype=np.int64)
    raise ctx.unsupported("a Constant without a numeric value (sparse or string)")


@op("Shape")
def _shape_op(ctx, ins):
    dims = _shape(ins[0])
    r = len(dims)
    start, end = ctx.attr("start", 0), ctx.attr("end", r)
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    return np.array(dims[start:end], dtype=np.int64)


@op("Size")
def _size(ctx, ins):
    return np.array(int(np.prod(_shape(ins[0]), dtype=np.int64)), dtype=np.int64)


def _reshape_target(ctx, in_shape: list, shape: list) -> list:
    allowzero = ctx.attr("allowzero", 0)
    out = [in_shape[i] if (s == 0 and not allowzero) else s for i, s in enumerate(shape)]
    if out.count(-1) > 1:
        raise ctx.error(f"shape {shape} has more than one -1")
    return out


@op("Reshape", fold=lambda ctx, ins: ins[0].reshape(_reshape_target(ctx, list(ins[0].shape), ctx.ints(ins[1]))))
def _reshape(ctx, ins):
    x = ctx.tensor(ins[0])
    return S.reshape(x, _reshape_target(ctx, _shape(x), ctx.ints(ins[1])))


@op("Flatten")
def _flatten(ctx, ins):
    x = ins[0]
    dims = _shape(x)
    axis = ctx.attr("axis", 1)
    if not -len(dims) <= axis <= len(dims):
        raise ctx.error(f"axis {axis} is out of range for a rank-{len(dims)} input")
    axis = axis + len(dims) if axis < 0 else axis
    a, b = int(np.prod(dims[:axis], dtype=np.int64)), int(np.prod(dims[axis:], dtype=np.int64))
    if isinstance(x, np.ndarray):
        return x.reshape(a, b)
    return S.reshape(x, [a, b])


@op("Transpose", fold=lambda ctx, ins: np.transpose(ins[0], ctx.attr("perm")))
def _transpose(ctx, ins):
    x = ctx.tensor(ins[0])
    perm = ctx.attr("perm") or list(range(x.ndim))[::-1]
    return S.permute(x, *perm)


def _fold_concat(ctx, ins):
    arrs = [v for v in ins if v is not None]
    return np.concatenate(arrs, axis=norm_axis(ctx, ctx.attr("axis"), arrs[0].ndim))


@op("Concat", fold=_fold_concat)
def _concat(ctx, ins):
    like = next((v for v in ins if isinstance(v, Tensor)), None)
    ts = [ctx.tensor(v, like=like) for v in ins if v is not None]
    return J.cat(ts, norm_axis(ctx, ctx.attr("axis"), ts[0].ndim))


@op("Split")
def _split(ctx, ins):
    x = ctx.tensor(ins[0])
    axis = norm_axis(ctx, ctx.attr("axis", 0), x.ndim)
    n = x.shape[axis]
    sizes = ctx.ints(ins[1]) if len(ins) > 1 and ins[1] is not None else ctx.attr("split")
    if not sizes:
        k = ctx.attr("num_outputs") or len(ctx.node.output)
        step = -(-n // k)  # ceil: the last chunk is the smaller one (opset 18)
        sizes = [min(step, n - i * step) for i in range(k)]
    if sum(sizes) != n:
        raise ctx.error(f"split sizes {sizes} do not add up to dimension {axis} of shape {_shape(x)}")
    return list(J.split(x, list(sizes), axis))


def _slice_plan(ctx, dims, ins):
    starts, ends = ctx.ints(ins[1]), ctx.ints(ins[2])
    axes = ctx.ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
    steps = ctx.ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    plan = {}
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st == 0:
            raise ctx.error("slice step 0")
        a = norm_axis(ctx, a, len(dims))
        plan[a] = slice(s, e, st).indices(dims[a])  # Python's clamping is the ONNX rule
    return plan


def _fold_slice(ctx, ins):
    x = ins[0]
    key = [slice(None)] * x.ndim
    for a, (s, e, st) in _slice_plan(ctx, list(x.shape), ins).items():
        key[a] = slice(s, e if e >= 0 else None, st)
    return x[tuple(key)]


@op("Slice", fold=_fold_slice)
def _slice(ctx, ins):
    x = ctx.tensor(ins[0])
    key = [slice(None)] * x.ndim
    for a, (s, e, st) in _slice_plan(ctx, _shape(x), ins).items():
        if st > 0:
            key[a] = slice(s, max(e, s), st)
        else:  # lamina views take positive steps only: reversed runs are an index_select
            idx = np.arange(s, e, st, dtype=np.int64)
            x = I.index_select(x, a, to_lamina(idx))
    return x[tuple(key)] if any(k != slice(None) for k in key) else x


def _wrap_indices(ctx, idx, n: int):
    if isinstance(idx, np.ndarray):
        i = idx.astype(np.int64)
        if i.size and (i.min() < -n or i.max() >= n):
            raise ctx.error(f"index out of range [{-n}, {n}): {i.min()}..{i.max()}")
        return to_lamina(np.where(i < 0, i + n, i))
    i = idx if idx.dtype is D.int64 else idx.to(D.int64)
    return U.where(Cmp.lt(i, 0), i + n, i)


def _fold_gather(ctx, ins):
    return np.take(ins[0], ins[1], axis=norm_axis(ctx, ctx.attr("axis", 0), ins[0].ndim))


@op("Gather", fold=_fold_gather)
def _gather(ctx, ins):
    x = ctx.tensor(ins[0])
    axis = norm_axis(ctx, ctx.attr("axis", 0), x.ndim)
    idx_shape = _shape(ins[1])
    idx = _wrap_indices(ctx, ins[1], x.shape[axis])
    flat = I.index_select(x, axis, S.reshape(idx, [-1]))
    return S.reshape(flat, _shape(x)[:axis] + idx_shape + _shape(x)[axis + 1:])


@op("GatherElements")
def _gather_elements(ctx, ins):
    x = ctx.tensor(ins[0])
    axis = norm_axis(ctx, ctx.attr("axis", 0), x.ndim)
    return I.gather(x, axis, _wrap_indices(ctx, ins[1], x.shape[axis]))


def _axes_arg(ctx, ins, rank: int):
    axes = ctx.ints(ins[1]) if len(ins) > 1 and ins[1] is not None else ctx.attr("axes")
    return None if axes is None else sorted(norm_axis(ctx, a, rank) for a in axes)


def _squeezed(ctx, ins) -> list:
    dims = _shape(ins[0])
    axes = _axes_arg(ctx, ins, len(dims))
    if axes is None:
        return [d for d in dims if d != 1]
    for a in axes:
        if dims[a] != 1:
            raise ctx.error(f"cannot squeeze axis {a} of shape {dims} (size {dims[a]})")
    return [d for i, d in enumerate(dims) if i not in axes]


def _unsqueezed(ctx, ins) -> list:
    dims = _shape(ins[0])
    axes = _axes_arg(ctx, ins, len(dims) + len(ctx.ints(ins[1]) if len(ins) > 1 else ctx.attr("axes")))
    out = list(dims)
    for a in axes:
        out.insert(a, 1)
    return out


@op("Squeeze", fold=lambda ctx, ins: ins[0].reshape(_squeezed(ctx, ins)))
def _squeeze(ctx, ins):
    return S.reshape(ctx.tensor(ins[0]), _squeezed(ctx, ins))


@op("Unsqueeze", fold=lambda ctx, ins: ins[0].reshape(_unsqueezed(ctx, ins)))
def _unsqueeze(ctx, ins):
    return S.reshape(ctx.tensor(ins[0]), _unsqueezed(ctx, ins))


def _broadcast(ctx, a: list, b: list) -> list:
    try:
        return list(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        raise ctx.error(f"shapes {a} and {b} do not broadcast") from None


@op("Expand", fold=lambda ctx, ins: np.broadcast_to(ins[0], _broadcast(ctx, list(ins[0].shape), ctx.ints(ins[1]))).copy())
def _expand(ctx, ins):
    x = ctx.tensor(ins[0])
    out = _broadcast(ctx, _shape(x), ctx.ints(ins[1]))
    x = S.reshape(x, [1] * (len(out) - x.ndim) + _shape(x))
    return S.expand(x, *out)


@op("Tile", fold=lambda ctx, ins: np.tile(ins[0], ctx.ints(ins[1])))
def _tile(ctx, ins):
    x = ctx.tensor(ins[0])
    reps = ctx.ints(ins[1])
    if len(reps) != x.ndim:
        raise ctx.error(f"repeats {reps} must have one entry per dimension of shape {_shape(x)}")
    inter = [v for d in _shape(x) for v in (1, d)]
    big = [v for r, d in zip(reps, _shape(x)) for v in (r, d)]
    y = S.expand(S.reshape(x, inter), *big)
    return S.reshape(y, [r * d for r, d in zip(reps, _shape(x))])


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


@op("Pad")
def _pad(ctx, ins):
    x = ctx.tensor(ins[0])
    pads = ctx.ints(ins[1])
    value = ctx.scalar(ins[2] if len(ins) > 2 else None, 0)
    axes = ctx.ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(x.ndim))
    axes = [norm_axis(ctx, a, x.ndim) for a in axes]
    mode = ctx.attr("mode", "constant")
    if mode not in _PAD_MODES:
        raise ctx.unsupported(f"mode '{mode}'")
    k = len(axes)
    lo = dict(zip(axes, pads[:k]))
    hi = dict(zip(axes, pads[k:]))
    first = min([a for a in axes if lo[a] or hi[a]], default=x.ndim)
    flat = []
    for d in range(x.ndim - 1, first - 1, -1):  # F.pad lists the last dimension first
        flat += [lo.get(d, 0), hi.get(d, 0)]
    if not flat:
        return x
    if mode == "constant":
        return I.pad(x, flat, "constant", value)
    return I.pad(x, flat, _PAD_MODES[mode])


def _const_of_shape(ctx, ins):
    from onnx import numpy_helper
    val = np.zeros(1, dtype=np.float32)
    for a in ctx.node.attribute:
        if a.name == "value":
            val = numpy_helper.to_array(a.t).reshape(-1)
    return np.full(ctx.ints(ins[0]), val[0], dtype=val.dtype)


@op("ConstantOfShape", fold=_const_of_shape)
def _constant_of_shape(ctx, ins):
    # only the shape is read: the result is a constant of that shape
    return to_lamina(_const_of_shape(ctx, ins), ctx.where)


def _fold_range(ctx, ins):
    s, l, d = (np_of(v).reshape(()) for v in ins)
    return np.arange(s, l, d).astype(np.result_type(s, l, d))


@op("Range", fold=_fold_range)
def _range(ctx, ins):
    s, l, d = (np_of(v).reshape(()) for v in ins)
    dt = ctx.tensor(np.zeros(0, np.result_type(s, l, d))).dtype
    n = max(int(np.ceil((l - s) / d)), 0)  # ONNX's count, then start + i * delta in the input dtype
    return C.arange(0, n, dtype=dt) * d.item() + s.item() if n else C.zeros(0, dtype=dt)


@op("DepthToSpace")
def _depth_to_space(ctx, ins):
    x = ctx.tensor(ins[0])
    b = ctx.attr("blocksize")
    n, c, h, w = _shape(x)
    if ctx.attr("mode", "DCR") == "DCR":
        y = S.permute(S.reshape(x, [n, b, b, c // (b * b), h, w]), 0, 3, 4, 1, 5, 2)
    else:
        y = S.permute(S.reshape(x, [n, c // (b * b), b, b, h, w]), 0, 1, 4, 2, 5, 3)
    return S.reshape(y, [n, c // (b * b), h * b, w * b])


@op("SpaceToDepth")
def _space_to_depth(ctx, ins):
    x = ctx.tensor(ins[0])
    b = ctx.attr("blocksize")
    n, c, h, w = _shape(x)
    perm = (0, 3, 5, 1, 2, 4) if ctx.attr("mode", "DCR") == "DCR" else (0, 1, 3, 5, 2, 4)
    y = S.permute(S.reshape(x, [n, c, h // b, b, w // b, b]), *perm)
    return S.reshape(y, [n, c * b * b, h // b, w // b])


@op("Trilu")
def _trilu(ctx, ins):
    x = ctx.tensor(ins[0])
    k = ctx.scalar(ins[1] if len(ins) > 1 else None, 0)
    h, w = _shape(x)[-2:]
    r, c = np.arange(h)[:, None], np.arange(w)[None, :]
    keep = (c - r >= k) if ctx.attr("upper", 1) else (c - r <= k)  # a constant mask of the shape
    return U.where(to_lamina(keep), x, C.zeros(1, dtype=x.dtype))


@op("OneHot")
def _one_hot(ctx, ins):
    idx, depth, values = ins
    depth = int(ctx.scalar(depth))
    idx = ctx.tensor(idx)
    idx = idx if idx.dtype is D.int64 else idx.to(D.int64)
    axis = ctx.attr("axis", -1)
    rank = idx.ndim + 1
    axis = norm_axis(ctx, axis, rank)
    idx = U.where(Cmp.lt(idx, 0), idx + depth, idx)
    classes = S.reshape(C.arange(depth), [depth] + [1] * (rank - 1 - axis))
    hot = Cmp.eq(S.unsqueeze(idx, axis), classes)
    vals = ctx.tensor(values)
    return U.where(hot, vals[1], vals[0])


@op("CenterCropPad")
def _center_crop_pad(ctx, ins):
    """crop (the extra cell of an odd difference at the end) or zero-pad each axis to the size asked"""
    x = ctx.tensor(ins[0])
    sizes = ctx.ints(ins[1])
    axes = [norm_axis(ctx, a, x.ndim) for a in (ctx.attr("axes") or range(x.ndim))]
    pads = [0] * (2 * x.ndim)
    for a, n in zip(axes, sizes):
        dim = x.shape[a]
        if n < dim:
            x = S.narrow(x, a, (dim - n) // 2, n)
        elif n > dim:
            lo = (n - dim) // 2
            k = 2 * (x.ndim - 1 - a)  # F.pad lists the last dimension first
            pads[k], pads[k + 1] = lo, n - dim - lo
    return I.pad(x, pads) if any(pads) else x
