"""Recurrent layers (RNN, LSTM, GRU and their cells) with PyTorch's arguments and weight layout.

Each layer and direction runs as one ``rnn_sequence`` op (the whole time loop in C++, see
lamina/ops/rnn.py); this file checks arguments, owns the parameters (PyTorch's names, order and
U(-1/sqrt(H), 1/sqrt(H)) init, so PyTorch state_dicts load as they are), stacks layers, joins the
two directions and applies dropout between layers. Variable-length batches come as a
PackedSequence or, as lamina extensions, ``lengths=`` / ``mask=``.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ... import _dtype as D
from ...ops import rnn as _ops
from ...ops.creation import empty, tensor, zeros
from ...ops.join import cat, stack
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, _lengths_np

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_OP_MODE = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}


def _check_size(name: str, what: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name}: {what} should be of type int, got: {type(v).__name__}")
    if v <= 0:
        raise ValueError(f"{name}: {what} must be greater than zero, got {v}")
    return int(v)


class RNNBase(Module):
    """Shared machinery of RNN / LSTM / GRU (``mode`` is 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU').

    PyTorch: ``torch.nn.RNNBase``.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        name = "LSTM" if mode == "LSTM" else "GRU" if mode == "GRU" else "RNN"
        self.mode = mode
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.num_layers = _check_size(name, "num_layers", num_layers)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability "
                             f"of an element being zeroed, got {dropout!r}")
        self.dropout = float(dropout)
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}")
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral) or proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a positive integer or zero to disable projections, "
                             f"got {proj_size!r}")
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size={proj_size} (LSTM with projections) is not supported "
                                      "by lamina yet; use proj_size=0 and an nn.Linear on the output")
        self.proj_size = 0
        G, H = _GATES[mode], self.hidden_size
        dt = D.get_default_dtype() if dtype is None else dtype
        num_dir = 2 if self.bidirectional else 1
        self._flat_weights_names: list = []
        self._all_weights: list = []
        for layer in range(self.num_layers):
            for direction in range(num_dir):
                in_size = self.input_size if layer == 0 else H * num_dir
                sfx = "_reverse" if direction == 1 else ""
                names = [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}"]
                shapes = [(G * H, in_size), (G * H, H)]
                if self.bias:
                    names += [f"bias_ih_l{layer}{sfx}", f"bias_hh_l{layer}{sfx}"]
                    shapes += [(G * H,), (G * H,)]
                for n, s in zip(names, shapes):
                    setattr(self, n, Parameter(empty(*s, dtype=dt, device=device)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """No-op (PyTorch compacts cuDNN weights here; lamina's weights are always usable)."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _layer_weights(self, k: int) -> tuple:
        ws = [getattr(self, n) for n in self._all_weights[k]]
        return (ws[0], ws[1], ws[2], ws[3]) if self.bias else (ws[0], ws[1], None, None)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # ---- argument handling ----
    def _variable_lengths(self, lengths, mask, T: int, B: int):
        """Lengths (numpy int64 [B]) from ``lengths=`` or a prefix ``mask=``, or None."""
        name = self._name
        if lengths is not None and mask is not None:
            raise ValueError(f"{name}: pass lengths= or mask=, not both")
        if mask is not None:
            m = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)
            expected = [B, T] if self.batch_first else [T, B]
            if list(m.shape) != expected:
                layout = "[B, T] (batch_first=True)" if self.batch_first else "[T, B] (batch_first=False)"
                raise ValueError(f"{name}: expected mask of shape {expected} ({layout}), got {list(m.shape)}")
            if m.dtype != np.bool_:
                if not np.all((m == 0) | (m == 1)):
                    raise ValueError(f"{name}: mask must be boolean (True = valid step)")
                m = m.astype(bool)
            mt = m.T if self.batch_first else m
            lens = mt.sum(0).astype(np.int64)
            prefix = np.arange(T)[:, None] < lens[None, :]
            if not np.array_equal(mt, prefix):
                bad = int(np.nonzero(np.any(mt != prefix, axis=0))[0][0])
                raise ValueError(f"{name}: mask must be a prefix mask (each row True for its first steps, then "
                                 f"False); row {bad} is {mt[:, bad].astype(int).tolist()}")
            if np.any(lens == 0):
                raise ValueError(f"{name}: every sequence needs at least one valid step; mask row "
                                 f"{int(np.argmin(lens))} has none")
            return lens
        if lengths is None:
            return None
        lens = _lengths_np(lengths, name)
        if lens.size != B:
            raise ValueError(f"{name}: expected {B} lengths (one per batch row), got {lens.size}")
        if np.any(lens < 1) or np.any(lens > T):
            raise ValueError(f"{name}: lengths must lie in [1, {T}] (the sequence length), got {lens.tolist()}")
        return lens

    def _initial_state(self, hx, x: Tensor, unbatched: bool):
        """(h0, c0) as [L*D, B, H] tensors (c0 None unless LSTM), checked against the input."""
        name, lstm = self._name, self.mode == "LSTM"
        L = self.num_layers * (2 if self.bidirectional else 1)
        B, H = x.shape[1], self.hidden_size
        expected = [L, H] if unbatched else [L, B, H]
        if hx is None:
            h0 = zeros(L, B, H, dtype=x.dtype, device=x.device)
            return h0, (zeros(L, B, H, dtype=x.dtype, device=x.device) if lstm else None)
        if lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2 or not all(isinstance(t, Tensor) for t in hx):
                raise TypeError(f"{name}: expected hx to be a tuple (h_0, c_0) of tensors, got {type(hx).__name__}")
            states = [("hidden", hx[0]), ("cell state", hx[1])]
        else:
            if not isinstance(hx, Tensor):
                raise TypeError(f"{name}: expected hx to be a Tensor, got {type(hx).__name__}")
            states = [("hidden", hx)]
        out = []
        for what, t in states:
            if unbatched and t.ndim != 2:
                raise ValueError(f"{name}: for unbatched 2-D input, the {what} state should also be 2-D "
                                 f"{expected}, got {t.ndim}-D tensor of shape {list(t.shape)}")
            if not unbatched and t.ndim != 3:
                raise ValueError(f"{name}: for batched 3-D input, the {what} state should also be 3-D "
                                 f"{expected}, got {t.ndim}-D tensor of shape {list(t.shape)}")
            if list(t.shape) != expected:
                raise ValueError(f"{name}: expected {what} size {expected}, got {list(t.shape)}")
            if t.dtype != x.dtype:
                raise TypeError(f"{name}: expected the {what} state of dtype {x.dtype} (the input's), got {t.dtype}")
            out.append(t.unsqueeze(1) if unbatched else t)
        return out[0], (out[1] if lstm else None)

    def forward(self, input, hx=None, *, lengths=None, mask=None):
        """``input``: ``[T, B, input_size]`` (``[B, T, input_size]`` with ``batch_first``), an
        unbatched ``[T, input_size]``, or a PackedSequence. ``hx``: ``[num_layers * num_directions,
        B, hidden_size]`` (LSTM: a tuple ``(h_0, c_0)``), zeros by default.

        lamina extensions for padded variable-length batches: ``lengths`` (B ints in [1, T]) or
        ``mask`` (bool, ``[B, T]`` with ``batch_first`` else ``[T, B]``, True = valid, a prefix in
        each row). Steps past a row's length give 0 in the output and leave the state alone, so
        ``h_n`` holds each row's last valid state (the reverse direction starts at the row's last
        valid step), exactly as with a PackedSequence.

        Returns ``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``); output is
        ``[T, B, num_directions * hidden_size]`` in the input's layout, a PackedSequence for a
        PackedSequence input."""
        name, I = self._name, self.input_size
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None or mask is not None:
                raise ValueError(f"{name}: lengths= / mask= cannot be combined with a PackedSequence input "
                                 "(it carries its own lengths)")
            x = input._padded_time_major()
            if x.ndim != 3 or x.shape[-1] != I:
                raise ValueError(f"{name}: expected input of size {I} in the last dimension, got PackedSequence "
                                 f"data of shape {list(input.data.shape)}")
            unbatched, lens = False, input._lengths
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}: expected a Tensor or PackedSequence input, got {type(input).__name__}")
            if input.ndim not in (2, 3):
                raise ValueError(f"{name}: expected input to be 2-D (unbatched [T, {I}]) or 3-D (batched), got "
                                 f"{input.ndim}-D input of shape {list(input.shape)}")
            if input.shape[-1] != I:
                raise ValueError(f"{name}: expected input of size {I} in the last dimension, got {list(input.shape)}")
            unbatched = input.ndim == 2
            if unbatched and (lengths is not None or mask is not None):
                raise ValueError(f"{name}: lengths= / mask= need batched 3-D input, got shape {list(input.shape)}")
            x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
            if x.shape[0] == 0:
                raise ValueError(f"{name}: expected a sequence of at least one step, got input of shape "
                                 f"{list(input.shape)}")
            lens = self._variable_lengths(lengths, mask, x.shape[0], x.shape[1])
        w0 = self.weight_ih_l0
        if x.dtype != w0.dtype:
            raise TypeError(f"{name}: expected input of dtype {w0.dtype} (the parameters' dtype), got {x.dtype}")
        h0, c0 = self._initial_state(hx, x, unbatched)
        T = x.shape[0]
        lens_arg = None if lens is None or np.all(lens == T) else tensor(lens, dtype=D.int64)

        num_dir = 2 if self.bidirectional else 1
        mode = _OP_MODE[self.mode]
        layer_in, hs, cs = x, [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(num_dir):
                k = layer * num_dir + d
                out, h_n, c_n = _ops.rnn_sequence(mode, layer_in, h0[k], None if c0 is None else c0[k],
                                                  *self._layer_weights(k), lengths=lens_arg, reverse=d == 1)
                outs.append(out)
                hs.append(h_n)
                cs.append(c_n)
            layer_in = outs[0] if num_dir == 1 else cat(outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        # one layer and direction: h_n / c_n as views of the kernel's own (no stack copy and node)
        one = len(hs) == 1
        output, h_n = layer_in, (hs[0].unsqueeze(0) if one else stack(hs, 0))
        c_n = None if c0 is None else (cs[0].unsqueeze(0) if one else stack(cs, 0))

        if packed:
            output = PackedSequence._from_padded(output, input._lengths, input._sorted, input._unsorted, clean=True)
        elif unbatched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if self.mode == "LSTM" else (output, h_n)

    # ---- printing ----
    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def describe(self) -> str:
        s = f"{self._name} {self.input_size}->{self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bidirectional:
            s += ", bidirectional"
        if self.batch_first:
            s += ", batch_first"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu with
    ``nonlinearity='relu'``), stacked ``num_layers`` deep, optionally bidirectional.

    PyTorch: ``torch.nn.RNN``; Keras: ``keras.layers.SimpleRNN``. Shapes as :class:`LSTM` without the
    cell state: ``forward(x, h0=None)`` returns ``(output, h_n)``.

    Example::

        rnn = nn.RNN(8, 16, num_layers=2, nonlinearity="relu")
        out, h_n = rnn(lamina.randn(5, 3, 8))            # out (5, 3, 16), h_n (2, 3, 16)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"RNN: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o in PyTorch's order); ``forward`` returns
    ``(output, (h_n, c_n))``. ``proj_size`` > 0 is not supported yet.

    PyTorch: ``torch.nn.LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)`` — the same weight names and layouts (``weight_ih_l0``
    (4*hidden, input), ``weight_hh_l0`` (4*hidden, hidden), biases (4*hidden,)), so a torch
    ``state_dict`` loads as it is; Keras: ``keras.layers.LSTM`` (one layer, batch first). Shapes (D = 2
    if bidirectional else 1): input (L, N, H_in), or (N, L, H_in) with ``batch_first``, or unbatched
    (L, H_in); ``output`` (L, N, D*H_out); ``h_n`` and ``c_n`` (D*num_layers, N, H_out). Extras:
    ``lengths=`` or ``mask=`` for padded batches, and PackedSequence input.

    Example::

        lstm = nn.LSTM(64, 128, num_layers=2, batch_first=True)
        out, (h_n, c_n) = lstm(lamina.randn(4, 35, 64))   # out (4, 35, 128), h_n (2, 4, 128)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n in PyTorch's order, b_hn inside the reset product).

    PyTorch: ``torch.nn.GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)`` with its weight names and layouts (``weight_ih_l0``
    (3*hidden, input), ``weight_hh_l0`` (3*hidden, hidden)); Keras: ``keras.layers.GRU(...,
    reset_after=True)``. Shapes as :class:`LSTM` without the cell state: ``forward(x, h0=None)``
    returns ``(output, h_n)``.

    Example::

        gru = nn.GRU(16, 32, batch_first=True)
        out, h_n = gru(lamina.randn(4, 10, 16))          # out (4, 10, 32), h_n (1, 4, 32)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


# ---- single-step cells ----
class RNNCellBase(Module):
    """One recurrent step with parameters weight_ih [G*H, I], weight_hh [G*H, H], bias_ih, bias_hh.

    PyTorch: ``torch.nn.RNNCellBase``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        dt = D.get_default_dtype() if dtype is None else dtype
        G, H = num_chunks, self.hidden_size
        self.weight_ih = Parameter(empty(G * H, self.input_size, dtype=dt, device=device))
        self.weight_hh = Parameter(empty(G * H, H, dtype=dt, device=device))
        if self.bias:
            self.bias_ih = Parameter(empty(G * H, dtype=dt, device=device))
            self.bias_hh = Parameter(empty(G * H, dtype=dt, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _check_input(self, input) -> bool:
        """Checks input; returns True when it is unbatched (1-D)."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead "
                             f"(shape {list(input.shape)})")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of size {self.input_size} in the last dimension, "
                             f"got {list(input.shape)}")
        if input.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: expected input of dtype {self.weight_ih.dtype} (the parameters' dtype), "
                            f"got {input.dtype}")
        return input.ndim == 1

    def _state(self, t, x: Tensor, unbatched: bool, what: str = "hidden"):
        name = type(self).__name__
        expected = [self.hidden_size] if unbatched else [x.shape[0], self.hidden_size]
        if t is None:
            return zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected the {what} state to be a Tensor, got {type(t).__name__}")
        if list(t.shape) != expected:
            raise ValueError(f"{name}: expected {what} size {expected}, got {list(t.shape)}")
        if t.dtype != x.dtype:
            raise TypeError(f"{name}: expected the {what} state of dtype {x.dtype} (the input's), got {t.dtype}")
        return t.unsqueeze(0) if unbatched else t

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def describe(self) -> str:
        return f"{type(self).__name__} {self.input_size}->{self.hidden_size}"


class RNNCell(RNNCellBase):
    """``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu); input ``[B, I]`` or ``[I]``.

    PyTorch: ``torch.nn.RNNCell``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity: {nonlinearity}. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        unbatched = self._check_input(input)
        x = input.unsqueeze(0) if unbatched else input
        h = self._state(hx, x, unbatched)
        h_new, _ = _ops.rnn_cell("rnn_" + self.nonlinearity, x, h, None, self.weight_ih, self.weight_hh,
                                 self.bias_ih, self.bias_hh)
        return h_new.squeeze(0) if unbatched else h_new


class LSTMCell(RNNCellBase):
    """One LSTM step; ``hx`` is a tuple ``(h, c)``; returns ``(h', c')``.

    PyTorch: ``torch.nn.LSTMCell``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx=None):
        unbatched = self._check_input(input)
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            h = c = None
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTMCell: expected hx to be a tuple (h, c) of tensors, got {type(hx).__name__}")
            h, c = hx
        h = self._state(h, x, unbatched)
        c = self._state(c, x, unbatched, "cell state")
        h_new, c_new = _ops.rnn_cell("lstm", x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h_new.squeeze(0), c_new.squeeze(0)) if unbatched else (h_new, c_new)


class GRUCell(RNNCellBase):
    """One GRU step; input ``[B, I]`` or ``[I]``; returns ``h'``.

    PyTorch: ``torch.nn.GRUCell``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        unbatched = self._check_input(input)
        x = input.unsqueeze(0) if unbatched else input
        h = self._state(hx, x, unbatched)
        h_new, _ = _ops.rnn_cell("gru", x, h, None, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h_new.squeeze(0) if unbatched else h_new
