"""ONNX RNN, GRU and LSTM as lamina ops. The common configurations (default activations, no clip or
peepholes, GRU with linear_before_reset=1) run lamina's fused ``rnn_sequence`` kernel with the gate
blocks reordered (ONNX LSTM i,o,f,c -> i,f,g,o; GRU z,r,h -> r,z,n); every other attribute
combination is composed step by step from lamina ops. Both keep the weights' gradients.
"""
from __future__ import annotations

import numpy as np

from ..ops import activation as A
from ..ops import compare as Cmp
from ..ops import creation as C
from ..ops import join as J
from ..ops import matmul as M
from ..ops import rnn as RN
from ..ops import shape as S
from ..ops import unary as U
from ._import_common import NodeContext, op

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
_DEFAULT_ACTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
# block order that turns ONNX's gate layout into rnn_sequence's (PyTorch's)
_TO_TORCH = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}


def _act(ctx, name: str, alpha, beta):
    n = name.lower()
    table = {
        "sigmoid": A.sigmoid, "tanh": A.tanh, "relu": A.relu,
        "softsign": lambda x: x / (U.abs(x) + 1.0), "softplus": A.softplus,
        "leakyrelu": lambda x: A.leaky_relu(x, 0.01 if alpha is None else alpha),
        "thresholdedrelu": lambda x: x * Cmp.gt(x, 1.0 if alpha is None else alpha).to(x.dtype),
        "elu": lambda x: A.elu(x, 1.0 if alpha is None else alpha),
        "affine": lambda x: x * (1.0 if alpha is None else alpha) + (0.0 if beta is None else beta),
        "scaledtanh": lambda x: A.tanh(x * (1.0 if beta is None else beta)) * (1.0 if alpha is None else alpha),
        "hardsigmoid": lambda x: U.clamp(x * (0.2 if alpha is None else alpha) + (0.5 if beta is None else beta),
                                         0.0, 1.0),
    }
    if n not in table:
        raise ctx.unsupported(f"activation '{name}'")
    return table[n]


def _activations(ctx, kind: str, dirs: int) -> list:
    names = ctx.attr("activations") or _DEFAULT_ACTS[kind] * dirs
    names = [a.decode() if isinstance(a, bytes) else a for a in names]
    alphas = list(ctx.attr("activation_alpha") or [])
    betas = list(ctx.attr("activation_beta") or [])
    takes = {"leakyrelu": (1, 0), "thresholdedrelu": (1, 0), "elu": (1, 0), "affine": (1, 1),
             "scaledtanh": (1, 1), "hardsigmoid": (1, 1)}
    fns = []
    for nm in names:
        ta, tb = takes.get(nm.lower(), (0, 0))
        a = alphas.pop(0) if ta and alphas else None
        b = betas.pop(0) if tb and betas else None
        fns.append((nm, _act(ctx, nm, a, b)))
    per = len(_DEFAULT_ACTS[kind])
    return [fns[d * per:(d + 1) * per] for d in range(dirs)]


def _blocks(w, order, h):
    return J.cat([S.narrow(w, 0, g * h, h) for g in order], 0)


def _fast_ok(ctx, kind, acts, peep) -> bool:
    if ctx.attr("clip") is not None or peep is not None or ctx.attr("input_forget", 0):
        return False
    if kind == "GRU" and not ctx.attr("linear_before_reset", 0):
        return False
    names = [[n.lower() for n, _ in a] for a in acts]
    want = [n.lower() for n in _DEFAULT_ACTS[kind]]
    if kind == "RNN":
        return all(n in (["tanh"], ["relu"]) for n in names)
    return all(n == want for n in names)


def _step_composed(kind, acts, clip, gx, h, c, r, rb, peep, input_forget, lbr, hs):
    def cl(v):
        return U.clamp(v, -clip, clip) if clip is not None else v
    f = acts[0][1]
    if kind == "RNN":
        return f(cl(gx + M.matmul(h, S.t(r)) + rb)), None
    if kind == "GRU":
        g = acts[1][1]
        rz = M.matmul(h, S.t(S.narrow(r, 0, 0, 2 * hs))) + S.narrow(rb, 0, 0, 2 * hs)
        z = f(cl(S.narrow(gx, 1, 0, hs) + S.narrow(rz, 1, 0, hs)))
        rr = f(cl(S.narrow(gx, 1, hs, hs) + S.narrow(rz, 1, hs, hs)))
        rh, rbh = S.narrow(r, 0, 2 * hs, hs), S.narrow(rb, 0, 2 * hs, hs)
        if lbr:
            n = g(cl(S.narrow(gx, 1, 2 * hs, hs) + rr * (M.matmul(h, S.t(rh)) + rbh)))
        else:
            n = g(cl(S.narrow(gx, 1, 2 * hs, hs) + M.matmul(rr * h, S.t(rh)) + rbh))
        return (1.0 - z) * n + z * h, None
    g, hf = acts[1][1], acts[2][1]
    gates = gx + M.matmul(h, S.t(r)) + rb
    gi, go, gf, gc = (S.narrow(gates, 1, k * hs, hs) for k in range(4))
    pi = po = pf = None
    if peep is not None:
        pi, po, pf = (S.narrow(peep, 0, k * hs, hs) for k in range(3))
    i = f(cl(gi + pi * c if pi is not None else gi))
    fg = 1.0 - i if input_forget else f(cl(gf + pf * c if pf is not None else gf))
    c_new = fg * c + i * g(cl(gc))
    o = f(cl(go + po * c_new if po is not None else go))
    return o * hf(c_new), c_new


@op("RNN", "GRU", "LSTM")
def _rnn(ctx: NodeContext, ins):
    kind = ctx.node.op_type
    ins = list(ins) + [None] * (8 - len(ins))
    x = ctx.tensor(ins[0])
    w, r = ctx.tensor(ins[1], like=x), ctx.tensor(ins[2], like=x)
    b = ctx.tensor(ins[3], like=x)
    lens = ins[4]
    h0 = ctx.tensor(ins[5], like=x)
    c0 = ctx.tensor(ins[6], like=x) if kind == "LSTM" else None
    peep = ctx.tensor(ins[7], like=x) if kind == "LSTM" else None
    layout = ctx.attr("layout", 0)
    if layout:
        x = S.transpose(x, 0, 1)
        h0 = S.transpose(h0, 0, 1) if h0 is not None else None
        c0 = S.transpose(c0, 0, 1) if c0 is not None else None
    direction = ctx.attr("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    hs = ctx.attr("hidden_size") or r.shape[-1]
    gsz = _GATES[kind] * hs
    T, B = x.shape[0], x.shape[1]
    acts = _activations(ctx, kind, dirs)
    lens_np = None if lens is None else np.asarray(ctx.ints(lens), dtype=np.int64)
    if lens_np is not None and (lens_np == T).all():
        lens_np = None
    fast = _fast_ok(ctx, kind, acts, peep)
    if not fast and lens_np is not None:
        raise ctx.unsupported("sequence_lens shorter than the sequence together with clip, peepholes, "
                              "input_forget, linear_before_reset=0 or non-default activations")
    zeros = C.zeros(B, hs, dtype=x.dtype)
    ys, hns, cns = [], [], []
    for d in range(dirs):
        reverse = direction == "reverse" or d == 1
        wd, rd = w[d], r[d]
        wb = S.narrow(b[d], 0, 0, gsz) if b is not None else None
        rb = S.narrow(b[d], 0, gsz, gsz) if b is not None else None
        hd = h0[d] if h0 is not None else zeros
        cd = (c0[d] if c0 is not None else zeros) if kind == "LSTM" else None
        if fast:
            order = _TO_TORCH[kind]
            mode = "lstm" if kind == "LSTM" else "gru" if kind == "GRU" else "rnn_" + acts[d][0][0].lower()
            y, hn, cn = RN.rnn_sequence(mode, x, hd, cd, _blocks(wd, order, hs), _blocks(rd, order, hs),
                                        _blocks(wb, order, hs) if wb is not None else None,
                                        _blocks(rb, order, hs) if rb is not None else None,
                                        lengths=None if lens_np is None else list(lens_np), reverse=reverse)
        else:
            gx_all = M.matmul(x, S.t(wd))
            if wb is not None:
                gx_all = gx_all + wb
            rbd = rb if rb is not None else C.zeros(gsz, dtype=x.dtype)
            outs = [None] * T
            h, c = hd, cd
            for t in (range(T - 1, -1, -1) if reverse else range(T)):
                h, c = _step_composed(kind, acts[d], ctx.attr("clip"), gx_all[t], h, c, rd, rbd,
                                      peep[d] if peep is not None else None, ctx.attr("input_forget", 0),
                                      ctx.attr("linear_before_reset", 0), hs)
                outs[t] = h
            y, hn, cn = J.stack(outs, 0), h, c
        ys.append(y)
        hns.append(hn)
        cns.append(cn)
    y = J.stack(ys, 1)  # [T, D, B, H]
    yh = J.stack(hns, 0)
    yc = J.stack(cns, 0) if kind == "LSTM" else None
    if layout:
        y = S.permute(y, 2, 0, 1, 3)
        yh = S.transpose(yh, 0, 1)
        yc = S.transpose(yc, 0, 1) if yc is not None else None
    return [y, yh] + ([yc] if kind == "LSTM" else [])

