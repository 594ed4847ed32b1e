"""Indexing and joining: cat, stack, split, chunk, index_select, gather, scatter_add, advanced
indexing (``x[int_tensor]``, ``x[bool_mask]``) and its in-place form ``x[key] = value``, and
``F.pad``. C++ kernels: cpp/ops/indexing.cpp (cat, index gather / index-put, gather / scatter_add).

Advanced indexing is planned in Python (numpy works out broadcast index arrays, masks and bounds
with the user's own dimension numbers) and executed by one C++ gather over consecutive
dimensions; its gradient is the matching index-add.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from .. import _dtype as D
from ..autograd import grad_mode
from ..autograd.function import Function
from ..autograd.views import view_of, write_inplace
from ..tensor import Tensor
from .creation import tensor
from .reduce import sum_to
from .shape import _basic_view, _is_basic
from .shape import getitem as _basic_getitem

W = Tensor._wrap

__all__: list = ["cat", "concat", "concatenate", "stack", "split", "chunk", "index_select", "gather",
                 "scatter_add"]
FUNCTIONAL: list = ["pad"]


def _wrap_dim(dim: int, ndim: int, op: str) -> int:
    if type(dim) is int and ndim > 0 and -ndim <= dim < ndim:  # the common case, without the ABC check
        return dim % ndim
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not lo <= dim <= hi:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return int(dim) % max(ndim, 1)


def _zeros_c(shape, dt_c, device="cpu"):
    g = _C.empty(list(shape), dt_c, device)
    _C.fill_(g, 0.0)
    return g


def _grad_as(g_c, t: Tensor):
    """A gradient in the dtype of the input it belongs to."""
    return W(g_c if g_c.dtype == t._c.dtype else g_c.to_dtype(t._c.dtype))


# ---- cat / stack ---------------------------------------------------------------------------

def _cat_dim(tensors, dim, op):
    ref = tensors[0]
    for t in tensors:
        shape = t._c.shape
        if not (len(shape) == 1 and shape[0] == 0):
            ref = t
            break
    if ref.ndim == 0:
        raise ValueError(f"{op}: zero-dimensional tensor (at position {tensors.index(ref)}) cannot be concatenated")
    return _wrap_dim(dim, ref.ndim, op)


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *tensors):
        cs = [t._c for t in tensors]
        if ctx.needs_input_grad:  # empty when nothing is recorded: then backward never runs
            # one binding call per attribute and tensor (they add up next to a small cat)
            shapes = [c.shape for c in cs]
            ctx.dim = dim
            ctx.sizes = [None if (len(s) == 1 and s[0] == 0) else s[dim] for s in shapes]
            ctx.inputs_meta = [(s, c.dtype) for s, c in zip(shapes, cs)]
        return W(_C.cat_forward(cs, dim))

    @staticmethod
    def backward(ctx, dout):
        return _cat_grads(ctx, lambda off, n: dout._c.slice(ctx.dim, off, off + n, 1),
                          lambda g, dt: W(g if g.dtype == dt else g.to_dtype(dt)))

    @staticmethod
    def backward_graph(ctx, dout):
        return _cat_grads(ctx, lambda off, n: dout.narrow(ctx.dim, off, n),
                          lambda g, dt: g if g._c.dtype == dt else g.to(D.from_c(dt)))


def _cat_grads(ctx, piece, cast):
    """Cat's gradient per input: its slice of dout along dim (``piece``: a C++ slice for the fast
    path, a differentiable narrow for double backward), cast back to the input's dtype."""
    grads, off = [None], 0
    for n, (shape, dt), need in zip(ctx.sizes, ctx.inputs_meta, ctx.needs_input_grad[1:]):
        if n is None:
            grads.append(W(_zeros_c(shape, dt)) if need else None)
            continue
        grads.append(cast(piece(off, n), dt) if need else None)
        off += n
    return tuple(grads)


def _tensor_list(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of Tensors, got {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    return tensors


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenates tensors along ``dim``; all other dimensions must match (1-D empty tensors are
    skipped, as in PyTorch). The result has the promoted dtype of the inputs.

    PyTorch: ``torch.cat(tensors, dim=0)``; Keras: ``keras.ops.concatenate``.

    Example::

        lamina.cat([lamina.zeros(2, 3), lamina.ones(4, 3)]).shape   # (6, 3)
    """
    tensors = _tensor_list(tensors, "cat")
    d = _cat_dim(tensors, dim, "cat")
    return Cat.apply(d, *tensors)


concat = cat
concatenate = cat


class Stack(Function):
    @staticmethod
    def forward(ctx, dim, *tensors):
        ctx.dim = dim
        ctx.dts = [t._c.dtype for t in tensors]
        return W(_C.cat_forward([t._c.unsqueeze(dim) for t in tensors], dim))

    @staticmethod
    def backward(ctx, dout):
        out = [None]
        for i, (dt, need) in enumerate(zip(ctx.dts, ctx.needs_input_grad[1:])):
            g = dout._c.select(ctx.dim, i) if need else None
            out.append(None if g is None else W(g if g.dtype == dt else g.to_dtype(dt)))
        return tuple(out)

    @staticmethod
    def backward_graph(ctx, dout):
        out = [None]
        for i, (dt, need) in enumerate(zip(ctx.dts, ctx.needs_input_grad[1:])):
            g = dout.select(ctx.dim, i) if need else None
            out.append(None if g is None else (g if g._c.dtype == dt else g.to(D.from_c(dt))))
        return tuple(out)


def stack(tensors, dim: int = 0) -> Tensor:
    """Joins tensors of one shape along a new dimension ``dim``.

    PyTorch: ``torch.stack(tensors, dim=0)``; Keras: ``keras.ops.stack``.

    Example::

        lamina.stack([lamina.zeros(3), lamina.ones(3)]).shape       # (2, 3)
    """
    tensors = _tensor_list(tensors, "stack")
    shapes = [list(t.shape) for t in tensors]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack: expects each tensor to be equal size, got shapes {', '.join(map(str, shapes))}")
    d = _wrap_dim(dim, tensors[0].ndim + 1, "stack")
    return Stack.apply(d, *tensors)


# ---- split / chunk ---------------------------------------------------------------------------

class Split(Function):
    @staticmethod
    def forward(ctx, x, dim, sizes):
        ctx.dim = dim
        outs, off = [], 0
        for n in sizes:
            outs.append(W(x._c.slice(dim, off, off + n, 1)))
            off += n
        return tuple(outs)

    @staticmethod
    def backward(ctx, *douts):
        return W(_C.cat_forward([g._c for g in douts], ctx.dim)), None, None

    @staticmethod
    def backward_graph(ctx, *douts):
        return Cat.apply(ctx.dim, *douts), None, None


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Splits into views along ``dim``: pieces of ``split_size`` (the last may be smaller), or of
    the listed section sizes (which must add up to the dimension's length).

    PyTorch: ``torch.split``.
    """
    d = _wrap_dim(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        s = int(split_size_or_sections)
        if s <= 0 and not (s == 0 and n == 0):
            raise ValueError(f"split: split_size must be a positive integer, got {s}")
        sizes = [min(s, n - i) for i in range(0, n, s)] if n else [0]
    else:
        sizes = [int(v) for v in split_size_or_sections]
        if any(v < 0 for v in sizes) or sum(sizes) != n:
            raise ValueError(f"split: split_with_sizes expects split_sizes to sum exactly to {n} "
                             f"(input tensor's size at dimension {d}), but got split_sizes={sizes}")
    outs = Split.apply(tensor, d, sizes)
    off = 0
    for o, n in zip(outs, sizes):
        view_of(o, tensor, _SliceStep(d, off, off + n))
        o._view.multi = "SplitWithSizesBackward0"
        off += n
    return outs


class _SliceStep:
    __slots__ = ("d", "a", "b")

    def __init__(self, d, a, b) -> None:
        self.d, self.a, self.b = d, a, b

    def __call__(self, c):
        return c.slice(self.d, self.a, self.b, 1)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Splits into ``chunks`` views of size ceil(n / chunks) along ``dim`` (fewer when n is small).

    PyTorch: ``torch.chunk``.
    """
    if not isinstance(chunks, numbers.Integral) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive integer, got {chunks}")
    d = _wrap_dim(dim, input.ndim, "chunk")
    n = input.shape[d]
    size = max(1, -(-n // int(chunks)))
    return split(input, size, d)


# ---- index_select / gather / scatter_add -------------------------------------------------------

def _check_index_tensor(index, op, max_dim=None):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: index must be a Tensor, got {type(index).__name__}")
    c = index._c
    if c.dtype != _C.DType.int64:  # (the C++ enum: Tensor.dtype maps it, a cost per call)
        raise TypeError(f"{op}: index must be an int64 tensor, got {index.dtype}")
    if max_dim is not None and c.ndim > max_dim:
        raise ValueError(f"{op}: index must be 0-D or 1-D, got shape {list(index.shape)}")


def _reraise(e: Exception, op: str):
    msg = str(e)
    return type(e)(op + msg[msg.index(":"):] if ":" in msg else msg)


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, dim, index_c):
        c = x._c
        ctx.dim, ctx.index, ctx.in_shape = dim, index_c, c.shape
        try:
            return W(_C.index_forward(c, dim, [index_c]))
        except IndexError as e:
            raise _reraise(e, "index_select") from None

    @staticmethod
    def backward(ctx, dout):
        return W(_C.index_backward(dout._c, list(ctx.in_shape), ctx.dim, [ctx.index])), None, None

    @staticmethod
    def backward_graph(ctx, dout):
        return IndexAdd.apply(dout, ctx.in_shape, ctx.dim, ctx.index), None, None


class IndexAdd(Function):
    """dout -> zeros of the input's shape with dout's slices added at ``index`` along ``dim``:
    index_select's gradient and its adjoint (so every order alternates between the two)."""

    @staticmethod
    def forward(ctx, dout, in_shape, dim, index_c):
        ctx.dim, ctx.index = dim, index_c
        return W(_C.index_backward(dout._c, list(in_shape), dim, [index_c]))

    @staticmethod
    def backward(ctx, ddx):
        return IndexSelect.apply(ddx, ctx.dim, ctx.index), None, None, None

    backward_graph = backward


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Picks the entries ``index`` (1-D int64) along ``dim``: ``out.shape[dim] == len(index)``.

    PyTorch: ``torch.index_select``.
    """
    _check_index_tensor(index, "index_select", max_dim=1)
    nd = input._c.ndim
    d = _wrap_dim(dim, nd, "index_select")
    x = input if nd else input.reshape(1)
    ic = index._c
    out = IndexSelect.apply(x, d, ic if ic.ndim == 1 else ic.reshape([-1]))
    return out if nd else out.reshape(())


class Gather(Function):
    @staticmethod
    def forward(ctx, x, dim, index):
        c, ic = x._c, index._c
        ctx.dim, ctx.index, ctx.in_shape = dim, ic, c.shape
        return W(_C.gather_forward(c, dim, ic))

    @staticmethod
    def backward(ctx, dout):
        return W(_C.gather_backward(dout._c, list(ctx.in_shape), ctx.dim, ctx.index)), None, None

    @staticmethod
    def backward_graph(ctx, dout):
        return GatherBackward.apply(dout, ctx.in_shape, ctx.dim, ctx.index), None, None


class GatherBackward(Function):
    """dout -> zeros of the input's shape with dout scatter-added at ``index``: gather's gradient
    and its adjoint."""

    @staticmethod
    def forward(ctx, dout, in_shape, dim, index_c):
        ctx.dim, ctx.index = dim, index_c
        return W(_C.gather_backward(dout._c, list(in_shape), dim, index_c))

    @staticmethod
    def backward(ctx, ddx):
        return Gather.apply(ddx, ctx.dim, W(ctx.index)), None, None, None

    backward_graph = backward


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` (for dim=1); ``out`` has index's shape.

    PyTorch: ``torch.gather``.
    """
    _check_index_tensor(index, "gather")
    return Gather.apply(input, dim, index)


class ScatterAdd(Function):
    @staticmethod
    def forward(ctx, x, dim, index, src):
        ctx.dim, ctx.index, ctx.src_shape = dim, index._c, src.shape
        out = x._c.clone()
        _C.scatter_add_(out, dim, index._c, src._c)
        return W(out)

    @staticmethod
    def backward(ctx, dout):
        dx = dout if ctx.needs_input_grad[0] else None
        dsrc = None
        if ctx.needs_input_grad[3]:
            g = _C.gather_forward(dout._c, ctx.dim, ctx.index)
            if tuple(g.shape) != tuple(ctx.src_shape):  # src may be larger than index
                full = _zeros_c(ctx.src_shape, g.dtype)
                part = full
                for k, n in enumerate(g.shape):
                    part = part.slice(k, 0, n, 1)
                part.copy_(g)
                g = full
            dsrc = W(g)
        return dx, None, None, dsrc

    @staticmethod
    def backward_graph(ctx, dout):
        dx = dout if ctx.needs_input_grad[0] else None
        dsrc = None
        if ctx.needs_input_grad[3]:
            dsrc = Gather.apply(dout, ctx.dim, W(ctx.index))
            if tuple(dsrc.shape) != tuple(ctx.src_shape):  # src larger than index: zeros beyond it
                pads = []
                for k in range(dsrc.ndim - 1, -1, -1):
                    pads += [0, ctx.src_shape[k] - dsrc.shape[k]]
                dsrc = ConstantPad.apply(dsrc, pads, 0.0)
        return dx, None, None, dsrc


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Out-of-place ``input.clone()`` with ``out[i][index[i][j]] += src[i][j]`` (for dim=1).

    PyTorch: ``torch.scatter_add``.
    """
    _check_index_tensor(index, "scatter_add")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a Tensor, got {type(src).__name__}")
    return ScatterAdd.apply(input, dim, index, src)


# ---- advanced indexing -------------------------------------------------------------------------

def _is_adv(k) -> bool:
    if isinstance(k, Tensor):
        return not (k.ndim == 0 and k.dtype is D.int64)
    return isinstance(k, (list, np.ndarray))


def _to_numpy_index(k):
    if isinstance(k, Tensor):
        if not (k.dtype is D.int64 or k.dtype is D.bool_):
            raise IndexError(f"tensors used as indices must be long or bool tensors, got {k.dtype}")
        return np.asarray(k.detach().cpu()._c.numpy())
    a = np.asarray(k)
    if a.dtype == bool:
        return a
    if a.size == 0:
        return a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise IndexError(f"only integers, slices, None, Ellipsis, and long or bool tensors are valid indices, "
                         f"got an array of {a.dtype}")
    return a.astype(np.int64)


class _Plan:
    """How ``x[key]`` runs: a basic view, an optional permute, then one gather over ``K``
    consecutive dims starting at ``d`` with flattened index arrays ``idx`` of broadcast shape
    ``bshape``."""

    __slots__ = ("basic", "perm", "d", "idx", "bshape", "view_shape")


def _plan(x: Tensor, key) -> _Plan:
    key = key if isinstance(key, tuple) else (key,)
    items = []
    for k in key:
        items.append(("adv", _to_numpy_index(k)) if _is_adv(k) else ("basic", k))
    consumed = 0
    for kind, k in items:
        if kind == "adv":
            consumed += k.ndim if k.dtype == bool else 1
        elif k is not None and k is not Ellipsis:
            consumed += 1
    if sum(1 for kind, k in items if kind == "basic" and k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim} (got {consumed}, shape {list(x.shape)})")
    basic, advs = [], []  # advs: (view dim, source dim, int array)
    src = vdim = 0
    for kind, k in items:
        if kind == "basic":
            if k is Ellipsis:
                n = x.ndim - consumed
                basic.extend([slice(None)] * n)
                src += n
                vdim += n
            elif k is None:
                basic.append(None)
                vdim += 1
            elif isinstance(k, slice):
                basic.append(k)
                src += 1
                vdim += 1
            else:
                basic.append(k)
                src += 1
            continue
        if k.dtype == bool:
            mshape = list(x.shape[src:src + k.ndim])
            if list(k.shape) != mshape:
                raise IndexError(f"the shape of the mask {list(k.shape)} at index {src} does not match the shape "
                                 f"of the indexed tensor {list(x.shape)} (dims {src}..{src + k.ndim - 1} are {mshape})")
            for arr in np.nonzero(k):
                basic.append(slice(None))
                advs.append((vdim, src, arr.astype(np.int64)))
                src += 1
                vdim += 1
            continue
        n = x.shape[src]
        bad = (k < -n) | (k >= n)
        if bad.any():
            v = int(k[bad].flat[0])
            raise IndexError(f"index {v} is out of bounds for dimension {src} with size {n}")
        basic.append(slice(None))
        advs.append((vdim, src, np.where(k < 0, k + n, k)))
        src += 1
        vdim += 1
    try:
        arrays = np.broadcast_arrays(*[a for _, _, a in advs])
    except ValueError:
        shapes = ", ".join(str(list(a.shape)) for _, _, a in advs)
        raise IndexError(f"shape mismatch: indexing tensors could not be broadcast together with shapes {shapes}") from None
    p = _Plan()
    p.basic = tuple(basic)
    vds = [v for v, _, _ in advs]
    view_nd = vdim
    if vds == list(range(vds[0], vds[0] + len(vds))):
        p.perm, p.d = None, vds[0]
    else:  # separated advanced indices: their result dims go first, as in NumPy / PyTorch
        p.perm = vds + [i for i in range(view_nd) if i not in vds]
        p.d = 0
    p.bshape = list(arrays[0].shape)
    p.idx = [_C.from_numpy(np.ascontiguousarray(a, dtype=np.int64).reshape(-1)) for a in arrays]
    return p


def _plan_view(c, p: _Plan):
    v = _basic_view(c, p.basic)
    return v.permute(p.perm) if p.perm is not None else v


def _result_shape(view_shape, p: _Plan):
    K = len(p.idx)
    return list(view_shape[:p.d]) + p.bshape + list(view_shape[p.d + K:])


def _flat_shape(view_shape, p: _Plan):
    K = len(p.idx)
    L = int(np.prod(p.bshape)) if p.bshape else 1
    return list(view_shape[:p.d]) + [L] + list(view_shape[p.d + K:])


class AdvancedIndex(Function):
    @staticmethod
    def forward(ctx, x, p):
        ctx.p, ctx.meta = p, (x.shape, x._c.dtype, x.device)
        v = _plan_view(x._c, p)
        out = _C.index_forward(v, p.d, p.idx)
        return W(out.reshape(_result_shape(v.shape, p)))

    @staticmethod
    def backward(ctx, dout):
        shape, dt, dev = ctx.meta
        p = ctx.p
        g = _zeros_c(shape, dt, dev)
        v = _plan_view(g, p)
        _C.index_put_(v, p.d, p.idx, dout._c.reshape(_flat_shape(v.shape, p)), True)
        return W(g), None

    @staticmethod
    def backward_graph(ctx, dout):
        return AdvancedIndexBackward.apply(dout, ctx.p, ctx.meta), None


class AdvancedIndexBackward(Function):
    """dout -> zeros of the input's shape with dout index-added at the plan's positions: the
    gradient of ``x[key]`` and its adjoint."""

    @staticmethod
    def forward(ctx, dout, p, meta):
        ctx.p = p
        shape, _, dev = meta
        g = _zeros_c(shape, dout._c.dtype, dev)
        v = _plan_view(g, p)
        _C.index_put_(v, p.d, p.idx, dout._c.reshape(_flat_shape(v.shape, p)), True)
        return W(g)

    @staticmethod
    def backward(ctx, ddx):
        return AdvancedIndex.apply(ddx, ctx.p), None, None

    backward_graph = backward


def advanced_getitem(x: Tensor, key) -> Tensor:
    """``x[key]`` where key holds int64 / bool tensors, lists or numpy arrays (mixed with ints,
    slices, None and ...): a copy, with the gradient index-added back."""
    return AdvancedIndex.apply(x, _plan(x, key))


# ---- x[key] = value ------------------------------------------------------------------------

def _write(xc, key, p, value_c):
    """Performs the in-place write on C++ tensors (no autograd)."""
    if p is None:
        _basic_view(xc, key).copy_(value_c)
        return
    v = _plan_view(xc, p)
    target = _result_shape(v.shape, p)
    try:
        vals = value_c.expand(target)
    except ValueError:
        raise ValueError(f"shape mismatch: value tensor of shape {list(value_c.shape)} cannot be broadcast to "
                         f"indexing result of shape {target}") from None
    _C.index_put_(v, p.d, p.idx, vals.reshape(_flat_shape(v.shape, p)), False)


class SetItem(Function):
    """x with x[key] = value, out of place (tensor keys): the recorded half of ``x[key] = value``."""

    @staticmethod
    def forward(ctx, x, value, key, p):
        ctx.key, ctx.p, ctx.vmeta = key, p, (value.shape, value._c.dtype)
        xc = x._c.clone()
        _write(xc, key, p, value._c)
        return W(xc)

    @staticmethod
    def backward(ctx, dout):
        key, p = ctx.key, ctx.p
        dx = dv = None
        if ctx.needs_input_grad[0]:
            g = dout._c.clone()
            zero = _zeros_c([], g.dtype, g.device)
            _write(g, key, p, zero)
            dx = W(g)
        if ctx.needs_input_grad[1]:
            if p is None:
                r = _basic_view(dout._c, key).clone()
            else:
                v = _plan_view(dout._c, p)
                r = _C.index_forward(v, p.d, p.idx).reshape(_result_shape(v.shape, p))
            vshape, vdt = ctx.vmeta
            if r.dtype != vdt:
                r = r.to_dtype(vdt)
            dv = W(r)
            if tuple(r.shape) != tuple(vshape):
                dv = sum_to(dv, tuple(vshape))
        return dx, dv, None, None

    @staticmethod
    def backward_graph(ctx, dout):
        key, p = ctx.key, ctx.p
        dx = dv = None
        if ctx.needs_input_grad[0]:
            dx = ZeroIndexed.apply(dout, key, p)
        if ctx.needs_input_grad[1]:
            dv = dout[key] if p is None else AdvancedIndex.apply(dout, p)
            vshape, vdt = ctx.vmeta
            if dv._c.dtype != vdt:
                dv = dv.to(D.from_c(vdt))
            if tuple(dv.shape) != tuple(vshape):
                dv = sum_to(dv, tuple(vshape))
        return dx, dv, None, None


class ZeroIndexed(Function):
    """g with the region ``x[key]`` set to zero: SetItem's gradient for x, its own adjoint."""

    @staticmethod
    def forward(ctx, g, key, p):
        ctx.key, ctx.p = key, p
        c = g._c.clone()
        _write(c, key, p, _zeros_c([], c.dtype, c.device))
        return W(c)

    @staticmethod
    def backward(ctx, ddx):
        return ZeroIndexed.apply(ddx, ctx.key, ctx.p), None, None

    backward_graph = backward


class Overwrite(Function):
    """dst's shape filled with ``value`` (broadcast, cast to dst's dtype): the recorded half of
    ``copy_``, ``fill_`` and ``x[basic key] = value``. The old values get no gradient."""

    @staticmethod
    def forward(ctx, dst, value):
        ctx.vmeta = (value._c.shape, value._c.dtype)
        shape = list(dst._c.shape)
        v = value._c
        if v.dtype != dst._c.dtype:
            v = v.to_dtype(dst._c.dtype)
        try:
            v = v.expand(shape)
        except ValueError:
            raise RuntimeError(f"The size of tensor a ({shape}) must match the size of tensor b "
                               f"({list(value.shape)}): the value cannot be broadcast to the written-to "
                               f"shape {shape}") from None
        out = _C.empty(shape, dst._c.dtype, dst.device)
        out.copy_(v)
        return W(out)

    @staticmethod
    def backward(ctx, dout):
        if not ctx.needs_input_grad[1]:
            return None, None
        vshape, vdt = ctx.vmeta
        g = dout
        if tuple(g.shape) != tuple(vshape):
            g = sum_to(g, tuple(vshape))
        if g._c.dtype != vdt:
            g = g.to(D.from_c(vdt))
        return None, g

    backward_graph = backward


def overwrite_(t: Tensor, name: str, value: Tensor) -> Tensor:
    """``t``'s elements all replaced by ``value`` (broadcast), recorded (copy_, fill_, ...)."""
    return write_inplace(t, name, lambda src: Overwrite.apply(src, value))


def setitem(x: Tensor, key, value) -> None:
    """``x[key] = value`` in place; value (a tensor or number) broadcasts to the indexed shape.
    Basic keys write through a view; tensor keys through an index-put. In the graph, x's history
    (or its base's, when x is a view) is rewritten, as PyTorch's CopySlices does: the overwritten
    region gets no gradient, the value gets the region's gradient."""
    if not isinstance(value, Tensor):
        value = tensor(value, dtype=x.dtype, device=x.device)
    p = None if _is_basic(key) else _plan(x, key)
    if grad_mode._tls.enabled and (x.requires_grad or value.requires_grad) and x.dtype.is_floating_point:
        if p is None:
            overwrite_(getitem(x, key), "setitem", value)
        else:
            write_inplace(x, "setitem", lambda src: SetItem.apply(src, value, None, p))
    else:
        _write(x._c, key, p, value._c)


# ---- pad -------------------------------------------------------------------------------------

class ConstantPad(Function):
    @staticmethod
    def forward(ctx, x, pads, value):
        nd = x.ndim
        shape = list(x.shape)
        out_shape = list(shape)
        for i in range(len(pads) // 2):
            d = nd - 1 - i
            out_shape[d] = shape[d] + pads[2 * i] + pads[2 * i + 1]
            if out_shape[d] < 0:
                raise ValueError(f"pad: padding {pads} makes dimension {d} of input shape {shape} negative "
                                 f"({shape[d]} + {pads[2 * i]} + {pads[2 * i + 1]} = {out_shape[d]})")
        ctx.pads, ctx.in_shape, ctx.meta = pads, shape, (x._c.dtype, x.device)
        out = _C.empty(out_shape, x._c.dtype, x.device)
        _C.fill_(out, float(value))
        o, i = _regions(out, x._c, pads)
        if o.numel():
            o.copy_(i)
        return W(out)

    @staticmethod
    def backward(ctx, dout):
        dt, dev = ctx.meta
        g = _zeros_c(ctx.in_shape, dt, dev)
        o, i = _regions(dout._c, g, ctx.pads)
        if o.numel():
            i.copy_(o)
        return W(g), None, None

    @staticmethod
    def backward_graph(ctx, dout):
        # The adjoint of padding by ``pads`` is padding by ``-pads`` with zeros (crop the padded
        # border, zero-fill what a negative pad cropped), so every order stays a ConstantPad.
        return ConstantPad.apply(dout, [-v for v in ctx.pads], 0.0), None, None


def _regions(out_c, in_c, pads):
    """Views of the overlapping part: in the padded tensor and in the input (negative pads crop)."""
    nd = in_c.ndim
    for i in range(len(pads) // 2):
        d = nd - 1 - i
        lo, hi = pads[2 * i], pads[2 * i + 1]
        n_in, n_out = in_c.shape[d], out_c.shape[d]
        out_c = out_c.slice(d, max(lo, 0), max(n_out - max(hi, 0), max(lo, 0)), 1)
        in_c = in_c.slice(d, max(-lo, 0), max(n_in - max(-hi, 0), max(-lo, 0)), 1)
    return out_c, in_c


def _pad_indices(n, lo, hi, mode, d, shape):
    i = np.arange(-lo, n + hi)
    if mode == "reflect":
        if lo >= n or hi >= n:
            raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than dimension {d} of input "
                             f"shape {shape} (size {n})")
        i = np.abs(i)
        i = np.where(i > n - 1, 2 * (n - 1) - i, i)
    elif mode == "replicate":
        if n == 0:
            raise ValueError(f"pad: cannot replicate-pad an empty dimension {d} of input shape {shape}")
        i = np.clip(i, 0, n - 1)
    elif mode == "circular":
        if lo > n or hi > n:
            raise ValueError(f"pad: circular padding ({lo}, {hi}) must be at most dimension {d} of input shape "
                             f"{shape} (size {n})")
        i = np.mod(i, n)
    return i.astype(np.int64)


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pads the last ``len(pad) // 2`` dimensions: ``pad = (left_last, right_last, left_2nd_last,
    right_2nd_last, ...)``. mode: 'constant' (fill with ``value``; negative pads crop), 'reflect'
    (mirror without repeating the edge), 'replicate' (repeat the edge) or 'circular' (wrap).

    PyTorch: ``torch.nn.functional.pad``.
    """
    pads = [int(v) for v in pad]
    if len(pads) % 2 or len(pads) // 2 > input.ndim:
        raise ValueError(f"pad: padding length must be even and at most 2 * ndim = {2 * input.ndim}, "
                         f"got {len(pads)} (pad={tuple(pads)}, input shape {list(input.shape)})")
    if mode == "constant":
        return ConstantPad.apply(input, pads, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: unknown mode '{mode}' (expected 'constant', 'reflect', 'replicate' or 'circular')")
    if value not in (None, 0, 0.0):
        raise ValueError(f"pad: padding mode '{mode}' doesn't take in value argument")
    if any(v < 0 for v in pads) and mode != "circular":
        raise ValueError(f"pad: negative padding {tuple(pads)} is only supported in constant and circular modes")
    out = input
    for i in range(len(pads) // 2):
        d = input.ndim - 1 - i
        idx = _pad_indices(input.shape[d], pads[2 * i], pads[2 * i + 1], mode, d, list(input.shape))
        out = IndexSelect.apply(out, d, _C.from_numpy(idx))
    return out


def getitem(x: Tensor, key) -> Tensor:
    """``x[key]``: basic indexing gives a view (shape.getitem); integer/bool tensor indices gather
    (copies)."""
    if _is_basic(key):
        return _basic_getitem(x, key)
    return advanced_getitem(x, key)


def _iter(self):
    if self._c.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    for i in range(self._c.shape[0]):
        yield getitem(self, i)


TENSOR_METHODS: dict = {
    "__getitem__": getitem,
    "__setitem__": setitem,
    "__iter__": _iter,
    "index_select": index_select,
    "gather": gather,
    "split": split,
    "chunk": chunk,
    "scatter_add": scatter_add,
}
