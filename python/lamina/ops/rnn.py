"""Recurrent ops: ``rnn_sequence`` runs a whole RNN/LSTM/GRU layer (one direction) over a
time-major sequence in one C++ call and backpropagates through time in one more; ``rnn_cell`` is
one step of the same cells. C++: cpp/ops/rnn.cpp (formulas in cpp/ops/rnn_cells.h).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import _C
from .. import _dtype as D
from ..autograd.function import Function
from ..tensor import Tensor

W = Tensor._wrap

__all__: list = []
FUNCTIONAL: list = ["rnn_sequence", "rnn_cell"]
TENSOR_METHODS: dict = {}

_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


class RnnSequence(Function):
    """Forward: the C++ layer over all steps; saves its workspace (gate activations, states) as
    raw C++ tensors. A 2-D input means one step (``rnn_cell``): then only (h, c) are outputs."""

    @staticmethod
    def forward(ctx, mode, lengths, reverse, x, hx, cx, w_ih, w_hh, b_ih, b_hh):
        r = _C.rnn_sequence_forward(mode, x._c, hx._c, None if cx is None else cx._c, w_ih._c, w_hh._c,
                                    None if b_ih is None else b_ih._c, None if b_hh is None else b_hh._c,
                                    lengths, reverse)
        out, hn, cn = r[0], r[1], r[2]
        if ctx.needs_input_grad:
            ctx.mode, ctx.lengths, ctx.reverse, ctx.cell = mode, lengths, reverse, x.ndim == 2
            ctx.saved, ctx.w_ih, ctx.w_hh = list(r[3:]), w_ih._c, w_hh._c
        # Only tensors go back to Function.apply (a None output would be confused with None args).
        res = (W(hn),) if x.ndim == 2 else (W(out), W(hn))
        return res + (W(cn),) if cn is not None else res

    @staticmethod
    def backward(ctx, *grads):
        if ctx.cell:
            dout, grads = None, grads
        else:
            dout, grads = grads[0], grads[1:]
        dhn = grads[0]
        dcn = grads[1] if len(grads) > 1 else None
        needs = list(ctx.needs_input_grad[3:10])
        r = _C.rnn_sequence_backward(ctx.mode, None if dout is None else dout._c, None if dhn is None else dhn._c,
                                     None if dcn is None else dcn._c, ctx.saved, ctx.w_ih, ctx.w_hh, ctx.lengths,
                                     ctx.reverse, needs)
        return (None, None, None) + tuple(None if g is None else W(g) for g in r)


def _check_mode(op: str, mode) -> int:
    if mode not in _GATES:
        raise ValueError(f"{op}: mode must be 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru', got {mode!r}")
    return _GATES[mode]


def _check_tensors(op: str, mode: str, **kw) -> None:
    for name, t in kw.items():
        optional = name in ("cx", "b_ih", "b_hh")
        if t is None and optional:
            continue
        if not isinstance(t, Tensor):
            what = "a Tensor or None" if optional else "a Tensor"
            raise TypeError(f"{op} {mode}: {name} must be {what}, got {type(t).__name__}")


def _lengths_c(mode: str, lengths, batch: int):
    """lengths as a C++ int64 tensor (or None); values are checked in C++ (each in [1, T])."""
    if lengths is None:
        return None
    if isinstance(lengths, Tensor):
        if lengths.dtype is not D.int64:
            raise TypeError(f"rnn_sequence {mode}: lengths must be an int64 tensor, got {lengths.dtype}")
        return lengths._c
    if not isinstance(lengths, Sequence) and not isinstance(lengths, np.ndarray):
        raise TypeError(f"rnn_sequence {mode}: lengths must be None, an int64 Tensor or a sequence of ints, "
                        f"got {type(lengths).__name__}")
    vals = list(lengths)
    for i, v in enumerate(vals):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"rnn_sequence {mode}: lengths[{i}] must be an int, got {type(v).__name__}")
    if len(vals) != batch:
        raise ValueError(f"rnn_sequence {mode}: lengths must have one entry per batch row ({batch}), "
                         f"got {len(vals)}")
    return _C.from_numpy(np.array(vals, dtype=np.int64))


def rnn_sequence(mode: str, input: Tensor, hx: Tensor, cx: Tensor | None, w_ih: Tensor, w_hh: Tensor,
                 b_ih: Tensor | None, b_hh: Tensor | None, lengths=None, reverse: bool = False):
    """One recurrent layer in one direction over a time-major sequence, PyTorch's formulas and gate
    order. mode: ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` (gates i, f, g, o) or ``"gru"`` (r, z, n).

    input ``[T, B, I]``, hx ``[B, H]``, cx ``[B, H]`` (lstm only, else None), w_ih ``[G*H, I]``,
    w_hh ``[G*H, H]``, b_ih / b_hh ``[G*H]`` or None, G = 1, 1, 4, 3. lengths (int64 tensor or
    sequence of B ints in [1, T]): row b stops after lengths[b] steps (later outputs are 0, h_n /
    c_n hold its last valid state). reverse: each row runs from its last valid step back to 0.
    Returns ``(output [T, B, H], h_n [B, H], c_n [B, H] or None)``.
    """
    _check_mode("rnn_sequence", mode)
    _check_tensors("rnn_sequence", mode, input=input, hx=hx, cx=cx, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh)
    if input.ndim != 3:
        raise ValueError(f"rnn_sequence {mode}: input must be [seq_len, batch, input_size], got "
                         f"{list(input.shape)}")
    lc = _lengths_c(mode, lengths, input.shape[1])
    r = RnnSequence.apply(mode, lc, bool(reverse), input, hx, cx, w_ih, w_hh, b_ih, b_hh)
    return (r[0], r[1], r[2] if len(r) > 2 else None)


def rnn_cell(mode: str, input: Tensor, hx: Tensor, cx: Tensor | None, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None, b_hh: Tensor | None):
    """One step of a recurrent cell (see ``rnn_sequence``): input ``[B, I]``, hx / cx ``[B, H]``.
    Returns ``(h_new [B, H], c_new [B, H] or None)`` (c only for lstm)."""
    _check_mode("rnn_cell", mode)
    _check_tensors("rnn_cell", mode, input=input, hx=hx, cx=cx, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh)
    if input.ndim != 2:
        raise ValueError(f"rnn_cell {mode}: input must be [batch, input_size], got {list(input.shape)}")
    r = RnnSequence.apply(mode, None, False, input, hx, cx, w_ih, w_hh, b_ih, b_hh)
    return (r[0], r[1] if len(r) > 1 else None)
