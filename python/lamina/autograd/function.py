"""``Function``: an op with a gradient. ``apply`` runs ``forward`` without recording, then (when
any input requires grad and grad mode is on) links the outputs to a ``Node`` in the graph.

Write your own op the PyTorch way::

    class Square(lamina.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, dout):
            (x,) = ctx.saved_tensors
            return 2 * x * dout
"""
from __future__ import annotations

import itertools
from threading import get_ident as _get_ident

from .. import _C
from .._state import _tracers as _TRACERS
from ..tensor import Tensor
from . import grad_mode

_tls = grad_mode._tls
_CTensor = _C.Tensor
_NO_SAVED = ()
_NODE_NAMES: dict = {}  # Function class -> its node's name ("MulBackward")


class Context:
    """What ``forward`` leaves for ``backward``: saved tensors and any attributes set on it.

    Saved values are C++ tensors set as attributes (``ctx.x = x._c``) or Tensors passed to
    ``save_for_backward``; both are version-checked at backward (see ``Node.check_versions``).
    Inside ``backward_graph`` (double backward), ``ctx.input(i, c)`` and ``ctx.output(c, i)`` turn
    saved C++ tensors back into Tensors attached to the graph.
    """

    # Class-level defaults instead of an __init__: every recorded op makes a Context, and
    # _saved_of scans its __dict__, which now holds only what forward set.
    saved_tensors_ = ()
    needs_input_grad = ()
    _released = False
    _non_diff = ()  # ids of outputs marked non-differentiable

    def save_for_backward(self, *tensors) -> None:
        """Keeps tensors (or None) for backward; read them back with ``ctx.saved_tensors``."""
        self.saved_tensors_ = tensors

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the graph "
                "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True "
                "if you need to backward through the graph a second time."
            )
        return self.saved_tensors_

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs listed here never require grad (e.g. argmax indices)."""
        self._non_diff = {id(t) for t in tensors}

    # ---- double backward: saved C++ tensors as graph Tensors ----
    def input(self, i: int, c=None):
        """Forward input ``i`` as a Tensor attached to the graph (its gradient flows back to where
        the input came from). ``c``: the C++ tensor saved for it (its values)."""
        node = self._node
        e = node.next[i]
        if e is not None and isinstance(e[0], AccumulateGrad):
            return e[0].leaf
        t = Tensor._wrap(c)
        if e is not None:
            t.grad_fn, t._output_nr, t.requires_grad = e[0], e[1], True
        return t

    def output(self, c, i: int = 0):
        """Forward output ``i`` (values ``c``, as saved) as a Tensor produced by this op's node."""
        t = Tensor._wrap(c)
        t.grad_fn, t._output_nr, t.requires_grad = self._node, i, True
        return t


_seq = itertools.count()


class Node:
    """One recorded op in the graph: its Function class, its context and the edges to its inputs.

    ``next`` holds, per forward input, the edge its gradient flows into: ``(node, output_nr)``
    with node a Node or AccumulateGrad, or None. ``in_meta`` is (shape, dtype, device) per tensor input, used to
    check and reduce gradients the op returns. ``saved`` lists (key, saved tensor, version at save)
    for the version check.
    """

    __slots__ = ("cls", "ctx", "next", "in_meta", "out_meta", "name", "hooks", "saved", "__weakref__")

    def __init__(self, cls, ctx, nxt, in_meta, out_meta, name, saved):
        self.hooks = None  # [(output_nr, fn)]: tensor hooks / retain_grad, run on arriving grads
        self.cls = cls
        self.ctx = ctx
        self.next = nxt
        self.in_meta = in_meta
        self.out_meta = out_meta
        self.name = name
        self.saved = saved

    def check_alive(self) -> None:
        if self.ctx._released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through {self.name}): its saved "
                "values were freed by the first .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time."
            )

    def check_versions(self) -> None:
        """PyTorch's saved-variable check: a saved tensor written in place since it was saved
        would give a silently wrong gradient, so backward refuses."""
        for key, c, ver in self.saved:
            now = c._version
            if now != ver:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{_dtype_name(c)} {list(c.shape)}] (saved as {key} by "
                    f"{self.name}) is at version {now}; expected version {ver} instead. Hint: the "
                    "in-place write happened after the op saved it; use an out-of-place op or .clone()."
                )

    def apply(self, grads):
        ctx = self.ctx
        if ctx._released:
            self.check_alive()
        if self.saved:
            self.check_versions()
        return self.cls.backward(ctx, *grads)

    def release(self) -> None:
        # Drop everything forward left on the context (saved tensors or raw C++ tensors kept as
        # attributes), so the memory goes now rather than when the graph is collected.
        ctx = self.ctx
        ctx.__dict__.clear()  # (saved_tensors_ falls back to the class's ())
        ctx._released = True
        self.saved = _NO_SAVED

    def __repr__(self) -> str:
        return f"<{self.name}>"

    @property
    def next_functions(self):
        return tuple(e if e is not None else (None, 0) for e in self.next)


def _dtype_name(c) -> str:
    return {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor"}.get(c.dtype.name, c.dtype.name)


class AccumulateGrad:
    """The sink for a leaf tensor: adds incoming gradients into ``leaf.grad``."""

    __slots__ = ("leaf", "name", "hooks", "post_hooks", "dest", "__weakref__")

    def __init__(self, leaf) -> None:
        self.hooks = None
        self.post_hooks = None  # [fn(leaf)]: run after the gradient is added into leaf.grad
        self.dest = None  # fn() -> (C++ tensor, scale) or None: see engine.take_grad_destination
        self.leaf = leaf
        self.name = "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"

    next = ()
    next_functions = ()
    out_meta = (None,)  # one gradient slot in the engine's buffer; never zero-filled (never run)


def _edge_no_refresh(t):
    """``_edge`` without regenerating a stale view (for the view machinery itself)."""
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    if t.requires_grad:
        acc = t._accum
        if acc is None:
            acc = AccumulateGrad(t)
            t._accum = acc
        return (acc, 0)
    return None


def _edge(t):
    """Where a gradient for tensor ``t`` flows: ``(node, output_nr)``, or None if t needs none.
    A view whose base was written in place since its grad_fn was made is regenerated first."""
    v = t._view
    if v is not None and v.ver != t._c._version:
        v.refresh(t)  # a ViewInfo (views.py, which builds on this module) regenerates t's grad_fn
    return _edge_no_refresh(t)


_SAVED_KEYS = tuple(f"saved_tensors[{i}]" for i in range(8))  # (formatting one cost ~0.1 us)


def _saved_of(ctx):
    """(key, C++ tensor, version) for everything forward saved on ``ctx``. When an in-place op is
    computing its result (``_tls.inplace_target`` set), a saved tensor sharing the target's memory
    is cloned first: the write that follows must not change what backward reads."""
    target = _tls.inplace_target
    saved = []
    d = ctx.__dict__
    for k, v in d.items():
        if type(v) is _CTensor:
            if target is not None and v.storage_ptr() == target:
                v = v.clone()
                d[k] = v
            saved.append((k, v, v._version))
    st = ctx.saved_tensors_
    if st and target is None:
        # The usual case (no in-place op computing): nothing to clone, no list to rebuild.
        i = 0
        for t in st:
            if t is not None and isinstance(t, Tensor):
                c = t._c
                saved.append((_SAVED_KEYS[i] if i < 8 else f"saved_tensors[{i}]", c, c._version))
            i += 1
    elif st:
        st = list(st)
        for i, t in enumerate(st):
            if t is not None and isinstance(t, Tensor):
                c = t._c
                if target is not None and c.storage_ptr() == target and t.grad_fn is not None:
                    # (a leaf that requires grad is never written in place, so it keeps its identity)
                    alias = Tensor._wrap(c.clone())
                    alias.grad_fn, alias._output_nr, alias.requires_grad = t.grad_fn, t._output_nr, True
                    st[i] = alias
                    c = alias._c
                saved.append((f"saved_tensors[{i}]", c, c._version))
        ctx.saved_tensors_ = tuple(st)
    return tuple(saved) if saved else _NO_SAVED


def _returns_input(outs, args) -> bool:
    """Whether any output is (by identity) one of the arguments. Plain loops: an ``any()`` over a
    generator per output cost ~0.4 us of every recorded op."""
    for o in outs:
        if o is not None:
            for a in args:
                if o is a:
                    return True
    return False


class Function:
    """Base class for differentiable ops: subclass with static ``forward(ctx, ...)`` and
    ``backward(ctx, *grad_outputs)``, then call ``YourOp.apply(...)``.

    Double backward: with ``create_graph=True`` the engine calls ``backward_graph(ctx, *grads)``
    when the class defines it (lamina's built-in ops: written with differentiable lamina ops);
    otherwise a user-defined Function's ``backward`` runs with grad mode on (differentiable when it
    is written with lamina ops), and a built-in op without it raises when its gradient is
    differentiated again.

    PyTorch: ``torch.autograd.Function`` (same ``ctx.save_for_backward`` / ``ctx.saved_tensors`` /
    ``ctx.needs_input_grad`` / ``apply``); Keras: ``@tf.custom_gradient``.

    Example::

        class Cube(lamina.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x * x

            @staticmethod
            def backward(ctx, dout):
                (x,) = ctx.saved_tensors
                return dout * 3 * x * x

        y = Cube.apply(lamina.randn(4, requires_grad=True))
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        if _TRACERS:  # graph capture (lamina.jit.trace; autograd/tracing.py): one global read otherwise
            tr = _TRACERS[-1]
            if not tr.busy and tr.thread == _get_ident():
                return tr.record(cls, args)
        record = False
        for a in args:
            if isinstance(a, Tensor) and a.requires_grad:
                record = _tls.enabled  # (read only when it matters: a thread-local costs more)
                break
        ctx = Context()
        if not record:
            # Nothing to record: inputs that need no grad cannot make ops inside forward record.
            return cls.forward(ctx, *args)
        # One pass over the inputs (this is the hottest path in the library); only Tensor
        # arguments cost anything, the rest keep the prefilled False / None.
        n = len(args)
        needs, nxt, in_meta = [False] * n, [None] * n, [None] * n
        i = 0
        for a in args:
            if isinstance(a, Tensor):
                needs[i] = a.requires_grad
                nxt[i] = _edge(a)
                in_meta[i] = a._c._meta  # (shape, dtype, device)
            i += 1
        ctx.needs_input_grad = tuple(needs)
        _tls.enabled = False
        try:
            out = cls.forward(ctx, *args)
        finally:
            _tls.enabled = True
        multi = type(out) is tuple
        outs = out if multi else (out,)
        if _returns_input(outs, args):
            # An op that returned its input unchanged still gets a distinct output tensor, so
            # the input's own place in the graph is not overwritten.
            outs = tuple(Tensor._wrap(o._c) if _returns_input((o,), args) else o for o in outs)
            out = outs if multi else outs[0]
        non_diff = ctx._non_diff
        if multi:
            out_meta = tuple([o._c._meta if isinstance(o, Tensor) else None for o in outs])
        else:
            out_meta = (out._c._meta if isinstance(out, Tensor) else None,)
        name = _NODE_NAMES.get(cls)
        if name is None:
            name = _NODE_NAMES[cls] = cls.__name__ + "Backward"
        node = Node(cls, ctx, tuple(nxt), tuple(in_meta), out_meta, name, _saved_of(ctx))
        i = 0
        for o in outs:
            if isinstance(o, Tensor) and o._c.is_floating_point and (not non_diff or id(o) not in non_diff):
                o.grad_fn = node
                o._output_nr = i
                o.requires_grad = True
            i += 1
        return out

