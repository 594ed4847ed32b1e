"""Joining and splitting: cat (concat, concatenate), stack, split, chunk. The C++ kernel is the
cat in cpp/ops/indexing.cpp; split and chunk return views (their gradient writes each piece back
into place).
"""
from __future__ import annotations

import numbers

from .. import _C
from .. import _dtype as D
from .._state import _tracers
from ..autograd import grad_mode
from ..autograd.function import Function
from ..autograd.views import view_of
from ..tensor import Tensor
from ._dims import W, _wrap_dim, _zeros_c

__all__: list = ["cat", "concat", "concatenate", "stack", "split", "chunk"]


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
    if type(tensors) is list or type(tensors) is tuple:
        # the common case in one pass: Tensors, the first not a 1-D empty one, a plain int dim
        # (the general checks below cost ~1 us a call next to a ~7 us copy of 4x(64,256))
        # (the C tensors are collected in the same pass: a second loop was ~0.2 us)
        rg = False
        cs = []
        for t in tensors:
            if not isinstance(t, Tensor):
                break
            rg = rg or t.requires_grad
            cs.append(t._c)
        else:
            if cs:
                nd = cs[0].ndim
                if nd > 1 and type(dim) is int and -nd <= dim < nd:
                    if not (rg and grad_mode._tls.enabled) and not _tracers:  # nothing to record
                        return W(_C.cat_forward(cs, dim % nd))
                    return Cat.apply(dim % nd, *tensors)
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


FUNCTIONAL: list = []
TENSOR_METHODS: dict = {
    "split": split,
    "chunk": chunk,
}
