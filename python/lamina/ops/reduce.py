"""Reductions: sum, mean, prod, max/min (with indices), amax/amin, argmax/argmin, var/std,
logsumexp, any/all, and ``sum_to`` (the autograd engine's broadcast-gradient reduction).
C++: cpp/ops/reduce.cpp. ``dim`` may be None (every dim), an int, or a tuple/list of ints.
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple

from .. import _C
from .. import _dtype as D
from .._state import _tracers
from ..autograd import grad_mode
from ..autograd.function import Function
from ..tensor import Tensor
from . import elementwise

W = Tensor._wrap

# torch.return_types.max / min: a tuple with named fields.
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])


def _check_tensor(x, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): expected a Tensor as input, got {type(x).__name__}")


def _dims(dim, op: str) -> list:
    """None -> [] (all dims); int -> [int]; tuple/list -> list of ints."""
    if type(dim) is int:  # the common case first (per-call overhead matters next to small kernels)
        return [dim]
    if dim is None:
        return []
    if isinstance(dim, (tuple, list)):
        for d in dim:
            if isinstance(d, builtins.bool) or not isinstance(d, int):
                raise TypeError(f"{op}(): dim must be an int or a tuple of ints, got {dim!r}")
        return [int(d) for d in dim]
    if isinstance(dim, builtins.bool) or not isinstance(dim, int):
        raise TypeError(f"{op}(): dim must be an int or a tuple of ints, got {dim!r}")
    return [int(dim)]


def _check_full_reduction(input: Tensor, dims: list, op: str) -> None:
    """A max/min has no value over nothing. As in PyTorch: over every dimension of an empty tensor
    it is a RuntimeError; over a named zero-size dimension an IndexError naming it, even when the
    result itself would be empty (the C++ kernel only sees an empty output and returns it)."""
    if not dims:
        if input.numel() == 0:
            raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0 "
                               f"(input shape {list(input.shape)}). Specify the reduction dim with the "
                               f"'dim' argument.")
        return
    shape = input.shape
    for d in dims:
        if -len(shape) <= d < len(shape) and shape[d] == 0:  # out-of-range dims: the C++ message
            raise IndexError(f"{op}(): Expected reduction dim {d % len(shape)} to have non-zero size "
                             f"(input shape {list(shape)}).")


def _count(shape, dims) -> int:
    """Number of elements reduced over ``dims`` ([] = all) of ``shape``."""
    nd = len(shape)
    if not dims:
        return math.prod(shape)
    n = 1
    for d in dims:
        n *= shape[d % nd] if nd else 1
    return n


# ---- sum_to ------------------------------------------------------------------------------

class SumTo(Function):
    @staticmethod
    def forward(ctx, t, shape):
        ctx.in_shape = t._c.shape
        return W(_C.sum_to(t._c, list(shape)))

    @staticmethod
    def backward(ctx, dout):
        return W(dout._c.reshape(list(_keep_shape_for_sum_to(ctx.in_shape, dout.shape))).expand(
            list(ctx.in_shape)).contiguous()), None

    @staticmethod
    def backward_graph(ctx, dout):
        keep = _keep_shape_for_sum_to(ctx.in_shape, dout.shape)
        return dout.reshape(keep).expand(list(ctx.in_shape)), None


def _keep_shape_for_sum_to(in_shape, shape):
    lead = len(in_shape) - len(shape)
    return [1] * lead + list(shape)


def sum_to(t: Tensor, shape) -> Tensor:
    """Sums ``t`` over its broadcast dimensions back to ``shape``: leading extra dims are summed
    away and dims where ``shape`` has 1 are summed with keepdim. ValueError when ``shape`` is not
    broadcast-compatible with ``t.shape``."""
    shape = tuple(int(s) for s in shape)
    if tuple(t.shape) == shape:
        return t
    return SumTo.apply(t, shape)


# ---- sum / mean --------------------------------------------------------------------------

class Sum(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim, mean):
        c = x._c
        ctx.in_shape, ctx.dims, ctx.mean = c.shape, dims, mean
        return W(_C.mean_forward(c, dims, keepdim) if mean else _C.sum_forward(c, dims, keepdim))

    @staticmethod
    def _scale(ctx) -> float:
        n = _count(ctx.in_shape, ctx.dims) if ctx.mean else 0
        return 1.0 / n if n else 1.0

    @staticmethod
    def backward(ctx, dout):
        return W(_C.sum_backward(dout._c, list(ctx.in_shape), ctx.dims, Sum._scale(ctx))), None, None, None

    @staticmethod
    def backward_graph(ctx, dout):
        g = _expand_back(dout, ctx.in_shape, ctx.dims)
        scale = Sum._scale(ctx)
        return (g * scale if scale != 1.0 else g), None, None, None


def _keep_shape(in_shape, dims) -> list:
    """``in_shape`` with the reduced ``dims`` ([] = all) set to 1: a reduction's keepdim shape."""
    nd = len(in_shape)
    red = {d % nd for d in dims} if dims else set(range(nd))
    return [1 if i in red else s for i, s in enumerate(in_shape)]


def _expand_back(dout, in_shape, dims):
    """A reduction's output gradient broadcast back over the input (differentiable)."""
    return dout.reshape(_keep_shape(in_shape, dims)).expand(list(in_shape))


def _ones_c(shape, dtype, device):
    c = _C.empty(list(shape), dtype, device)
    _C.fill_(c, 1.0)
    return c


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum of all elements, or over ``dim`` (int or tuple). bool/int64 inputs sum to int64.

    PyTorch: ``torch.sum(input, dim=None, keepdim=False)`` (also ``Tensor.sum``); Keras:
    ``keras.ops.sum``. Float inputs keep their dtype.

    Example::

        x = lamina.ones(2, 3)
        x.sum(), x.sum(1), x.sum(1, keepdim=True).shape   # 6.0, [3.0, 3.0], (2, 1)
    """
    _check_tensor(input, "sum")
    if dtype is not None:
        input = input.to(D.as_dtype(dtype))
    if not (input.requires_grad and grad_mode._tls.enabled) and not _tracers:  # nothing to record
        return W(_C.sum_forward(input._c, _dims(dim, "sum"), builtins.bool(keepdim)))
    return Sum.apply(input, _dims(dim, "sum"), builtins.bool(keepdim), False)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean of all elements, or over ``dim``; floating inputs only (empty -> nan).

    PyTorch: ``torch.mean(input, dim=None, keepdim=False)``; Keras: ``keras.ops.mean``.

    Example::

        lamina.arange(6.0).reshape(2, 3).mean(0)          # tensor([1.5, 2.5, 3.5])
    """
    _check_tensor(input, "mean")
    if dtype is not None:
        input = input.to(D.as_dtype(dtype))
    if not (input.requires_grad and grad_mode._tls.enabled) and not _tracers:  # nothing to record
        return W(_C.mean_forward(input._c, _dims(dim, "mean"), builtins.bool(keepdim)))
    return Sum.apply(input, _dims(dim, "mean"), builtins.bool(keepdim), True)


# ---- prod --------------------------------------------------------------------------------

class Prod(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.save_for_backward(x)
        ctx.dims = dims
        return W(_C.prod_forward(x._c, dims, keepdim))

    @staticmethod
    def backward(ctx, dout):
        (x,) = ctx.saved_tensors
        return W(_C.prod_backward(dout._c, x._c, ctx.dims)), None, None

    @staticmethod
    def backward_graph(ctx, dout):
        (x,) = ctx.saved_tensors
        shape, dims = list(x.shape), ctx.dims
        g = _expand_back(dout, shape, dims)
        if not builtins.bool((W(x._c) == 0.0).any().item()):
            return g * Prod.apply(x, dims, True) / x, None, None
        # Zeros: the product of the other elements of each line, as a product over an R x R
        # matrix whose diagonal is 1 (exact, like the C++; R^2 memory, only on this path).
        nd = len(shape)
        red = sorted({d % nd for d in dims}) if dims else list(range(nd))
        kept = [d for d in range(nd) if d not in red]
        perm = kept + red
        r = _count(shape, red)
        xl = x.permute(perm).reshape(-1, r)
        i = W(_C.arange(0, r, 1, D.int64._c, x._c.device))
        eye = i.unsqueeze(1) == i.unsqueeze(0)
        others = Prod.apply(xl.unsqueeze(1).expand(xl.shape[0], r, r).where(~eye, 1.0), [2], False)
        inv = [perm.index(d) for d in range(nd)]
        others = others.reshape([shape[d] for d in perm]).permute(inv)
        return g * others, None, None


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of all elements, or over ``dim`` (gradient exact even with zeros).

    PyTorch: ``torch.prod``.
    """
    _check_tensor(input, "prod")
    if dtype is not None:
        input = input.to(D.as_dtype(dtype))
    return Prod.apply(input, _dims(dim, "prod"), builtins.bool(keepdim))


# ---- max / min / amax / amin / argmax / argmin -------------------------------------------

class MaxDim(Function):
    @staticmethod
    def forward(ctx, x, dim, keepdim, is_max):
        v, i = _C.max_dim_forward(x._c, dim, keepdim, is_max)
        ctx.in_shape, ctx.dim, ctx.keepdim = x._c.shape, dim, keepdim
        ctx.save_for_backward(W(i))
        idx = W(i)
        ctx.mark_non_differentiable(idx)
        return W(v), idx

    @staticmethod
    def backward(ctx, dvals, didx):
        (idx,) = ctx.saved_tensors
        d = dvals._c
        i = idx._c
        if not ctx.keepdim and len(ctx.in_shape) > 0:
            d = d.unsqueeze(ctx.dim)
            i = i.unsqueeze(ctx.dim)
        return W(_C.max_dim_backward(d, i, list(ctx.in_shape), ctx.dim)), None, None, None

    @staticmethod
    def backward_graph(ctx, dvals, didx):
        # The gradient goes to the chosen index (the first on ties): a constant one-hot mask.
        (idx,) = ctx.saved_tensors
        i = idx._c
        shape = list(ctx.in_shape)
        d = dvals
        if not ctx.keepdim and len(shape) > 0:
            d = d.unsqueeze(ctx.dim)
            i = i.unsqueeze(ctx.dim)
        ones = _ones_c(i.shape, dvals._c.dtype, dvals._c.device)
        mask = _C.max_dim_backward(ones, i, shape, ctx.dim)
        return d.expand(shape) * W(mask), None, None, None


class Amax(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim, is_max):
        out = W(_C.amax_forward(x._c, dims, keepdim, is_max))
        ctx.save_for_backward(x, out)
        ctx.dims = dims
        return out

    @staticmethod
    def backward(ctx, dout):
        x, out = ctx.saved_tensors
        return W(_C.amax_backward(dout._c, x._c, out._c, ctx.dims)), None, None, None

    @staticmethod
    def backward_graph(ctx, dout):
        # Shared evenly among ties: constant weights 1/count, from the C++ backward of ones.
        x, out = ctx.saved_tensors
        ones = _ones_c(out._c.shape, out._c.dtype, out._c.device)
        wts = _C.amax_backward(ones, x._c, out._c, ctx.dims)
        return _expand_back(dout, x._c.shape, ctx.dims) * W(wts), None, None, None


def _max_min(input, dim, keepdim, is_max, op):
    _check_tensor(input, op)
    if isinstance(dim, Tensor):
        fn = getattr(elementwise, "maximum" if is_max else "minimum", None)
        if fn is None:
            raise NotImplementedError(f"{op}(input, other): elementwise form is not available")
        return fn(input, dim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{op}(): keepdim requires dim")
        _check_full_reduction(input, [], op)
        return Amax.apply(input, [], False, is_max)
    if isinstance(dim, builtins.bool) or not isinstance(dim, int):
        raise TypeError(f"{op}(): dim must be an int, got {dim!r}")
    _check_full_reduction(input, [dim], op)
    v, i = MaxDim.apply(input, int(dim), builtins.bool(keepdim), is_max)
    return (max_result if is_max else min_result)(v, i)


def max(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """``max(x)``: the largest value; ``max(x, dim)``: (values, indices) along dim (first index on
    ties); ``max(x, other)``: elementwise maximum.

    PyTorch: ``torch.max`` (all three forms); with ``dim`` the result unpacks as ``values,
    indices``.

    Example::

        values, indices = lamina.max(lamina.randn(4, 10), dim=1)   # (4,) float32, (4,) int64
    """
    return _max_min(input, dim, keepdim, True, "max")


def min(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """``min(x)``: the smallest value; ``min(x, dim)``: (values, indices) along dim.

    PyTorch: ``torch.min``.
    """
    return _max_min(input, dim, keepdim, False, "min")


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (all dims when empty); the gradient is shared among ties.

    PyTorch: ``torch.amax``.
    """
    _check_tensor(input, "amax")
    dims = _dims(dim, "amax")
    _check_full_reduction(input, dims, "amax")
    return Amax.apply(input, dims, builtins.bool(keepdim), True)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (all dims when empty); the gradient is shared among ties.

    PyTorch: ``torch.amin``.
    """
    _check_tensor(input, "amin")
    dims = _dims(dim, "amin")
    _check_full_reduction(input, dims, "amin")
    return Amax.apply(input, dims, builtins.bool(keepdim), False)


def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index (int64) of the largest value: into the flattened tensor, or along ``dim``.

    PyTorch: ``torch.argmax(input, dim=None, keepdim=False)``; Keras: ``keras.ops.argmax``.

    Example::

        model(x).argmax(1)              # predicted classes, int64 (N,)
    """
    _check_tensor(input, "argmax")
    if dim is None:
        return W(_C.argmax_forward(input._c, [], False, True))
    return W(_C.argmax_forward(input._c, _dims(dim, "argmax"), builtins.bool(keepdim), True))


def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index (int64) of the smallest value: into the flattened tensor, or along ``dim``.

    PyTorch: ``torch.argmin``.
    """
    _check_tensor(input, "argmin")
    if dim is None:
        return W(_C.argmax_forward(input._c, [], False, False))
    return W(_C.argmax_forward(input._c, _dims(dim, "argmin"), builtins.bool(keepdim), False))


# ---- var / std ---------------------------------------------------------------------------

class Var(Function):
    @staticmethod
    def forward(ctx, x, dims, correction, keepdim, take_sqrt):
        out, m = _C.var_forward(x._c, dims, correction, keepdim, take_sqrt)
        out = W(out)
        # var's gradient does not read its output (std's does): the C++ only needs one value per
        # output there, so the mean (same count) stands in.
        ctx.save_for_backward(x, W(m), out if take_sqrt else None)
        ctx.args = (dims, correction, take_sqrt)
        return out

    @staticmethod
    def backward(ctx, dout):
        x, m, out = ctx.saved_tensors
        dims, corr, take_sqrt = ctx.args
        o = out._c if take_sqrt else m._c
        dx = _C.var_backward(dout._c, x._c, m._c, o, dims, corr, take_sqrt)
        return W(dx), None, None, None, None

    @staticmethod
    def backward_graph(ctx, dout):
        x, _, out = ctx.saved_tensors
        dims, corr, take_sqrt = ctx.args
        shape = x._c.shape
        div = builtins.max(0.0, _count(shape, dims) - corr)
        keep = _keep_shape(shape, dims)
        mu = Sum.apply(x, dims, True, True)
        g = dout.reshape(keep) * (2.0 / div if div else math.inf) * (x - mu)
        if take_sqrt:
            g = g / (out.reshape(keep) * 2.0)
        return g, None, None, None, None


def _var(input, dim, unbiased, keepdim, correction, take_sqrt):
    op = "std" if take_sqrt else "var"
    _check_tensor(input, op)
    if isinstance(dim, builtins.bool):  # var(x, unbiased)
        unbiased, dim = dim, None
    if correction is None:
        correction = 1.0 if unbiased is None or unbiased else 0.0
    elif unbiased is not None:
        raise TypeError(f"{op}(): pass either unbiased or correction, not both")
    return Var.apply(input, _dims(dim, op), float(correction), builtins.bool(keepdim), take_sqrt)


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance over ``dim`` with divisor ``N - correction`` (default 1: unbiased).

    PyTorch: ``torch.var``.
    """
    return _var(input, dim, unbiased, keepdim, correction, False)


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation over ``dim`` with divisor ``N - correction`` (default 1: unbiased).

    PyTorch: ``torch.std``.
    """
    return _var(input, dim, unbiased, keepdim, correction, True)


# ---- logsumexp ---------------------------------------------------------------------------

class LogSumExp(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        out = W(_C.logsumexp_forward(x._c, dims, keepdim))
        ctx.save_for_backward(x, out)
        ctx.dims = dims
        return out

    @staticmethod
    def backward(ctx, dout):
        x, out = ctx.saved_tensors
        return W(_C.logsumexp_backward(dout._c, x._c, out._c, ctx.dims)), None, None

    @staticmethod
    def backward_graph(ctx, dout):
        x, out = ctx.saved_tensors
        keep = _keep_shape(x._c.shape, ctx.dims)
        return dout.reshape(keep) * (x - out.reshape(keep)).exp(), None, None


def logsumexp(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed stably (max subtracted first).

    PyTorch: ``torch.logsumexp``.
    """
    _check_tensor(input, "logsumexp")
    if not input.dtype.is_floating_point:
        input = input.to(D.get_default_dtype())
    return LogSumExp.apply(input, _dims(dim, "logsumexp"), builtins.bool(keepdim))


# ---- any / all ---------------------------------------------------------------------------

def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where any element (over ``dim``, or all) is nonzero; a bool tensor.

    PyTorch: ``torch.any``.
    """
    _check_tensor(input, "any")
    return W(_C.any_forward(input._c, _dims(dim, "any"), builtins.bool(keepdim), False))


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element (over ``dim``, or all) is nonzero; a bool tensor.

    PyTorch: ``torch.all``.
    """
    _check_tensor(input, "all")
    return W(_C.any_forward(input._c, _dims(dim, "all"), builtins.bool(keepdim), True))


__all__: list = ["sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std",
                 "logsumexp", "any", "all"]
FUNCTIONAL: list = []
TENSOR_METHODS: dict = {
    "sum": sum, "mean": mean, "prod": prod, "max": max, "min": min, "amax": amax, "amin": amin,
    "argmax": argmax, "argmin": argmin, "var": var, "std": std, "logsumexp": logsumexp,
    "any": any, "all": all,
    # PyTorch's name for sum_to; the autograd engine reduces broadcast gradients through it
    "sum_to_size": lambda self, *size: sum_to(self, tuple(size[0]) if len(size) == 1 and isinstance(
        size[0], (tuple, list)) else size),
}
