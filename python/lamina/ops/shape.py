"""Shape and view ops (reshape, view, transpose, permute, expand, squeeze, unsqueeze, flatten,
basic indexing, contiguous, clone, to). Views share memory with their input; their backward maps
the gradient back through the inverse view.
"""
from __future__ import annotations

import numbers

from .. import _C
from .. import _dtype as D
from ..autograd.function import Function
from ..autograd.views import ExpandStep, view_of
from ..tensor import Tensor
from .reduce import sum_to

W = Tensor._wrap


def _sizes(shape) -> list:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return [int(s) for s in shape]


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape, must_view):
        ctx.in_shape = x._c.shape
        return W(x._c.view(shape) if must_view else x._c.reshape(shape))

    @staticmethod
    def backward(ctx, dout):
        return W(dout._c.reshape(list(ctx.in_shape))), None, None

    @staticmethod
    def backward_graph(ctx, dout):
        return dout.reshape(list(ctx.in_shape)), None, None


class _ViewStep:
    """``c.view(shape)``: a view step that reshapes (autograd/views.py replays steps on bases)."""

    __slots__ = ("shape",)

    def __init__(self, shape) -> None:
        self.shape = shape

    def __call__(self, c):
        return c.view(self.shape)


def _reshaped(x: Tensor, shape, must_view: bool) -> Tensor:
    out = Reshape.apply(x, shape, must_view)
    if must_view or out._c.data_ptr() == x._c.data_ptr():
        view_of(out, x, _ViewStep(list(out._c.shape)))
    return out


def reshape(x: Tensor, *shape) -> Tensor:
    """The same elements in a new shape; a view when the strides allow, a copy otherwise.

    PyTorch: ``torch.reshape`` / ``Tensor.reshape`` / ``Tensor.view`` (view raises when a copy would
    be needed); one size may be -1. Keras: ``keras.ops.reshape``.

    Example::

        lamina.arange(12).reshape(3, -1).shape   # (3, 4)
    """
    return _reshaped(x, _sizes(shape), False)


def view(x: Tensor, *shape) -> Tensor:
    """A view with a new shape; raises when the memory layout cannot be viewed that way."""
    if len(shape) == 1 and isinstance(shape[0], D.dtype):
        raise NotImplementedError("view(dtype) is not supported; use .to(dtype)")
    return _reshaped(x, _sizes(shape), True)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merges dimensions start_dim..end_dim into one.

    PyTorch: ``torch.flatten``.
    """
    if x.ndim == 0:
        return reshape(x, 1)
    nd = x.ndim
    s, e = start_dim % nd if -nd <= start_dim < nd else None, end_dim % nd if -nd <= end_dim < nd else None
    if s is None or e is None:
        raise IndexError(f"flatten: dimension out of range for a {nd}-d tensor (start_dim={start_dim}, end_dim={end_dim})")
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    sh = list(x.shape)
    m = 1
    for v in sh[s:e + 1]:
        m *= v
    return _reshaped(x, sh[:s] + [m] + sh[e + 1:], False)


class Transpose(Function):
    @staticmethod
    def forward(ctx, x, d0, d1):
        ctx.d = (d0, d1)
        return W(x._c.transpose(d0, d1))

    @staticmethod
    def backward(ctx, dout):
        return W(dout._c.transpose(*ctx.d)), None, None

    @staticmethod
    def backward_graph(ctx, dout):
        return dout.transpose(*ctx.d), None, None


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swaps two dimensions (a view).

    PyTorch: ``torch.transpose(input, dim0, dim1)``; ``Tensor.t()`` / ``.T`` for 2-D.

    Example::

        lamina.randn(2, 3, 4).transpose(1, 2).shape   # (2, 4, 3)
    """
    return view_of(Transpose.apply(x, dim0, dim1), x, lambda c: c.transpose(dim0, dim1))


def t(x: Tensor) -> Tensor:
    """Transposes a matrix (a 0-d or 1-d tensor is returned as is)."""
    if x.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return x if x.ndim < 2 else transpose(x, 0, 1)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        nd = x.ndim
        ctx.inv = [0] * nd
        for i, d in enumerate(dims):
            ctx.inv[d % nd if nd else 0] = i
        return W(x._c.permute(dims))

    @staticmethod
    def backward(ctx, dout):
        return W(dout._c.permute(ctx.inv)), None

    @staticmethod
    def backward_graph(ctx, dout):
        return dout.permute(ctx.inv), None


def permute(x: Tensor, *dims) -> Tensor:
    """Reorders dimensions (a view).

    PyTorch: ``torch.permute``.
    """
    d = _sizes(dims)
    return view_of(Permute.apply(x, d), x, lambda c: c.permute(d))


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x._c.shape
        return W(x._c.expand(shape))

    @staticmethod
    def backward(ctx, dout):
        return sum_to(dout, ctx.in_shape), None

    backward_graph = backward  # sum_to is a differentiable Function


def expand(x: Tensor, *shape) -> Tensor:
    """Broadcasts size-1 dimensions to larger sizes without copying (-1 keeps a size)."""
    out = Expand.apply(x, _sizes(shape))
    return view_of(out, x, ExpandStep(x._c.shape, out._c.shape))


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, list(other.shape))


class Squeeze(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.in_shape = x._c.shape
        return W(x._c.squeeze_all() if dim is None else x._c.squeeze(dim))

    @staticmethod
    def backward(ctx, dout):
        return W(dout._c.reshape(list(ctx.in_shape))), None

    @staticmethod
    def backward_graph(ctx, dout):
        return dout.reshape(list(ctx.in_shape)), None


def squeeze(x: Tensor, dim: int | None = None) -> Tensor:
    """Removes size-1 dimensions (all of them, or just ``dim`` if it has size 1).

    PyTorch: ``torch.squeeze``.
    """
    return view_of(Squeeze.apply(x, dim), x, lambda c: c.squeeze_all() if dim is None else c.squeeze(dim))


class Unsqueeze(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return W(x._c.unsqueeze(dim))

    @staticmethod
    def backward(ctx, dout):
        return W(dout._c.squeeze(ctx.dim)), None

    @staticmethod
    def backward_graph(ctx, dout):
        return dout.squeeze(ctx.dim), None


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Inserts a size-1 dimension at ``dim``.

    PyTorch: ``torch.unsqueeze``.
    """
    return view_of(Unsqueeze.apply(x, dim), x, lambda c: c.unsqueeze(dim))


class Contiguous(Function):
    @staticmethod
    def forward(ctx, x):
        return W(x._c.contiguous())

    @staticmethod
    def backward(ctx, dout):
        return dout

    backward_graph = backward


def contiguous(x: Tensor) -> Tensor:
    """Row-major memory: the tensor itself when already contiguous, a copy otherwise."""
    if x._c.is_contiguous():
        return x
    return Contiguous.apply(x)


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return W(x._c.clone())

    @staticmethod
    def backward(ctx, dout):
        return dout

    backward_graph = backward


def clone(x: Tensor) -> Tensor:
    """A copy with its own memory (differentiable).

    PyTorch: ``torch.clone``.
    """
    return Clone.apply(x)


class To(Function):
    @staticmethod
    def forward(ctx, x, dtype, device):
        ctx.src = (x.dtype, x.device)
        c = x._c
        if dtype is not None:
            c = c.to_dtype(dtype._c)
        if device is not None:
            c = c.to_device(device)
        return W(c)

    @staticmethod
    def backward(ctx, dout):
        dt, dev = ctx.src
        c = dout._c.to_device(dev)
        if dt.is_floating_point:
            c = c.to_dtype(dt._c)
        return W(c), None, None

    @staticmethod
    def backward_graph(ctx, dout):
        dt, dev = ctx.src
        dt = dt if dt.is_floating_point and dt is not dout.dtype else None
        dev = dev if dev != dout.device else None
        return (To.apply(dout, dt, dev) if dt is not None or dev is not None else dout), None, None


def to(x: Tensor, dtype=None, device=None, copy: bool = False) -> Tensor:
    """Converts dtype and/or device; returns ``x`` itself when nothing changes (unless copy)."""
    if device is not None:
        device = str(device)
        if device == "cuda:0" and x.device == "cuda":
            device = "cuda"
    same_dt = dtype is None or dtype is x.dtype
    same_dev = device is None or device == x.device or (device == "cuda" and x.device == "cuda:0")
    if same_dt and same_dev:
        return clone(x) if copy else x
    return To.apply(x, None if same_dt else dtype, None if same_dev else device)


# ---- basic indexing: ints, slices, None, Ellipsis -------------------------------------------

def _basic_view(c, key):
    """Applies a basic index (ints, slices, None, ...) to a C++ tensor, returning a view."""
    if not isinstance(key, tuple):
        key = (key,)
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_real > c.ndim:
        raise IndexError(f"too many indices for tensor of dimension {c.ndim} (got {n_real}, shape {list(c.shape)})")
    expanded = []
    for k in key:
        if k is Ellipsis:
            expanded.extend([slice(None)] * (c.ndim - n_real))
        else:
            expanded.append(k)
    dim = 0
    src_dim, src_shape = 0, list(c.shape)  # for messages: the dimension in the indexed tensor
    for k in expanded:
        if k is not None:
            src_dim += 1
        if k is None:
            c = c.unsqueeze(dim)
            dim += 1
        elif isinstance(k, slice):
            step = 1 if k.step is None else int(k.step)
            if step <= 0:
                raise ValueError("step must be greater than zero")
            n = c.shape[dim]
            start = 0 if k.start is None else int(k.start)
            stop = n if k.stop is None else int(k.stop)
            c = c.slice(dim, start, stop, step)
            dim += 1
        elif isinstance(k, (numbers.Integral,)) or (isinstance(k, Tensor) and k.ndim == 0 and k.dtype is D.int64):
            i, n = int(k), c.shape[dim]
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {src_dim - 1} with size {n} "
                                 f"(tensor of shape {src_shape})")
            c = c.select(dim, i)
        else:
            raise TypeError(f"unsupported index {k!r}")
    return c


def _is_basic(key) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    for k in keys:
        if k is None or k is Ellipsis or isinstance(k, (slice, numbers.Integral)):
            continue
        if isinstance(k, Tensor) and k.ndim == 0 and k.dtype is D.int64:
            continue
        return False
    return True


class BasicIndex(Function):
    @staticmethod
    def forward(ctx, x, key):
        ctx.in_shape, ctx.key, ctx.meta = x._c.shape, key, (x._c.dtype, x._c.device)
        return W(_basic_view(x._c, key))

    @staticmethod
    def backward(ctx, dout):
        dt, dev = ctx.meta
        g = _C.empty(list(ctx.in_shape), dt, dev)
        _C.fill_(g, 0.0)
        _basic_view(g, ctx.key).copy_(dout._c)
        return W(g), None

    @staticmethod
    def backward_graph(ctx, dout):
        return BasicIndexBackward.apply(dout, ctx.key, ctx.in_shape), None


class BasicIndexBackward(Function):
    """dout (the indexed shape) -> zeros of the input's shape with dout in the indexed region: the
    adjoint of BasicIndex, so gradients of any order alternate between the two."""

    @staticmethod
    def forward(ctx, dout, key, in_shape):
        ctx.key = key
        g = _C.empty(list(in_shape), dout._c.dtype, dout._c.device)
        _C.fill_(g, 0.0)
        _basic_view(g, key).copy_(dout._c)
        return W(g)

    @staticmethod
    def backward(ctx, ddx):
        return BasicIndex.apply(ddx, ctx.key), None, None

    backward_graph = backward


def getitem(x: Tensor, key) -> Tensor:
    """``x[key]`` for a basic key (ints, slices, None, ...): a view. ``Tensor.__getitem__`` is
    indexing.getitem, which sends tensor keys to the gather there and basic keys here."""
    return view_of(BasicIndex.apply(x, key), x, lambda c: _basic_view(c, key))


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` elements of dimension ``dim`` from ``start`` (a view)."""
    nd = x.ndim
    if not -nd <= dim < nd:
        raise IndexError(f"narrow: dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    d = dim % nd
    n = x.shape[d]
    start = int(start) + (n if start < 0 else 0)
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) of a "
                         f"tensor of shape {list(x.shape)}")
    return getitem(x, (slice(None),) * d + (slice(start, start + int(length)),))


def select(x: Tensor, dim: int, index: int) -> Tensor:
    """Index ``index`` of dimension ``dim``, which is removed (a view)."""
    nd = x.ndim
    if not -nd <= dim < nd:
        raise IndexError(f"select: dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    return getitem(x, (slice(None),) * (dim % nd) + (int(index),))


def unbind(x: Tensor, dim: int = 0) -> tuple:
    """All slices along ``dim`` (views; like split, they may not be written in place in a graph)."""
    nd = x.ndim
    if not -nd <= dim < nd:
        raise IndexError(f"unbind: dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    outs = tuple(select(x, dim, i) for i in range(x.shape[dim % nd]))
    for o in outs:
        o._view.multi = "UnbindBackward0"
    return outs


# ---- exports (lamina/_api.py fills lamina.*, nn.functional and Tensor methods from these) ----------

def _to_method(self, *args, dtype=None, device=None, copy: bool = False) -> Tensor:
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (D.dtype,)) or a in (float, int, bool):
            dtype = a
        elif isinstance(a, str):
            device = a
        else:
            raise TypeError(f"to(): unexpected argument {a!r}")
    return to(self, None if dtype is None else D.as_dtype(dtype), device, copy)


_to_method.__name__ = _to_method.__qualname__ = "to"

__all__: list = ["clone", "flatten", "permute", "reshape", "squeeze", "transpose", "unsqueeze"]
FUNCTIONAL: list = []
TENSOR_METHODS: dict = {
    "reshape": reshape, "view": view, "flatten": flatten, "transpose": transpose, "t": t,
    "T": property(lambda self: permute(self, list(range(self.ndim - 1, -1, -1)))),
    "mT": property(lambda self: transpose(self, -2, -1)),
    "permute": permute, "expand": expand, "expand_as": expand_as, "squeeze": squeeze,
    "unsqueeze": unsqueeze, "contiguous": contiguous, "clone": clone,
    "narrow": narrow, "select": select, "unbind": unbind,
    "to": _to_method,
    "cpu": lambda self: _to_method(self, "cpu"),
    "cuda": lambda self, device=None: _to_method(self, "cuda" if device is None else f"cuda:{device}"),
    "float": lambda self: _to_method(self, D.float32),
    "double": lambda self: _to_method(self, D.float64),
    "long": lambda self: _to_method(self, D.int64),
    "bool": lambda self: _to_method(self, D.bool_),
    "type_as": lambda self, other: _to_method(self, other.dtype),
}
