"""Index ops: index_select, gather, scatter_add, and ``F.pad`` (constant padding as one op;
reflect / replicate / circular as index_select). C++ kernels: cpp/ops/indexing.cpp (index gather /
index-put, gather / scatter_add). Joining (cat, stack, split, chunk) is in join.py; ``x[key]`` and
``x[key] = value`` with tensor indices in advanced_index.py.
"""
from __future__ import annotations


import numpy as np

from .. import _C
from .._state import _tracers
from ..autograd import grad_mode
from ..autograd.function import Function
from ..tensor import Tensor

from ._dims import W, _wrap_dim, _zeros_c

__all__: list = ["index_select", "gather", "scatter_add"]
FUNCTIONAL: list = ["pad"]


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
        if ctx.needs_input_grad:  # empty when nothing is recorded: backward never runs
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
    if type(index) is Tensor and type(dim) is int and not (input.requires_grad and grad_mode._tls.enabled) \
            and not _tracers:  # nothing to record: the common case in as few binding calls as we can
        ic, c = index._c, input._c
        nd = c.ndim
        if nd and -nd <= dim < nd and ic.ndim == 1:
            # The index's dtype is left to C++ (reading it here cost ~0.28 us of a ~14 us call of
            # 512 rows); its TypeError is replaced by the message the checks below give.
            try:
                return W(_C.index_forward(c, dim % nd, [ic]))
            except IndexError as e:
                raise _reraise(e, "index_select") from None
            except TypeError:
                _check_index_tensor(index, "index_select", max_dim=1)
                raise
    _check_index_tensor(index, "index_select", max_dim=1)
    nd = input._c.ndim
    d = _wrap_dim(dim, nd, "index_select")
    ic = index._c
    if nd and ic.ndim == 1:  # the common case, without the reshapes' binding calls
        if not (input.requires_grad and grad_mode._tls.enabled) and not _tracers:  # nothing to record
            try:
                return W(_C.index_forward(input._c, d, [ic]))
            except IndexError as e:
                raise _reraise(e, "index_select") from None
        return IndexSelect.apply(input, d, ic)
    x = input if nd else input.reshape(1)
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


TENSOR_METHODS: dict = {
    "index_select": index_select,
    "gather": gather,
    "scatter_add": scatter_add,
}
