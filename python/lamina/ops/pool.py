"""Pooling, NCHW: max_pool1d/2d (with int64 argmax indices), avg_pool1d/2d, adaptive_avg_pool2d,
adaptive_max_pool2d. C++: cpp/ops/pool.cpp. 1-D pools run the 2-D kernels with a unit height.
"""
from __future__ import annotations

import numbers
from typing import Optional, Sequence, Union

from .. import _C
from ..autograd.function import Function
from ..tensor import Tensor
from ._tuples import ntuple as _ntuple
from .elementwise import _stand_in

W = Tensor._wrap

_IntOrPair = Union[int, Sequence[int]]


def _check_input(op: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")


def _params(op, n, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad=True,
            divisor_override=None):
    k = _ntuple(kernel_size, n, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _ntuple(stride, n, "stride", op)
    p = _ntuple(padding, n, "padding", op)
    d = _ntuple(dilation, n, "dilation", op)
    if divisor_override is None:
        div = 0
    else:
        if not isinstance(divisor_override, numbers.Integral) or isinstance(divisor_override, bool):
            raise TypeError(f"{op}: divisor_override must be an int or None, got {type(divisor_override).__name__}")
        if divisor_override <= 0:
            raise ValueError(f"{op}: divisor_override must be positive, got {divisor_override}")
        div = int(divisor_override)
    if n == 1:
        k, s, p, d = (1,) + k, (1,) + s, (0,) + p, (1,) + d
    key = (tuple(k), tuple(s), tuple(p), tuple(d), bool(ceil_mode), bool(count_include_pad), div, n)
    params = _PARAMS.get(key)
    if params is None:
        params = _PARAMS[key] = _C.PoolParams(*key)
        _SPECS[id(params)] = key
    return params


# PoolParams by their arguments (kept alive here, so ids stay unique), and the reverse: the C++
# struct exposes only ``dims``, and graph export (lamina.onnx) reads the rest from pool_spec().
_PARAMS: dict = {}
_SPECS: dict = {}


def pool_spec(params) -> dict:
    """The arguments a PoolParams was made from: kernel, stride, padding, dilation (2-D; a 1-D
    pool has a unit first entry), ceil_mode, count_include_pad, divisor (0: none), dims."""
    k, s, p, d, ceil, cip, div, n = _SPECS[id(params)]
    return dict(kernel=k, stride=s, padding=p, dilation=d, ceil_mode=ceil, count_include_pad=cip,
                divisor=div, dims=n)


class _MaxPool(Function):
    @staticmethod
    def forward(ctx, x, params):
        return _MaxPool._save(ctx, x, params.dims, *_C.max_pool2d_forward(x._c, params))

    @staticmethod
    def _save(ctx, x, dims, out, idx):
        ctx.x = _stand_in(x._c)  # backward reads only x's shape
        ctx.dims, ctx.idx = dims, idx
        idx = W(idx)
        ctx.mark_non_differentiable(idx)
        return W(out), idx

    @staticmethod
    def backward(ctx, dout, _didx):
        return W(_C.max_pool2d_backward(dout._c, ctx.idx, ctx.x, ctx.dims)), None

    @staticmethod
    def backward_graph(ctx, dout, _didx):
        return _MaxPoolScatter.apply(dout, ctx.idx, ctx.x, ctx.dims), None


class _MaxPool2x2(Function):
    """2x2 / stride 2 without indices: a values-only kernel; backward finds the argmax again."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return W(_C.max_pool2d_2x2_forward(x._c))

    @staticmethod
    def backward(ctx, dout):
        (x,) = ctx.saved_tensors
        return W(_C.max_pool2d_2x2_backward(dout._c, x._c))

    @staticmethod
    def backward_graph(ctx, dout):
        # The indexed kernel finds the same argmax (first maximum, NaN wins) as the 2x2 one.
        (x,) = ctx.saved_tensors
        _, idx = _C.max_pool2d_forward(x._c, _C.PoolParams((2, 2), (2, 2), (0, 0), (1, 1), False, True, 0, 2))
        return _MaxPoolScatter.apply(dout, idx, _stand_in(x._c), 2)


class _MaxPoolScatter(Function):
    """dout -> dx of max pooling: each output gradient added at its window's argmax (linear in
    dout). Its gradient gathers at the same indices (``_MaxPoolGather``), so every order exists.
    idx: the C++ int64 indices; x: a C++ tensor of the input's shape (values unread)."""

    @staticmethod
    def forward(ctx, dout, idx, x, dims):
        ctx.idx, ctx.dims = idx, dims
        return W(_C.max_pool2d_backward(dout._c, idx, x, dims))

    @staticmethod
    def backward(ctx, g):
        return _MaxPoolGather.apply(g, ctx.idx, ctx.dims), None, None, None

    backward_graph = backward


class _MaxPoolGather(Function):
    """g (input-shaped) -> g at the argmax positions (output-shaped): the adjoint of
    ``_MaxPoolScatter``. Indices are flat positions within each plane of the last ``dims`` axes."""

    @staticmethod
    def forward(ctx, g, idx, dims):
        gc = g._c
        ctx.idx, ctx.dims, ctx.x = idx, dims, _stand_in(gc)
        gs, ishape = list(gc.shape), list(idx.shape)
        plane = oplane = 1
        for v in gs[len(gs) - dims:]:
            plane *= v
        for v in ishape[len(ishape) - dims:]:
            oplane *= v
        if idx.numel() == 0:
            out = _C.empty(ishape, gc.dtype, gc.device)
            _C.fill_(out, 0.0)
            return W(out)
        lead = idx.numel() // oplane
        out = _C.gather_forward(gc.contiguous().reshape([lead, plane]), 1, idx.contiguous().reshape([lead, oplane]))
        return W(out.reshape(ishape))

    @staticmethod
    def backward(ctx, dout):
        return _MaxPoolScatter.apply(dout, ctx.idx, ctx.x, ctx.dims), None, None

    backward_graph = backward


class _AdaptiveMaxPool(_MaxPool):
    """Same scatter-to-argmax backward as max_pool2d."""

    @staticmethod
    def forward(ctx, x, output_size):
        return _MaxPool._save(ctx, x, 2, *_C.adaptive_max_pool2d_forward(x._c, output_size))


class _AvgPool(Function):
    @staticmethod
    def forward(ctx, x, params):
        ctx.x = _stand_in(x._c)  # backward reads only x's shape
        ctx.params = params
        return W(_C.avg_pool2d_forward(x._c, params))

    @staticmethod
    def backward(ctx, dout):
        return W(_C.avg_pool2d_backward(dout._c, ctx.x, ctx.params)), None

    @staticmethod
    def backward_graph(ctx, dout):
        return _AvgPoolBackward.apply(dout, ctx.x, ctx.params), None


class _AvgPoolBackward(Function):
    """dout -> dx of avg_pool (linear; x: a C++ tensor of the input's shape). Its gradient is
    avg_pool itself (the adjoint), so every order exists."""

    @staticmethod
    def forward(ctx, dout, x, params):
        ctx.params = params
        return W(_C.avg_pool2d_backward(dout._c, x, params))

    @staticmethod
    def backward(ctx, g):
        return _AvgPool.apply(g, ctx.params), None, None

    backward_graph = backward


class _AdaptiveAvgPool(Function):
    @staticmethod
    def forward(ctx, x, output_size):
        ctx.x = _stand_in(x._c)  # backward reads only x's shape
        return W(_C.adaptive_avg_pool2d_forward(x._c, output_size))

    @staticmethod
    def backward(ctx, dout):
        return W(_C.adaptive_avg_pool2d_backward(dout._c, ctx.x)), None

    @staticmethod
    def backward_graph(ctx, dout):
        return _AdaptiveAvgPoolBackward.apply(dout, ctx.x), None


class _AdaptiveAvgPoolBackward(Function):
    """dout -> dx of adaptive_avg_pool2d (linear); its gradient is adaptive_avg_pool2d itself."""

    @staticmethod
    def forward(ctx, dout, x):
        ctx.size = (int(dout.shape[-2]), int(dout.shape[-1]))
        return W(_C.adaptive_avg_pool2d_backward(dout._c, x))

    @staticmethod
    def backward(ctx, g):
        return _AdaptiveAvgPool.apply(g, ctx.size), None

    backward_graph = backward


def max_pool2d(input: Tensor, kernel_size: _IntOrPair, stride: Optional[_IntOrPair] = None,
               padding: _IntOrPair = 0, dilation: _IntOrPair = 1, ceil_mode: bool = False,
               return_indices: bool = False):
    """2-D max pooling over (N, C, H, W) or (C, H, W). stride defaults to kernel_size; padding
    (implicit -inf) is at most half the kernel. With return_indices, also returns the int64 argmax
    positions h*W + w within each plane (ties: the first maximum), as PyTorch does.

    PyTorch: ``torch.nn.functional.max_pool2d``; Keras: ``keras.layers.MaxPooling2D``.

    Example::

        F.max_pool2d(lamina.randn(1, 6, 28, 28), 2).shape    # (1, 6, 14, 14)
    """
    _check_input("max_pool2d", input)
    params = _params("max_pool2d", 2, kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices and _C.max_pool2d_is_2x2(input._c, params):
        return _MaxPool2x2.apply(input)
    out, idx = _MaxPool.apply(input, params)
    return (out, idx) if return_indices else out


def max_pool1d(input: Tensor, kernel_size: _IntOrPair, stride: Optional[_IntOrPair] = None,
               padding: _IntOrPair = 0, dilation: _IntOrPair = 1, ceil_mode: bool = False,
               return_indices: bool = False):
    """1-D max pooling over (N, C, L) or (C, L); indices are positions along L.

    PyTorch: ``torch.nn.functional.max_pool1d``.
    """
    _check_input("max_pool1d", input)
    out, idx = _MaxPool.apply(input, _params("max_pool1d", 1, kernel_size, stride, padding, dilation, ceil_mode))
    return (out, idx) if return_indices else out


def avg_pool2d(input: Tensor, kernel_size: _IntOrPair, stride: Optional[_IntOrPair] = None,
               padding: _IntOrPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> Tensor:
    """2-D average pooling. count_include_pad counts the zero padding in the divisor;
    divisor_override replaces the divisor altogether.

    PyTorch: ``torch.nn.functional.avg_pool2d``.
    """
    _check_input("avg_pool2d", input)
    return _AvgPool.apply(input, _params("avg_pool2d", 2, kernel_size, stride, padding, 1, ceil_mode,
                                         count_include_pad, divisor_override))


def avg_pool1d(input: Tensor, kernel_size: _IntOrPair, stride: Optional[_IntOrPair] = None,
               padding: _IntOrPair = 0, ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L).

    PyTorch: ``torch.nn.functional.avg_pool1d``.
    """
    _check_input("avg_pool1d", input)
    return _AvgPool.apply(input, _params("avg_pool1d", 1, kernel_size, stride, padding, 1, ceil_mode,
                                         count_include_pad))


def _output_size(op: str, input: Tensor, output_size) -> tuple:
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got input of shape "
                         f"{'x'.join(map(str, input.shape))} ({input.ndim}-D)")
    if output_size is None or isinstance(output_size, numbers.Integral):
        output_size = (output_size, output_size)
    if not isinstance(output_size, (tuple, list)) or len(output_size) != 2:
        raise ValueError(f"{op}: output_size must be an int, None or a pair, got {output_size!r}")
    sizes = (input.shape[-2], input.shape[-1])
    out = []
    for o, s in zip(output_size, sizes):
        if o is None:
            out.append(int(s))
        elif isinstance(o, numbers.Integral) and not isinstance(o, bool):
            out.append(int(o))
        else:
            raise ValueError(f"{op}: output_size must be an int, None or a pair, got {output_size!r}")
    return tuple(out)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size (int or (h, w); None keeps that input size).
    Window o covers [floor(o*In/Out), ceil((o+1)*In/Out)).

    PyTorch: ``torch.nn.functional.adaptive_avg_pool2d``.
    """
    _check_input("adaptive_avg_pool2d", input)
    return _AdaptiveAvgPool.apply(input, _output_size("adaptive_avg_pool2d", input, output_size))


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed output size; with return_indices also the int64 argmax positions.

    PyTorch: ``torch.nn.functional.adaptive_max_pool2d``.
    """
    _check_input("adaptive_max_pool2d", input)
    out, idx = _AdaptiveMaxPool.apply(input, _output_size("adaptive_max_pool2d", input, output_size))
    return (out, idx) if return_indices else out


__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d"]
FUNCTIONAL = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d",
              "adaptive_max_pool2d"]
TENSOR_METHODS: dict = {}
