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
from .join import cat as _cat, stack as _stack

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
            # read only by the double backward (backward_graph), which recomputes the gates
            ctx.b_ih, ctx.b_hh = (None if b is None else b._c for b in (b_ih, b_hh))
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

    @staticmethod
    def backward_graph(ctx, *grads):
        """create_graph=True: the layer re-run step by step as differentiable lamina ops from the
        saved inputs, then backpropagated through time by hand with the formulas of
        cpp/ops/rnn_cells.h, so the returned gradients are in the graph."""
        dout, grads = (None, grads) if ctx.cell else (grads[0], grads[1:])
        dhn = grads[0]
        dcn = grads[1] if len(grads) > 1 else None
        mode, lstm = ctx.mode, ctx.mode == "lstm"
        xs, hprev, _act, _aux, cprev = ctx.saved
        T = xs.shape[0] if not ctx.cell else 1
        first = T - 1 if ctx.reverse else 0
        x = ctx.input(3, xs)
        if ctx.cell:
            x = x.unsqueeze(0)
        h0c = hprev.select(0, first) if T else hprev
        h = ctx.input(4, h0c)
        c = ctx.input(5, cprev.select(0, first)) if lstm else None
        w_ih, w_hh = ctx.input(6, ctx.w_ih), ctx.input(7, ctx.w_hh)
        b_ih = None if ctx.b_ih is None else ctx.input(8, ctx.b_ih)
        b_hh = None if ctx.b_hh is None else ctx.input(9, ctx.b_hh)
        H = w_hh.shape[1]
        lens = None if ctx.lengths is None else ctx.lengths.numpy()
        order = [T - 1 - s for s in range(T)] if ctx.reverse else list(range(T))
        steps = []  # per step: (t, valid mask, h_prev, c_prev, cached gate values)
        for t in order:
            xt = x[t]
            gi = xt.matmul(w_ih.t()) if b_ih is None else xt.matmul(w_ih.t()) + b_ih
            gh = h.matmul(w_hh.t()) if b_hh is None else h.matmul(w_hh.t()) + b_hh
            m = None
            if lens is not None:
                mv = (t < lens).astype(np.float64).reshape(-1, 1)
                m = W(_C.from_numpy(mv).to_dtype(xs.dtype))
            cn = None
            if mode in ("rnn_tanh", "rnn_relu"):
                pre = gi + gh
                hn = pre.tanh() if mode == "rnn_tanh" else pre.relu()
                cache = (hn,)
            elif lstm:
                i, f, g, o = (gi + gh).chunk(4, 1)
                i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
                cn = f * c + i * g
                tc = cn.tanh()
                hn = o * tc
                cache = (i, f, g, o, tc)
            else:
                ir, iz, in_ = gi.chunk(3, 1)
                hr, hz, hn_ = gh.chunk(3, 1)
                r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
                n = (in_ + r * hn_).tanh()
                hn = n + z * (h - n)
                cache = (r, z, n, hn_)
            steps.append((t, m, h, c, cache))
            if m is None:
                h, c = hn, cn
            else:
                h = m * hn + (1.0 - m) * h
                c = None if cn is None else m * cn + (1.0 - m) * c
        # Backpropagation through time.
        dh, dc = dhn, dcn
        dgis, dghs = [None] * T, [None] * T
        needs = ctx.needs_input_grad
        for t, m, hp, cp, cache in reversed(steps):
            # h_new = m * h' + (1 - m) * h_prev and out_t = m * h' (m = 1 without lengths)
            go = dh if dout is None else dh + dout[t]
            dh_skip = None
            if m is not None:
                go, dh_skip = m * go, (1.0 - m) * dh
            if mode in ("rnn_tanh", "rnn_relu"):
                (hn,) = cache
                dg = go * (1.0 - hn * hn) if mode == "rnn_tanh" else go * (hn.detach() > 0).to(hn.dtype)
                dgi = dgh = dg
                dh_direct = None
            elif lstm:
                i, f, g, o, tc = cache
                dcm = dc if m is None else m * dc
                dct = dcm + go * o * (1.0 - tc * tc)
                do = go * tc * o * (1.0 - o)
                di = dct * g * i * (1.0 - i)
                df = dct * cp * f * (1.0 - f)
                dgg = dct * i * (1.0 - g * g)
                dgi = dgh = _cat([di, df, dgg, do], 1)
                dc = dct * f if m is None else dct * f + (1.0 - m) * dc
                dh_direct = None
            else:
                r, z, n, hn_ = cache
                dn = go * (1.0 - z)
                dni = dn * (1.0 - n * n)
                dnh = dni * r
                dr = dni * hn_ * r * (1.0 - r)
                dz = go * (hp - n) * z * (1.0 - z)
                dgi, dgh = _cat([dr, dz, dni], 1), _cat([dr, dz, dnh], 1)
                dh_direct = go * z
            dgis[t], dghs[t] = dgi, dgh
            dh = dgh.matmul(w_hh)
            if dh_direct is not None:
                dh = dh + dh_direct
            if dh_skip is not None:
                dh = dh + dh_skip
        dx = dhx = dcx = dwih = dwhh = dbih = dbhh = None
        if T:
            dgi_all, dgh_all = _stack(dgis), _stack(dghs)  # [T, B, G*H]
            if needs[3]:
                dx = dgi_all.matmul(w_ih)
                if ctx.cell:
                    dx = dx.squeeze(0)
            if needs[6]:
                dwih = dgi_all.reshape(-1, dgi_all.shape[-1]).t().matmul(x.reshape(-1, x.shape[-1]))
            if needs[7]:
                hps = _stack([hp for _, _, hp, _, _ in sorted(steps, key=lambda e: e[0])])
                dwhh = dgh_all.reshape(-1, dgh_all.shape[-1]).t().matmul(hps.reshape(-1, H))
            if needs[8]:
                dbih = dgi_all.sum(0).sum(0)
            if needs[9]:
                dbhh = dgh_all.sum(0).sum(0)
        else:
            if needs[3]:
                dx = x * 0.0
            zero = lambda w: w * 0.0  # noqa: E731
            dwih, dwhh = (zero(w_ih) if needs[6] else None), (zero(w_hh) if needs[7] else None)
            dbih = zero(b_ih) if needs[8] else None
            dbhh = zero(b_hh) if needs[9] else None
        if needs[4]:
            dhx = dh
        if needs[5] and lstm:
            dcx = dc
        return (None, None, None, dx, dhx, dcx, dwih, dwhh, dbih, dbhh)


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
