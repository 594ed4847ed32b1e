"""ONNX export of the shape ops: reshape/view/flatten, transpose, permute, expand, squeeze,
unsqueeze, contiguous/clone (identity), dtype casts, basic indexing (Slice + Squeeze/Unsqueeze),
cat, stack, split, index_select, gather and constant padding. Sizes that follow the batch become
shape tensors computed from the input's shape.
"""
from __future__ import annotations

import numbers

import numpy as np
from onnx import numpy_helper

from ..jit.ir import Sym, Value
from ..ops import advanced_index as _adv
from ..ops import indexing as _ix
from ..ops import join as _join
from ..ops import shape as _sh
from ..ops.creation import Full
from ._export_core import axis, np_dtype, onnx_dtype, rank, unsupported

_BIG = np.iinfo(np.int64).max


def _reshape(b, n, a):
    x = a[0]
    out = n.outputs[0].shape
    # a -1 in the target is resolved from the output's (possibly symbolic) shape; one symbolic
    # entry alone becomes -1 so no shape arithmetic is needed
    dims = list(out)
    syms = [i for i, d in enumerate(dims) if isinstance(d, Sym)]
    if len(syms) == 1:
        dims[syms[0]] = -1
    return b.op("Reshape", [x, b.shape(dims)])


def _transpose(b, n, a):
    x, d0, d1 = a
    v = n.args[0]
    perm = list(range(rank(v)))
    i, j = axis(d0, v), axis(d1, v)
    perm[i], perm[j] = perm[j], perm[i]
    return b.op("Transpose", [x], perm=perm)


def _permute(b, n, a):
    v = n.args[0]
    return b.op("Transpose", [a[0]], perm=[axis(d, v) for d in a[1]])


def _expand(b, n, a):
    return b.op("Expand", [a[0], b.shape(list(n.outputs[0].shape))])


def _squeeze(b, n, a):
    x, dim = a
    v = n.args[0]
    if dim is None:
        axes = [i for i, s in enumerate(v.shape) if s == 1]
    else:
        dims = dim if isinstance(dim, (list, tuple)) else [dim]
        axes = [axis(d, v) for d in dims if v.shape[axis(d, v)] == 1]
    if not axes:
        return b.op("Identity", [x])
    return b.op("Squeeze", [x, b.ints(axes)])


def _unsqueeze(b, n, a):
    x, dim = a
    return b.op("Unsqueeze", [x, b.ints([dim % (rank(n.args[0]) + 1)])])


def _identity(b, n, a):
    return b.op("Identity", [a[0]])


def _to(b, n, a):
    x, dtype = a[0], a[1]
    if dtype is None or dtype is n.args[0].dtype:
        return b.op("Identity", [x])
    return b.op("Cast", [x], to=onnx_dtype(dtype))


def _basic_index(b, n, a):
    return _index_view(b, n, a[0], a[1], n.args[0])


def _index_view(b, n, x, key, v):
    """``x[key]`` for a basic key (ints, slices, None, Ellipsis) as Slice / Squeeze / Unsqueeze."""
    key = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, Value) for k in key):
        raise unsupported(n, "indexing with a tensor scalar")
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    full = []
    for k in key:
        full.extend([slice(None)] * (rank(v) - n_real) if k is Ellipsis else [k])
    full += [slice(None)] * (rank(v) - sum(1 for k in full if k is not None))
    starts, ends, axes, steps, drop, add = [], [], [], [], [], []
    src = out = 0
    for k in full:
        if k is None:
            add.append(out)
            out += 1
            continue
        if isinstance(k, slice):
            if k != slice(None) and not (k.start in (None, 0) and k.stop is None and k.step in (None, 1)):
                for s in (k.start, k.stop, k.step):
                    if isinstance(s, Sym):
                        raise unsupported(n, "a slice bound that follows the batch")
                starts.append(0 if k.start is None else int(k.start))
                ends.append(_BIG if k.stop is None else int(k.stop))
                axes.append(src)
                steps.append(1 if k.step is None else int(k.step))
            out += 1
        elif isinstance(k, numbers.Integral):
            i = int(k)
            starts.append(i)
            ends.append(i + 1 if i != -1 else _BIG)
            axes.append(src)
            steps.append(1)
            drop.append(src)
        else:
            raise unsupported(n, f"index {k!r}")
        src += 1
    y = x
    if axes:
        y = b.op("Slice", [y, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if drop:
        y = b.op("Squeeze", [y, b.ints(drop)])
    if add:
        y = b.op("Unsqueeze", [y, b.ints(add)])
    return y if y is not x else b.op("Identity", [x])


def _advanced_index(b, n, a):
    """x[idx] with one integer index array (after a basic view and, for separated indices, a
    permute): a Gather of the flattened index reshaped to its broadcast shape."""
    x, p = a
    if len(p.idx) != 1:
        raise unsupported(n, f"indexing with {len(p.idx)} index arrays at once (ONNX Gather takes one)")
    v = n.args[0]
    y = _index_view(b, n, x, p.basic, v)
    if p.perm is not None:
        y = b.op("Transpose", [y], perm=list(p.perm))
    idx = p.idx[0].numpy().astype(np.int64).reshape(p.bshape)
    return b.op("Gather", [y, b.const(idx, hint="index")], axis=int(p.d))


def _cat(b, n, a):
    dim, tensors = a[0], [t for t in a[1:]]
    return b.op("Concat", tensors, axis=axis(dim, n.args[1]))


def _stack(b, n, a):
    dim, tensors = a[0], list(a[1:])
    d = dim % (rank(n.args[1]) + 1)
    return b.op("Concat", [b.op("Unsqueeze", [t, b.ints([d])]) for t in tensors], axis=d)


def _split(b, n, a):
    x, dim, sizes = a
    if any(isinstance(s, Sym) for s in sizes):
        raise unsupported(n, "split sizes that follow the batch")
    outs = b.op("Split", [x, b.ints(sizes)], n_out=len(sizes), axis=axis(dim, n.args[0]))
    return outs if len(sizes) > 1 else [outs]


def _index_select(b, n, a):
    x, dim, idx = a
    if not isinstance(idx, str):  # a constant index, else the graph tensor it came from (a 1-D one)
        idx = b.const(idx.numpy().astype(np.int64), hint="index")
    return b.op("Gather", [x, idx], axis=axis(dim, n.args[0]))


def _gather(b, n, a):
    x, dim, idx = a
    return b.op("GatherElements", [x, idx], axis=axis(dim, n.args[0]))


def _pad(b, n, a):
    x, pads, value = a
    v = n.args[0]
    if any(p < 0 for p in pads):
        raise unsupported(n, f"negative (cropping) pads {pads}")
    r = rank(v)
    begin, end = [0] * r, [0] * r
    for i in range(len(pads) // 2):  # torch order: last dimension first, (before, after) pairs
        d = r - 1 - i
        begin[d], end[d] = pads[2 * i], pads[2 * i + 1]
    return b.op("Pad", [x, b.ints(begin + end), b.scalar(value, v)], mode="constant")


def _overwrite(b, n, a):
    """copy_ / fill_ / zero_ (recorded as Overwrite(dst, value)): value cast and broadcast to dst."""
    dst, value = a
    dv, vv = n.args[0], n.args[1]
    if vv.dtype is not dv.dtype:
        value = b.op("Cast", [value], to=onnx_dtype(dv.dtype))
    return b.op("Expand", [value, b.op("Shape", [dst])])


def _full(b, n, a):
    shape, value, dtype = a[0], a[1], a[2]
    fill = numpy_helper.from_array(np.asarray([value], dtype=np_dtype(dtype)), "value")
    return b.op("ConstantOfShape", [b.shape(list(shape))], value=fill)


CONVERTERS: dict = {
    Full: _full,
    _sh.Reshape: _reshape, _sh.Transpose: _transpose, _sh.Permute: _permute, _sh.Expand: _expand,
    _sh.Squeeze: _squeeze, _sh.Unsqueeze: _unsqueeze, _sh.Contiguous: _identity, _sh.Clone: _identity,
    _sh.To: _to, _sh.BasicIndex: _basic_index, _join.Cat: _cat, _join.Stack: _stack, _join.Split: _split,
    _adv.Overwrite: _overwrite, _ix.IndexSelect: _index_select, _adv.AdvancedIndex: _advanced_index,
    _ix.Gather: _gather, _ix.ConstantPad: _pad,
}
