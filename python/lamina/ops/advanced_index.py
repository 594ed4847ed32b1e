"""Advanced indexing: ``x[int_tensor]``, ``x[bool_mask]``, mixed with basic indices, and its
in-place form ``x[key] = value``; ``Tensor.__getitem__`` / ``__setitem__`` / ``__iter__``.

The key is planned in Python (numpy works out broadcast index arrays, masks and bounds with the
user's own dimension numbers) and executed by one C++ gather over consecutive dimensions
(cpp/ops/indexing.cpp); its gradient is the matching index-add. Basic keys (ints, slices, None,
Ellipsis) are views, handled by shape.getitem.
"""
from __future__ import annotations


import numpy as np

from .. import _C
from .. import _dtype as D
from .._state import _tracers
from ..autograd import grad_mode
from ..autograd.function import Function
from ..autograd.views import write_inplace
from ..tensor import Tensor
from ._dims import W, _zeros_c
from .creation import tensor
from .reduce import sum_to
from .shape import _basic_view, _is_basic
from .shape import getitem as _basic_getitem

__all__: list = []


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


def getitem(x: Tensor, key) -> Tensor:
    """``x[key]``: basic indexing gives a view (shape.getitem); integer/bool tensor indices gather
    (copies)."""
    if isinstance(key, Tensor) and not (x.requires_grad and grad_mode._tls.enabled) and not _tracers:
        # x[idx] with a 1-D int64 tensor and nothing to record is a gather along dim 0: no numpy
        # round trip of the index (the plan cost ~18 us a call next to a ~15 us gather).
        kc = key._c
        if kc.dtype == _C.DType.int64 and kc.ndim == 1 and x._c.ndim:
            try:
                return W(_C.index_forward(x._c, 0, [kc]))
            except (IndexError, RuntimeError):
                pass  # negative or out-of-range indices, other devices: the general plan below
    if _is_basic(key):
        return _basic_getitem(x, key)
    return advanced_getitem(x, key)


def _iter(self):
    if self._c.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    for i in range(self._c.shape[0]):
        yield getitem(self, i)


FUNCTIONAL: list = []
TENSOR_METHODS: dict = {
    "__getitem__": getitem,
    "__setitem__": setitem,
    "__iter__": _iter,
}
