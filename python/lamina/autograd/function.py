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

from . import grad_mode

# lamina.Tensor, set by lamina/tensor.py once the class exists (a function-level import here would
# run on every op call: it is the hottest path in the library).
Tensor = None


class Context:
    """What ``forward`` leaves for ``backward``: saved tensors and any attributes set on it."""

    def __init__(self) -> None:
        self.saved_tensors_ = ()
        self.needs_input_grad = ()
        self._released = False

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


class Node:
    """One recorded op in the graph: its backward, its context and the edges to its inputs.

    ``next`` holds, per forward input, the edge its gradient flows into: ``(node, output_nr)``
    with node a Node or AccumulateGrad, or None. ``in_meta`` is (shape, dtype) per tensor input, used to check and
    reduce gradients the op returns.
    """

    __slots__ = ("fn", "ctx", "next", "in_meta", "out_meta", "name", "hooks", "__weakref__")

    def __init__(self, fn, ctx, nxt, in_meta, out_meta, name):
        self.hooks = None  # [(output_nr, fn)]: tensor hooks / retain_grad, run on arriving grads
        self.fn = fn
        self.ctx = ctx
        self.next = nxt
        self.in_meta = in_meta
        self.out_meta = out_meta
        self.name = name

    def apply(self, grads):
        if self.ctx._released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through {self.name}): its saved "
                "values were freed by the first .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time."
            )
        return self.fn(self.ctx, *grads)

    def release(self) -> None:
        # Drop everything forward left on the context (saved tensors or raw C++ tensors kept as
        # attributes), so the memory goes now rather than when the graph is collected.
        ctx = self.ctx
        ctx.__dict__.clear()
        ctx._released = True
        ctx.saved_tensors_ = ()

    def __repr__(self) -> str:
        return f"<{self.name}>"

    @property
    def next_functions(self):
        return tuple(e if e is not None else (None, 0) for e in self.next)


class AccumulateGrad:
    """The sink for a leaf tensor: adds incoming gradients into ``leaf.grad``."""

    __slots__ = ("leaf", "name", "hooks", "__weakref__")

    def __init__(self, leaf) -> None:
        self.hooks = None
        self.leaf = leaf
        self.name = "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"

    next = ()
    next_functions = ()


def _edge(t):
    """Where a gradient for tensor ``t`` flows: ``(node, output_nr)``, or None if t needs none."""
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    if t.requires_grad:
        acc = t._accum
        if acc is None:
            acc = AccumulateGrad(t)
            t._accum = acc
        return (acc, 0)
    return None


class Function:
    """Base class for differentiable ops: subclass with static ``forward(ctx, ...)`` and
    ``backward(ctx, *grad_outputs)``, then call ``YourOp.apply(...)``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        record = False
        if grad_mode._enabled:
            for a in args:
                if isinstance(a, Tensor) and a.requires_grad:
                    record = True
                    break
        ctx = Context()
        if not record:
            # Nothing to record: inputs that need no grad cannot make ops inside forward record.
            return cls.forward(ctx, *args)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        grad_mode._enabled = False
        try:
            out = cls.forward(ctx, *args)
        finally:
            grad_mode._enabled = True
        nxt = tuple(_edge(a) if isinstance(a, Tensor) else None for a in args)
        in_meta = tuple((a._c.shape, a._c.dtype) if isinstance(a, Tensor) else None for a in args)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        if any(o is a for o in outs for a in args):
            # An op that returned its input unchanged still gets a distinct output tensor, so the
            # input's own place in the graph is not overwritten.
            outs = tuple(Tensor._wrap(o._c) if any(o is a for a in args) else o for o in outs)
            out = outs if multi else outs[0]
        non_diff = getattr(ctx, "_non_diff", ())
        out_meta = tuple((o._c.shape, o._c.dtype, o._c.device) if isinstance(o, Tensor) else None for o in outs)
        node = Node(cls.backward, ctx, nxt, in_meta, out_meta, cls.__name__ + "Backward")
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and id(o) not in non_diff and o.dtype.is_floating_point:
                o.grad_fn = node
                o._output_nr = i
                o.requires_grad = True
        return out

