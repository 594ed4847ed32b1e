"""ONNX export of the losses (lamina/ops/loss.py), composed from elementwise ops and reductions:
cross-entropy (class indices with weight, ignore_index and label smoothing, or class
probabilities), NLL, and the pointwise losses (MSE, L1, Huber, smooth L1, BCE, BCE with logits,
KL divergence) with their reductions. A mean whose count follows the batch divides by a size
computed from the input's shape.
"""
from __future__ import annotations

import numpy as np

from ..jit.ir import Sym
from ..ops import loss as _L
from ._export_core import np_dtype, onnx_dtype, rank, unsupported

_NONE, _MEAN, _SUM = 0, 1, 2


def _number(b, x, like) -> str:
    """A scalar of ``like``'s dtype holding ``x`` (a number, or a Sym computed from the shape)."""
    return b.number(x, np_dtype(like.dtype))


def _reduce_all(b, x, v) -> str:
    return b.op("ReduceSum", [x, b.ints(list(range(rank(v))))], keepdims=0) if rank(v) else x


def _pick(b, lsm, t, cd: int) -> str:
    """lsm[..., t, ...] along the class dim (t: int64 indices, already valid)."""
    g = b.op("GatherElements", [lsm, b.op("Unsqueeze", [t, b.ints([cd])])], axis=cd)
    return b.op("Squeeze", [g, b.ints([cd])])


def _class_nll(b, n, lsm, target, weight, ignore_index, ls, red):
    """-(1 - ls) w[t] lsm[t] - ls / C sum_c w_c lsm_c at each position (0 where ignored), reduced."""
    x = n.args[0]
    tv = n.args[1]
    cd = 1 if rank(x) >= 2 else 0
    C = x.shape[cd]
    keep = b.op("Not", [b.op("Equal", [target, b.const(np.asarray(ignore_index, np.int64))])])
    t = b.op("Where", [keep, target, b.const(np.asarray(0, np.int64))])
    mask = b.op("Cast", [keep], to=onnx_dtype(x.dtype))
    wt = mask if weight is None else b.op("Mul", [b.op("Gather", [weight, t], axis=0), mask])
    loss = b.op("Neg", [b.op("Mul", [_pick(b, lsm, t, cd), wt])])
    if ls:
        wl = lsm
        if weight is not None:
            shape = [C] + [1] * (rank(x) - cd - 1)
            wl = b.op("Mul", [lsm, b.op("Reshape", [weight, b.ints(shape)])])
        smooth = b.op("Neg", [b.op("ReduceSum", [wl, b.ints([cd])], keepdims=0)])
        loss = b.op("Add", [b.op("Mul", [loss, b.scalar(1.0 - ls, x)]),
                            b.op("Mul", [b.op("Mul", [smooth, mask]), b.scalar(ls / C, x)])])
    if red == _NONE:
        return loss
    total = _reduce_all(b, loss, tv)
    if red == _SUM:
        return total
    return b.op("Div", [total, _reduce_all(b, wt, tv)])


def _cross_entropy(b, n, a):
    x, target, weight, ignore_index, ls, red = a
    cd = 1 if rank(n.args[0]) >= 2 else 0
    lsm = b.op("LogSoftmax", [x], axis=cd)
    return _class_nll(b, n, lsm, target, weight, ignore_index, ls, red)


def _nll(b, n, a):
    x, target, weight, ignore_index, red = a
    return _class_nll(b, n, x, target, weight, ignore_index, 0.0, red)


def _cross_entropy_prob(b, n, a):
    x, target, weight, ls, red = a
    v = n.args[0]
    cd = 1 if rank(v) >= 2 else 0
    C = v.shape[cd]
    lsm = b.op("LogSoftmax", [x], axis=cd)
    q = b.op("Add", [b.op("Mul", [target, b.scalar(1.0 - ls, v)]), b.scalar(ls / C, v)]) if ls else target
    if weight is not None:
        q = b.op("Mul", [q, b.op("Reshape", [weight, b.ints([C] + [1] * (rank(v) - cd - 1))])])
    loss = b.op("Neg", [b.op("ReduceSum", [b.op("Mul", [q, lsm]), b.ints([cd])], keepdims=0)])
    if red == _NONE:
        return loss
    positions = [d for i, d in enumerate(v.shape) if i != cd]
    total = b.op("ReduceSum", [loss, b.ints(list(range(len(positions))))], keepdims=0) if positions else loss
    if red == _SUM:
        return total
    count = 1  # mean over positions: their count may follow the batch (a Sym times the rest)
    for d in positions:
        if isinstance(d, Sym) and isinstance(count, Sym):
            raise unsupported(n, "a mean over two dimensions that follow the batch")
        if isinstance(d, Sym):
            count = Sym(d.a * count, d.b * count)
        elif isinstance(count, Sym):
            count = Sym(count.a * d, count.b * d)
        else:
            count *= d
    return b.op("Div", [total, _number(b, count, v)])


def _pointwise(b, n, a):
    x, t, weight, pos_weight, kind, param, reduce, divisor = a
    v = n.args[0]
    s = lambda val: b.scalar(val, v)  # noqa: E731
    d = b.op("Sub", [x, t])
    if kind == _L._MSE:
        out = b.op("Mul", [d, d])
    elif kind == _L._L1:
        out = b.op("Abs", [d])
    elif kind in (_L._HUBER, _L._SMOOTH_L1):
        ad = b.op("Abs", [d])
        if kind == _L._SMOOTH_L1 and param == 0.0:
            out = ad
        else:
            quad = b.op("Mul", [b.op("Mul", [d, d]), s(0.5 if kind == _L._HUBER else 0.5 / param)])
            lin = b.op("Sub", [ad, s(0.5 * param)])
            if kind == _L._HUBER:
                lin = b.op("Mul", [lin, s(param)])
            out = b.op("Where", [b.op("Less", [ad, s(param)]), quad, lin])
    elif kind == _L._BCE:  # -(t log x + (1 - t) log(1 - x)), logs clamped at -100
        lx = b.op("Max", [b.op("Log", [x]), s(-100.0)])
        l1x = b.op("Max", [b.op("Log", [b.op("Sub", [s(1.0), x])]), s(-100.0)])
        out = b.op("Neg", [b.op("Add", [b.op("Mul", [t, lx]), b.op("Mul", [b.op("Sub", [s(1.0), t]), l1x])])])
    elif kind == _L._BCE_LOGITS:  # (1 - t) x + (1 + (pw - 1) t) (log(1 + exp(-|x|)) + max(-x, 0))
        sp = b.op("Add", [b.op("Log", [b.op("Add", [s(1.0), b.op("Exp", [b.op("Neg", [b.op("Abs", [x])])])])]),
                          b.op("Relu", [b.op("Neg", [x])])])
        lw = sp if pos_weight is None else b.op(
            "Mul", [b.op("Add", [s(1.0), b.op("Mul", [b.op("Sub", [pos_weight, s(1.0)]), t])]), sp])
        out = b.op("Add", [b.op("Mul", [b.op("Sub", [s(1.0), t]), x]), lw])
    else:  # KL: log_target (param 1): exp(t) (t - x); else t (log t - x), 0 where t <= 0
        if param:
            out = b.op("Mul", [b.op("Exp", [t]), b.op("Sub", [t, x])])
        else:
            pos = b.op("Greater", [t, s(0.0)])
            safe = b.op("Where", [pos, t, s(1.0)])
            out = b.op("Where", [pos, b.op("Mul", [t, b.op("Sub", [b.op("Log", [safe]), x])]), s(0.0)])
    if weight is not None:
        out = b.op("Mul", [out, weight])
    if not reduce:
        return out
    total = _reduce_all(b, out, v)
    if not isinstance(divisor, Sym) and divisor == 1.0:
        return total
    return b.op("Div", [total, _number(b, divisor, v)])


CONVERTERS: dict = {_L.CrossEntropy: _cross_entropy, _L.CrossEntropyProb: _cross_entropy_prob, _L.NLL: _nll,
                    _L.Pointwise: _pointwise}

