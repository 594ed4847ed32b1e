"""Convolutions, NCHW: conv1d, conv2d, conv_transpose1d, conv_transpose2d (im2col + GEMM).
C++: cpp/ops/conv2d.cpp, cpp/ops/conv_transpose2d.cpp, cpp/ops/im2col.cpp. 1-D convolutions run
the 2-D kernels with a unit height.
"""
from __future__ import annotations

import numbers
from typing import Optional, Sequence, Union

from .. import _C
from ..autograd.function import Function
from ..tensor import Tensor
from ._tuples import conv_padding, ntuple as _ntuple, same_padding

W = Tensor._wrap

_IntOrPair = Union[int, Sequence[int]]


def _check_tensors(op: str, input, weight, bias) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: expected weight to be a Tensor, got {type(weight).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}: expected bias to be a Tensor or None, got {type(bias).__name__}")


class _Conv(Function):
    """Forward and backward of conv{1,2}d (transposed=False) and conv_transpose{1,2}d."""

    @staticmethod
    def forward(ctx, x, w, b, params, transposed):
        ctx.save_for_backward(x, w)
        ctx.params = params
        ctx.transposed = transposed
        fwd = _C.conv_transpose2d_forward if transposed else _C.conv2d_forward
        return W(fwd(x._c, w._c, None if b is None else b._c, params))

    @staticmethod
    def backward(ctx, dout):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad[:3]
        bwd = _C.conv_transpose2d_backward if ctx.transposed else _C.conv2d_backward
        dx, dw, db = bwd(dout._c, x._c, w._c, ctx.params, nx, nw, nb)
        return (W(dx) if dx is not None else None, W(dw) if dw is not None else None,
                W(db) if db is not None else None, None, None)

    @staticmethod
    def backward_graph(ctx, dout):
        """create_graph=True: the same gradients through ``_ConvBackward`` (differentiable)."""
        xs, ws = ctx.saved_tensors
        nx, nw, nb = (bool(n) for n in ctx.needs_input_grad[:3])
        x, w = ctx.input(0, xs._c), ctx.input(1, ws._c)
        dx, dw, db = _ConvBackward.apply(dout, x, w, ctx.params, ctx.transposed, nx, nw, nb)
        return dx, dw, db, None, None


class _ConvBackward(Function):
    """(dout, x, w) -> (dx, dw, db) of conv / conv_transpose (None where not asked): the fused C++
    backward as a Function, so gradients of any order exist. The op is bilinear,
    <dout, f(x, w) + b>, so each second derivative is the conv forward or this backward again."""

    @staticmethod
    def forward(ctx, dout, x, w, params, transposed, nx, nw, nb):
        ctx.save_for_backward(dout, x, w)
        ctx.params, ctx.transposed = params, transposed
        bwd = _C.conv_transpose2d_backward if transposed else _C.conv2d_backward
        g = bwd(dout._c, x._c, w._c, params, nx, nw, nb)
        return tuple(None if t is None else W(t) for t in g)

    @staticmethod
    def backward(ctx, gdx, gdw, gdb):
        dout, x, w = ctx.saved_tensors
        p, tr = ctx.params, ctx.transposed
        ndout, nx, nw = ctx.needs_input_grad[:3]
        d_dout = d_x = d_w = None
        if ndout:
            # d/d(dout) of <gdx, dx> + <gdw, dw> + <gdb, db> = f(gdx, w) + f(x, gdw) + gdb
            bias = gdb
            if gdx is not None:
                d_dout = _Conv.apply(gdx, w, bias, p, tr)
                bias = None
            if gdw is not None:
                t = _Conv.apply(x, gdw, bias, p, tr)
                d_dout = t if d_dout is None else d_dout + t
                bias = None
            if bias is not None:
                ch = dout.ndim - (3 if p.dims == 2 else 2)  # channel axis
                shape = (bias.shape[0],) + (1,) * (dout.ndim - ch - 1)
                d_dout = bias.reshape(shape).expand(tuple(dout.shape))
        if nx and gdw is not None:  # dw = df/dw^T dout is linear in x
            d_x = _ConvBackward.apply(dout, x, gdw, p, tr, True, False, False)[0]
        if nw and gdx is not None:  # dx = df/dx^T dout is linear in w
            d_w = _ConvBackward.apply(dout, gdx, w, p, tr, False, True, False)[1]
        return d_dout, d_x, d_w, None, None, None, None, None

    backward_graph = backward


def _conv(op: str, input, weight, bias, stride, padding, dilation, groups, dims: int) -> Tensor:
    _check_tensors(op, input, weight, bias)
    n = dims
    st = _ntuple(stride, n, "stride", op)
    dl = _ntuple(dilation, n, "dilation", op)
    extra = (0,) * n
    pd = conv_padding(padding, n, op, st)
    if pd == "valid":
        pd = (0,) * n
    elif pd == "same":
        ks = tuple(weight.shape[2:]) if weight.ndim == n + 2 else (1,) * n  # bad rank: C++ reports it
        left, right = same_padding(ks, dl)
        pd, extra = left, tuple(r - lo for r, lo in zip(right, left))
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise TypeError(f"{op}: groups must be an int, got {type(groups).__name__}")
    if any(extra):
        # Odd total padding: pad one more on both sides, then drop the first output row/column,
        # which equals PyTorch's extra padding at the end only.
        pd = tuple(p + e for p, e in zip(pd, extra))
    if n == 1:
        params = _C.ConvParams((1, st[0]), (0, pd[0]), (1, dl[0]), (0, 0), int(groups), 1)
    else:
        params = _C.ConvParams(st, pd, dl, (0, 0), int(groups), 2)
    out = _Conv.apply(input, weight, bias, params, False)
    if any(extra):
        idx = [slice(None)] * (out.ndim - n) + [slice(1, None) if e else slice(None) for e in extra]
        out = out[tuple(idx)]
    return out


def conv2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: _IntOrPair = 1,
           padding: Union[_IntOrPair, str] = 0, dilation: _IntOrPair = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) over an (N, C, H, W) or (C, H, W) input.

    weight is (OC, C/groups, KH, KW), bias (OC,) or None; stride, padding and dilation are ints
    or (h, w) pairs, padding may also be 'valid' or 'same'. Output height is
    floor((H + 2*padding - dilation*(KH-1) - 1) / stride) + 1, likewise for the width.

    PyTorch: ``torch.nn.functional.conv2d`` (same arguments; ``bias=`` by keyword). float32 or
    float64; input and weight of one dtype. The layer form is :class:`lamina.nn.Conv2d`.

    Example::

        y = F.conv2d(lamina.randn(8, 3, 32, 32), lamina.randn(16, 3, 5, 5), bias=None, padding=2)
        y.shape                                  # (8, 16, 32, 32)
    """
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: _IntOrPair = 1,
           padding: Union[_IntOrPair, str] = 0, dilation: _IntOrPair = 1, groups: int = 1) -> Tensor:
    """1-D convolution over an (N, C, L) or (C, L) input; weight is (OC, C/groups, K).

    PyTorch: ``torch.nn.functional.conv1d``.
    """
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


def _conv_transpose(op: str, input, weight, bias, stride, padding, output_padding, groups, dilation,
                    dims: int) -> Tensor:
    _check_tensors(op, input, weight, bias)
    n = dims
    st = _ntuple(stride, n, "stride", op)
    pd = _ntuple(padding, n, "padding", op)
    opd = _ntuple(output_padding, n, "output_padding", op)
    dl = _ntuple(dilation, n, "dilation", op)
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise TypeError(f"{op}: groups must be an int, got {type(groups).__name__}")
    if n == 1:
        params = _C.ConvParams((1, st[0]), (0, pd[0]), (1, dl[0]), (0, opd[0]), int(groups), 1)
    else:
        params = _C.ConvParams(st, pd, dl, opd, int(groups), 2)
    return _Conv.apply(input, weight, bias, params, True)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: _IntOrPair = 1,
                     padding: _IntOrPair = 0, output_padding: _IntOrPair = 0, groups: int = 1,
                     dilation: _IntOrPair = 1) -> Tensor:
    """2-D transposed convolution (the gradient of conv2d with respect to its input).

    weight is (C_in, C_out/groups, KH, KW). Output height is
    (H - 1)*stride - 2*padding + dilation*(KH-1) + output_padding + 1.

    PyTorch: ``torch.nn.functional.conv_transpose2d``.
    """
    return _conv_transpose("conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 2)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: _IntOrPair = 1,
                     padding: _IntOrPair = 0, output_padding: _IntOrPair = 0, groups: int = 1,
                     dilation: _IntOrPair = 1) -> Tensor:
    """1-D transposed convolution over (N, C_in, L); weight is (C_in, C_out/groups, K).

    PyTorch: ``torch.nn.functional.conv_transpose1d``.
    """
    return _conv_transpose("conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 1)


__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]
FUNCTIONAL = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]
TENSOR_METHODS: dict = {}
