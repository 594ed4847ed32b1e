"""ONNX export of nn.RNN / nn.LSTM / nn.GRU (recorded by the tracer as one module node) as
ONNX's RNN / LSTM / GRU ops, one per layer (both directions in one op when bidirectional), with
the weights' gate blocks reordered: lamina (= PyTorch) LSTM i,f,g,o -> ONNX i,o,f,c; GRU r,z,n ->
ONNX z,r,h (with linear_before_reset=1, PyTorch's GRU form).
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto

from ..jit.ir import Value
from ..nn.layers.rnn import GRU, LSTM, RNN
from ..ops.rnn import RnnSequence
from ._export_core import np_dtype, unsupported

_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _reorder(w: np.ndarray, mode: str) -> np.ndarray:
    order = _ORDER.get(mode)
    if order is None:
        return w
    parts = np.split(w, len(order), axis=0)
    return np.concatenate([parts[i] for i in order], axis=0)


def _sequence_lens(b, n, m, kw) -> str:
    """ONNX's sequence_lens (int32 [B]) from ``lengths=`` (a tensor) or a prefix ``mask=``, or ""."""
    lengths, mask = kw.pop("lengths", None), kw.pop("mask", None)
    if kw:
        raise unsupported(n, f"the keyword arguments {sorted(kw)}")
    if lengths is not None:
        if not isinstance(lengths, Value):
            raise unsupported(n, "lengths= as a Python list (pass an int64 tensor, an input of the model)")
        return b.op("Cast", [b.name(lengths)], to=TensorProto.INT32)
    if mask is not None:
        if not isinstance(mask, Value):
            raise unsupported(n, "mask= that is not a tensor")
        ints = b.op("Cast", [b.name(mask)], to=TensorProto.INT32)
        return b.op("ReduceSum", [ints, b.ints([1 if m.batch_first else 0])], keepdims=0)
    return ""


def _np(t) -> np.ndarray:
    return t.detach()._c.numpy().copy()


def _rnn(b, n, a):
    m = n.op
    mode = m.mode
    if getattr(m, "proj_size", 0):
        raise unsupported(n, "LSTM with proj_size (ONNX's LSTM has no projection)")
    kw = {k: v for k, v in n.kwargs.items() if v is not None}
    seq = _sequence_lens(b, n, m, kw)
    x_v = n.args[0]
    unbatched = len(x_v.shape) == 2  # [T, I]: run as a batch of one
    x = a[0]
    hx = a[1] if len(a) > 1 else None
    H, L, dirs = m.hidden_size, m.num_layers, 2 if m.bidirectional else 1
    dt = np_dtype(x_v.dtype)
    one = lambda t: b.op("Unsqueeze", [t, b.ints([1])]) if unbatched and t is not None else t  # noqa: E731
    x = one(x)
    if m.batch_first and not unbatched:
        x = b.op("Transpose", [x], perm=[1, 0, 2])
    h0 = c0 = None
    if hx is not None:
        if mode == "LSTM":
            h0, c0 = one(hx[0]), one(hx[1])
        else:
            h0 = one(hx)
    op_type = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    hs, cs = [], []
    layer_in = x
    for layer in range(L):
        Ws, Rs, Bs = [], [], []
        for d in range(dirs):
            k = layer * dirs + d
            w_ih, w_hh, b_ih, b_hh = m._layer_weights(k)
            Ws.append(_reorder(_np(w_ih), mode))
            Rs.append(_reorder(_np(w_hh), mode))
            G = _GATES[mode] * H
            bi = _reorder(_np(b_ih), mode) if b_ih is not None else np.zeros(G, dt)
            bh = _reorder(_np(b_hh), mode) if b_hh is not None else np.zeros(G, dt)
            Bs.append(np.concatenate([bi, bh]))
        prefix = f"{n.scope}.l{layer}" if n.scope else f"rnn.l{layer}"
        ins = [layer_in, b.initializer(np.stack(Ws).astype(dt), prefix + ".W"),
               b.initializer(np.stack(Rs).astype(dt), prefix + ".R"),
               b.initializer(np.stack(Bs).astype(dt), prefix + ".B"), seq]
        sl = [layer * dirs, (layer + 1) * dirs]
        ins.append("" if h0 is None else b.op("Slice", [h0, b.ints(sl[:1]), b.ints(sl[1:]), b.ints([0])]))
        if mode == "LSTM":
            ins.append("" if c0 is None else b.op("Slice", [c0, b.ints(sl[:1]), b.ints(sl[1:]), b.ints([0])]))
        while ins[-1] == "":
            ins.pop()
        attrs = dict(hidden_size=H, direction="bidirectional" if dirs == 2 else "forward")
        if mode == "GRU":
            attrs["linear_before_reset"] = 1
        if op_type == "RNN":
            attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * dirs
        outs = b.op(op_type, ins, n_out=3 if mode == "LSTM" else 2, **attrs)
        y = outs[0]  # [T, dirs, B, H] -> [T, B, dirs * H]
        y = b.op("Transpose", [y], perm=[0, 2, 1, 3])
        layer_in = b.op("Reshape", [y, b.ints([0, 0, dirs * H])])
        hs.append(outs[1])
        if mode == "LSTM":
            cs.append(outs[2])
    out = layer_in
    if m.batch_first and not unbatched:
        out = b.op("Transpose", [out], perm=[1, 0, 2])
    h_n = hs[0] if L == 1 else b.op("Concat", hs, axis=0)
    res = [out, h_n]
    if mode == "LSTM":
        res.append(cs[0] if L == 1 else b.op("Concat", cs, axis=0))
    if unbatched:
        res = [b.op("Squeeze", [t, b.ints([1])]) for t in res]
    return res


_OP_MODE = {"rnn_tanh": "RNN_TANH", "rnn_relu": "RNN_RELU", "lstm": "LSTM", "gru": "GRU"}


def _reorder_op(b, w, mode: str) -> str:
    """The gate blocks of a weight Value reordered with ONNX ops (Split + Concat), as [1, ...]."""
    order = _ORDER.get(mode)
    if order is not None:
        parts = b.op("Split", [w], n_out=len(order), axis=0, num_outputs=len(order) if b.opset >= 18 else None)
        w = b.op("Concat", [parts[i] for i in order], axis=0)
    return b.op("Unsqueeze", [w, b.ints([0])])


def _rnn_sequence(b, n, a):
    """F.rnn_sequence / F.rnn_cell (RNNCell, LSTMCell, GRUCell): one layer, one direction."""
    mode_s, lengths, reverse, x, hx, cx, w_ih, w_hh, b_ih, b_hh = a
    mode = _OP_MODE[mode_s]
    if lengths is not None:
        raise unsupported(n, "rnn_sequence with lengths")
    xv = n.args[3]
    cell = len(xv.shape) == 2
    H = n.args[7].shape[1]
    G = _GATES[mode] * H
    dt = np_dtype(xv.dtype)
    if cell:
        x = b.op("Unsqueeze", [x, b.ints([0])])
    zeros = b.const(np.zeros(G, dt), hint="zero_bias")
    bias = b.op("Concat", [_reorder_op(b, b_ih if b_ih is not None else zeros, mode),
                           _reorder_op(b, b_hh if b_hh is not None else zeros, mode)], axis=1)
    ins = [x, _reorder_op(b, w_ih, mode), _reorder_op(b, w_hh, mode), bias, "",
           b.op("Unsqueeze", [hx, b.ints([0])])]
    if mode == "LSTM":
        ins.append(b.op("Unsqueeze", [cx, b.ints([0])]))
    attrs = dict(hidden_size=int(H), direction="reverse" if reverse else "forward")
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    op_type = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    if op_type == "RNN":
        attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"]
    outs = b.op(op_type, ins, n_out=3 if mode == "LSTM" else 2, **attrs)
    sq = lambda t, ax: b.op("Squeeze", [t, b.ints([ax])])  # noqa: E731
    h = sq(outs[1], 0)
    c = sq(outs[2], 0) if mode == "LSTM" else None
    if cell:
        return [h] + ([c] if c is not None else [])
    return [sq(outs[0], 1), h] + ([c] if c is not None else [])


CONVERTERS: dict = {RNN: _rnn, LSTM: _rnn, GRU: _rnn}
OP_CONVERTERS: dict = {RnnSequence: _rnn_sequence}
