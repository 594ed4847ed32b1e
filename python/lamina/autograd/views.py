"""Views and in-place writes in the graph (PyTorch's view tracking and CopySlices).

A view records its root ``base`` and the ``steps`` that take the base's C++ tensor to the view's
(each step is a function on C++ tensors: a slice, a transpose, a reshape-as-view, ...). When an
in-place op writes through a view of a tensor in the graph, the base's history is rewritten:

    base' = base with the view's region replaced by r      (CopySlices: grad -> base, grad -> r)
    view' = steps(base')                                    (ViewOf:    grad -> base)

Other views of the same base notice the write through the storage's version counter and
regenerate their ``grad_fn`` from the base the next time the graph reaches them (``refresh``).

The three region Functions are written in terms of each other, so gradients of any order flow
through them: TakeRegion <-> ScatterRegion are adjoint, ZeroRegion is its own adjoint.
"""
from __future__ import annotations

from .. import _C
from .._state import _tracers
from . import grad_mode
from .function import Context, Function, Node, _edge_no_refresh

_EMPTY = ()


class ViewInfo:
    """How a view was taken: its root ``base``, the ``steps`` from base to view, and the storage
    version its ``grad_fn`` was last computed at."""

    __slots__ = ("base", "steps", "ver", "multi")

    def __init__(self, base, steps, ver) -> None:
        self.base, self.steps, self.ver = base, steps, ver
        self.multi = None  # the op's name when it returned several views (split, chunk, unbind)

    def refresh(self, t) -> None:
        """Called by ``function._edge`` when ``t`` (this view) is stale: see ``refresh`` below."""
        refresh(t)


def view_of(out, x, step):
    """Marks ``out`` as a view of ``x`` taken by ``step`` (a function on C++ tensors)."""
    info = x._view
    if info is None:
        out._view = ViewInfo(x, (step,), out._c._version)
    else:
        out._view = ViewInfo(info.base, info.steps + (step,), out._c._version)
        out._view.multi = info.multi  # a view of a split/unbind output keeps its refusal (as PyTorch)
    return out


def apply_steps(c, steps):
    for s in steps:
        c = s(c)
    return c


class ExpandStep:
    """The one view step that repeats memory: taking a region through it reads shared elements
    (copy), scattering back through it sums them."""

    __slots__ = ("in_shape", "shape")

    def __init__(self, in_shape, shape) -> None:
        self.in_shape, self.shape = list(in_shape), list(shape)

    def __call__(self, c):
        return c.expand(self.shape)


def _last_expand(steps) -> int:
    for j in range(len(steps) - 1, -1, -1):
        if type(steps[j]) is ExpandStep:
            return j
    return -1


def _take(g_c, geom, steps):
    """steps(g) as a new contiguous C++ tensor (g has the base's shape)."""
    j = _last_expand(steps)
    if j < 0:
        return apply_steps(_geometry_like(geom, g_c), steps).contiguous()
    pre = _take(g_c, geom, steps[:j])
    inter = pre.expand(steps[j].shape).contiguous()
    return apply_steps(inter, steps[j + 1:]).contiguous()


def _scatter(r_c, geom, steps):
    """Zeros shaped like the base with r in the region steps select; through an expand, the
    repeated elements' values are summed (the adjoint of _take)."""
    j = _last_expand(steps)
    if j < 0:
        z = _C.empty(geom.shape, r_c.dtype, r_c.device)
        _C.fill_(z, 0.0)
        g = _geometry_like(geom, z)
        apply_steps(g, steps).copy_(r_c)
        return g.contiguous()
    inter_shape, pre_shape = steps[j].shape, steps[j].in_shape
    r1 = _scatter(r_c, Geom.dense(inter_shape), steps[j + 1:])
    lead = len(inter_shape) - len(pre_shape)
    dims = list(range(lead)) + [lead + i for i, n in enumerate(pre_shape) if n == 1 and inter_shape[lead + i] != 1]
    r2 = _C.sum_forward(r1, dims, True).reshape(pre_shape) if dims else r1.reshape(pre_shape)
    return _scatter(r2, geom, steps[:j])


class Geom:
    """A base's layout (shape, strides, offset, storage size, dtype): all the region ops need of
    it. Keeping the layout instead of the C++ tensor keeps neither its memory alive nor its
    version in the saved-tensor check (the region ops never read the base's values)."""

    __slots__ = ("shape", "strides", "offset", "nelem", "contiguous")

    def __init__(self, shape, strides, offset, nelem, contiguous) -> None:
        self.shape, self.strides, self.offset = list(shape), list(strides), offset
        self.nelem, self.contiguous = nelem, contiguous

    @staticmethod
    def of(c) -> "Geom":
        return Geom(c.shape, c.strides, c.offset, c.storage_nbytes() // _C.dtype_itemsize(c.dtype),
                    c.is_contiguous())

    @staticmethod
    def dense(shape) -> "Geom":
        n = 1
        for v in shape:
            n *= v
        return Geom(shape, [], 0, n, True)


def _geometry_like(geom, src_c):
    """A new C++ tensor with the base's shape *and strides*, holding ``src_c``'s values: the view
    steps recorded on the base are then valid on it too (a reshape-as-view may need them)."""
    if geom.contiguous:
        return src_c.clone() if src_c.is_contiguous() else src_c.contiguous()
    buf = _C.empty([geom.nelem], src_c.dtype, src_c.device)
    _C.fill_(buf, 0.0)
    out = buf.as_strided(geom.shape, geom.strides, geom.offset)
    out.copy_(src_c)
    return out


class TakeRegion(Function):
    """g (base-shaped) -> steps(g), contiguous: the gradient a view's region receives."""

    @staticmethod
    def forward(ctx, g, geom, steps):
        ctx.geom, ctx.steps = geom, steps
        return g._wrap(_take(g._c, geom, steps))

    @staticmethod
    def backward(ctx, dout):
        return ScatterRegion.apply(dout, ctx.geom, ctx.steps), None, None

    backward_graph = backward


class ScatterRegion(Function):
    """r (view-shaped) -> zeros of the base's shape with r in the view's region."""

    @staticmethod
    def forward(ctx, r, geom, steps):
        ctx.geom, ctx.steps = geom, steps
        return r._wrap(_scatter(r._c, geom, steps))

    @staticmethod
    def backward(ctx, dout):
        return TakeRegion.apply(dout, ctx.geom, ctx.steps), None, None

    backward_graph = backward


class ZeroRegion(Function):
    """g (base-shaped) -> g with the view's region set to zero."""

    @staticmethod
    def forward(ctx, g, geom, steps):
        ctx.geom, ctx.steps = geom, steps
        out = _geometry_like(geom, g._c)
        _C.fill_(apply_steps(out, steps), 0.0)
        return g._wrap(out.contiguous())

    @staticmethod
    def backward(ctx, dout):
        return ZeroRegion.apply(dout, ctx.geom, ctx.steps), None, None

    backward_graph = backward


class CopySlices(Function):
    """The base after an in-place write through a view: (old base, new region r) -> base'.

    Its forward only wraps the base's memory (the write has already happened)."""

    @staticmethod
    def forward(ctx, base, r, steps, geom):
        ctx.geom, ctx.steps, ctx.r_dtype = geom, steps, r._c.dtype
        return base._wrap(base._c)

    @staticmethod
    def backward(ctx, dout):
        dbase = dr = None
        if ctx.needs_input_grad[0]:
            dbase = ZeroRegion.apply(dout, ctx.geom, ctx.steps)
        if ctx.needs_input_grad[1]:
            dr = TakeRegion.apply(dout, ctx.geom, ctx.steps)
            if dr._c.dtype != ctx.r_dtype:
                dr = dr._wrap(dr._c.to_dtype(ctx.r_dtype))
        return dbase, dr, None, None

    backward_graph = backward


class ViewOf(Function):
    """A view regenerated from its (rewritten) base: base -> steps(base)."""

    @staticmethod
    def forward(ctx, base, steps, view_c):
        ctx.geom, ctx.steps = Geom.of(base._c), steps
        return base._wrap(view_c)

    @staticmethod
    def backward(ctx, dout):
        return ScatterRegion.apply(dout, ctx.geom, ctx.steps), None, None

    backward_graph = backward


def _view_node(t):
    """Builds ``t``'s ViewOf node by hand: it must exist even while grad mode is off (the engine
    and no_grad code reach stale views too)."""
    info = t._view
    base = info.base
    ctx = Context()
    ctx.needs_input_grad = (True, False, False)
    ctx.geom, ctx.steps = Geom.of(base._c), info.steps
    c = t._c
    node = Node(ViewOf, ctx, (_edge_no_refresh(base), None, None), ((base._c.shape, base._c.dtype), None, None),
                ((c.shape, c.dtype, c.device),), "ViewOfBackward", _EMPTY)
    return node


def refresh(t) -> None:
    """Regenerates a stale view's grad_fn from its base (after an in-place write elsewhere)."""
    info = t._view
    info.ver = t._c._version
    base = info.base
    if base._view is not None:  # a base is never a view; keep the invariant visible
        raise RuntimeError("internal error: view base is itself a view")
    if not base.requires_grad:
        return
    if info.multi is not None:
        raise RuntimeError(
            f"Output of {info.multi} is a view and its base or another view of its base has been modified "
            "inplace. This view is the output of a function that returns multiple views. Such functions do "
            "not allow the output views to be modified inplace. You should replace the inplace operation by "
            "an out-of-place one.")
    t.grad_fn = _view_node(t)
    t._output_nr = 0
    t.requires_grad = True


def rebase_after_write(view, r, name: str) -> None:
    """After ``r`` was written into ``view``'s memory: the base's history becomes CopySlices and the
    view's becomes ViewOf(base')."""
    info = view._view
    base = info.base
    out = CopySlices.apply(base, r, info.steps, Geom.of(base._c))
    base.grad_fn, base._output_nr, base.requires_grad = out.grad_fn, 0, out.requires_grad
    info.ver = view._c._version
    if base.requires_grad:
        view.grad_fn = _view_node(view)
        view._output_nr = 0
        view.requires_grad = True


# ---- in-place writes ----------------------------------------------------------------------------

def check_inplace(t, name: str) -> None:
    """PyTorch's refusals: in place on a leaf that requires grad, or on a view of one (while
    recording), or on memory that repeats (an expanded tensor)."""
    if grad_mode._tls.enabled:
        if t.requires_grad and t.grad_fn is None:
            raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an in-place operation.")
        info = t._view
        if info is not None and info.base.requires_grad and info.base.grad_fn is None:
            raise RuntimeError(f"{name}: a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        if info is not None and info.multi is not None and t.requires_grad:
            raise RuntimeError(
                f"{name}: Output of {info.multi} is a view and is being modified inplace. This view is the "
                "output of a function that returns multiple views. Such functions do not allow the output "
                "views to be modified inplace. You should replace the inplace operation by an "
                "out-of-place one.")
    c = t._c
    for n, st in zip(c.shape, c.strides):
        if st == 0 and n > 1:
            raise RuntimeError(
                f"{name}: unsupported operation: more than one element of the written-to tensor (shape "
                f"{list(c.shape)}, strides {list(c.strides)}) refers to a single memory location. Please "
                "clone() the tensor before performing the operation.")


def _saved_output_is_target(r, c) -> None:
    """The op's output now lives in the target's memory: where its node saved that output (exp,
    sigmoid, relu, ...), the version check follows the target, so a later in-place write to it (or
    to its base or another view) makes backward refuse, as in PyTorch."""
    node = r.grad_fn
    if node is None or not getattr(node, "saved", None):
        return
    rp = r._c.storage_ptr()
    if rp == c.storage_ptr():
        return
    node.saved = tuple((k, c, c._version) if s.storage_ptr() == rp else (k, s, v) for k, s, v in node.saved)


def write_inplace(t, name: str, compute):
    """``t = compute(t)`` in place, recorded in the graph: the result is computed out of place
    (saved values that share t's memory are copied first), written into t's memory (so every view
    sees it), and t's history (or, for a view, its base's) is rewritten."""
    check_inplace(t, name)
    info = t._view
    if info is not None and info.ver != t._c._version:
        refresh(t)
    tls = grad_mode._tls
    prev = tls.inplace_target
    tls.inplace_target = t._c.storage_ptr()
    try:
        r = compute(t)
    finally:
        tls.inplace_target = prev
    c = t._c
    if r._c.shape != c.shape:
        raise RuntimeError(f"{name}: output with shape {list(c.shape)} doesn't match the broadcast shape "
                           f"{list(r._c.shape)}")
    if r._c.dtype != c.dtype:
        if r.dtype.is_floating_point and not t.dtype.is_floating_point:
            raise RuntimeError(f"{name}: result type {r.dtype.name} can't be cast to the desired output "
                               f"type {t.dtype.name}")
        r = r.to(t.dtype)
    c.copy_(r._c)
    _saved_output_is_target(r, c)
    if info is None:
        t.grad_fn, t._output_nr, t.requires_grad = r.grad_fn, getattr(r, "_output_nr", 0), r.requires_grad
    else:
        rebase_after_write(t, r, name)
    if _tracers:  # lamina.jit.trace (autograd/tracing.py): t now holds the recorded result r
        tr = _tracers[-1]
        if not tr.busy:
            tr.rebind(t, r)
    return t
