"""Variable-length batches for the recurrent layers: ``PackedSequence`` and PyTorch's helpers
(pack_padded_sequence, pad_packed_sequence, pad_sequence, pack_sequence, unpad_sequence,
unpack_sequence) with PyTorch's arguments, shapes, values and errors.

A PackedSequence exposes PyTorch's four fields (``data`` in PyTorch's packed layout: the valid
steps time-major, rows within a step in descending-length order; ``batch_sizes``,
``sorted_indices``, ``unsorted_indices``). Internally the recurrent layers work on a padded
time-major batch in the original row order, so a PackedSequence also keeps that padded tensor and
the lengths, and builds whichever view is missing with one differentiable ``index_select``.
"""
from __future__ import annotations

import numpy as np

from ... import _dtype as D
from ...ops.creation import full, tensor
from ...ops.indexing import index_select
from ...ops.join import cat, stack
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence"]


def _lengths_np(lengths, where: str) -> np.ndarray:
    """Lengths (list, tuple, numpy array or int64 Tensor) as a 1-D numpy int64 array."""
    if isinstance(lengths, Tensor):
        if lengths.dtype.is_floating_point:
            raise TypeError(f"{where}: expected integer lengths, got a {lengths.dtype} tensor")
        arr = lengths.detach().cpu().numpy()
    else:
        arr = np.asarray(lengths)
        if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
            raise TypeError(f"{where}: expected integer lengths, got {arr.tolist()}")
        if arr.dtype.kind not in "iuf" and arr.size:
            raise TypeError(f"{where}: expected integer lengths, got {type(lengths).__name__}")
    arr = arr.astype(np.int64).reshape(-1) if arr.ndim <= 1 else None
    if arr is None:
        raise ValueError(f"{where}: expected a 1-D sequence of lengths, got shape {list(np.shape(lengths))}")
    return arr


def _idx(a: np.ndarray, device) -> Tensor:
    return tensor(np.ascontiguousarray(a, dtype=np.int64), dtype=D.int64, device=device)


def _invert_permutation(p: np.ndarray) -> np.ndarray:
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size, dtype=p.dtype)
    return inv


class PackedSequence:
    """A batch of variable-length sequences, as returned by ``pack_padded_sequence`` and accepted
    by ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``. Unpacks like PyTorch's named tuple:
    ``data, batch_sizes, sorted_indices, unsorted_indices = packed``.

    ``data`` has PyTorch's packed layout ``[sum(lengths), *]``; build one from such a ``data``
    and ``batch_sizes`` like PyTorch (``PackedSequence(data, batch_sizes, sorted_indices)``).
    """

    def __init__(self, data: Tensor | None = None, batch_sizes=None, sorted_indices=None,
                 unsorted_indices=None) -> None:
        if data is None or batch_sizes is None:
            raise TypeError("PackedSequence: expected data and batch_sizes (build one with "
                            "nn.utils.rnn.pack_padded_sequence)")
        if not isinstance(data, Tensor):
            raise TypeError(f"PackedSequence: data must be a Tensor, got {type(data).__name__}")
        bs = _lengths_np(batch_sizes, "PackedSequence")
        if bs.size == 0 or np.any(bs <= 0) or np.any(np.diff(bs) > 0):
            raise ValueError(f"PackedSequence: batch_sizes must be positive and non-increasing, got {bs.tolist()}")
        if data.ndim == 0 or data.shape[0] != int(bs.sum()):
            raise ValueError(f"PackedSequence: data has {data.shape[0] if data.ndim else 0} rows but "
                             f"batch_sizes {bs.tolist()} sum to {int(bs.sum())}")
        B = int(bs[0])
        sorted_np = None if sorted_indices is None else _lengths_np(sorted_indices, "PackedSequence")
        unsorted_np = None if unsorted_indices is None else _lengths_np(unsorted_indices, "PackedSequence")
        if sorted_np is not None and unsorted_np is None:
            unsorted_np = _invert_permutation(sorted_np)
        if sorted_np is None and unsorted_np is not None:
            sorted_np = _invert_permutation(unsorted_np)
        for name, p in (("sorted_indices", sorted_np), ("unsorted_indices", unsorted_np)):
            if p is not None and (p.size != B or not np.array_equal(np.sort(p), np.arange(B))):
                raise ValueError(f"PackedSequence: {name} must be a permutation of range({B}), got {p.tolist()}")
        lengths_sorted = (bs[None, :] > np.arange(B)[:, None]).sum(1)
        lengths = lengths_sorted if unsorted_np is None else lengths_sorted[unsorted_np]
        self._init(bs, lengths, sorted_np, unsorted_np, data.device)
        self._data = data
        self._padded = None
        self._clean = False

    # ---- internal construction ----
    def _init(self, bs, lengths, sorted_np, unsorted_np, device) -> None:
        self._bs = bs
        self._lengths = lengths
        self._sorted = sorted_np
        self._unsorted = unsorted_np
        self.batch_sizes = tensor(bs.astype(np.int64), dtype=D.int64)
        self.sorted_indices = None if sorted_np is None else _idx(sorted_np, device)
        self.unsorted_indices = None if unsorted_np is None else _idx(unsorted_np, device)

    @classmethod
    def _from_padded(cls, padded: Tensor, lengths: np.ndarray, sorted_np, unsorted_np, clean: bool) -> "PackedSequence":
        """``padded`` is time-major ``[max(lengths), B, *]`` in the original row order; ``clean``
        says its steps past each row's length are already 0."""
        self = cls.__new__(cls)
        order = np.arange(lengths.size) if sorted_np is None else sorted_np
        T = int(lengths.max())
        bs = (lengths[order][None, :] > np.arange(T)[:, None]).sum(1).astype(np.int64)
        self._init(bs, lengths, sorted_np, unsorted_np, padded.device)
        self._data = None
        self._padded = padded
        self._clean = clean
        return self

    def _packed_index(self) -> np.ndarray:
        """For each row of ``data``: its flat index t * B + b in the padded [T, B] grid."""
        B = self._lengths.size
        order = np.arange(B) if self._sorted is None else self._sorted
        T = self._bs.size
        t, j = np.nonzero(self._lengths[order][None, :] > np.arange(T)[:, None])
        return t * B + order[j]

    @property
    def data(self) -> Tensor:
        if self._data is None:
            T, B = self._padded.shape[0], self._padded.shape[1]
            flat = self._padded.reshape(T * B, *self._padded.shape[2:])
            self._data = index_select(flat, 0, _idx(self._packed_index(), flat.device))
        return self._data

    def _padded_time_major(self, padding_value: float | None = None) -> Tensor:
        """``[max(lengths), B, *]`` in the original row order. With ``padding_value`` None the
        padded steps may hold anything (the recurrent layers never read them)."""
        if self._padded is not None and (padding_value is None or (self._clean and padding_value == 0)):
            return self._padded
        data = self.data
        T, B = self._bs.size, self._lengths.size
        n = data.shape[0]
        inv = np.full(T * B, n, dtype=np.int64)
        inv[self._packed_index()] = np.arange(n)
        pad_row = full((1, *data.shape[1:]), 0.0 if padding_value is None else padding_value,
                       dtype=data.dtype, device=data.device)
        padded = index_select(cat([data, pad_row], 0), 0, _idx(inv, data.device))
        padded = padded.reshape(T, B, *data.shape[1:])
        if padding_value is None:
            self._padded, self._clean = padded, True
        return padded

    # ---- PyTorch's named-tuple surface ----
    def __iter__(self):
        return iter((self.data, self.batch_sizes, self.sorted_indices, self.unsorted_indices))

    def __getitem__(self, i):
        return tuple(self)[i]

    def __len__(self) -> int:
        return 4

    @property
    def is_cuda(self) -> bool:
        return (self._data if self._data is not None else self._padded).is_cuda

    def to(self, *args, **kwargs) -> "PackedSequence":
        """The same sequences with ``data`` moved/cast (``batch_sizes`` stays on the CPU)."""
        out = type(self).__new__(type(self))
        out._init(self._bs, self._lengths, self._sorted, self._unsorted, None)
        out._data = None if self._data is None else self._data.to(*args, **kwargs)
        out._padded = None if self._padded is None else self._padded.to(*args, **kwargs)
        out._clean = self._clean
        dev = (out._data if out._data is not None else out._padded).device
        out.sorted_indices = None if self._sorted is None else _idx(self._sorted, dev)
        out.unsorted_indices = None if self._unsorted is None else _idx(self._unsorted, dev)
        return out

    def cpu(self) -> "PackedSequence":
        return self.to("cpu")

    def cuda(self, device=None) -> "PackedSequence":
        return self.to("cuda" if device is None else f"cuda:{device}")

    def float(self) -> "PackedSequence":
        return self.to(D.float32)

    def double(self) -> "PackedSequence":
        return self.to(D.float64)

    def __repr__(self) -> str:
        return (f"PackedSequence(data={self.data!r}, batch_sizes={self.batch_sizes!r}, "
                f"sorted_indices={self.sorted_indices!r}, unsorted_indices={self.unsorted_indices!r})")


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded batch ``[T, B, *]`` (``[B, T, *]`` with ``batch_first``) of sequences with
    the given ``lengths`` (B ints in [1, T]). With ``enforce_sorted`` the lengths must be in
    decreasing order; otherwise they are sorted here and ``unsorted_indices`` restores the order.

    PyTorch: ``torch.nn.utils.rnn.pack_padded_sequence``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pack_padded_sequence: expected a Tensor input, got {type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expected input of at least 2 dims ([T, B, *]), "
                         f"got shape {list(input.shape)}")
    lengths = _lengths_np(lengths, "pack_padded_sequence")
    x = input.transpose(0, 1) if batch_first else input
    T, B = x.shape[0], x.shape[1]
    if lengths.size != B:
        raise ValueError(f"pack_padded_sequence: expected {B} lengths (batch size of input shape "
                         f"{list(input.shape)}), got {lengths.size}")
    if B == 0:
        raise ValueError("pack_padded_sequence: cannot pack an empty batch")
    if np.any(lengths <= 0):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in "
                           f"'lengths' that is <= 0 (lengths {lengths.tolist()})")
    if np.any(lengths > T):
        raise RuntimeError(f"pack_padded_sequence: lengths {lengths.tolist()} exceed the sequence length "
                           f"{T} of input shape {list(input.shape)}")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                               "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                               "pack_sequence to sidestep this requirement if you do not need ONNX "
                               f"exportability (lengths {lengths.tolist()}).")
        sorted_np = unsorted_np = None
    else:
        sorted_np = np.argsort(-lengths, kind="stable").astype(np.int64)
        unsorted_np = _invert_permutation(sorted_np)
    Tmax = int(lengths.max())
    if Tmax < T:
        x = x[:Tmax]
    return PackedSequence._from_padded(x, lengths, sorted_np, unsorted_np, clean=False)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None):
    """Inverse of ``pack_padded_sequence``: returns ``(padded, lengths)`` with padded
    ``[T, B, *]`` (``[B, T, *]`` with ``batch_first``), T = max(lengths) or ``total_length``, rows in
    the original order, padded steps set to ``padding_value``; lengths is an int64 tensor.

    PyTorch: ``torch.nn.utils.rnn.pad_packed_sequence``.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")

    out = sequence._padded_time_major(float(padding_value))
    T = out.shape[0]
    if total_length is not None:
        total_length = int(total_length)
        if total_length < T:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in "
                             f"input, but got total_length={total_length} and max sequence length being {T}")
        if total_length > T:
            extra = full((total_length - T, *out.shape[1:]), float(padding_value), dtype=out.dtype, device=out.device)
            out = cat([out, extra], 0)
    if batch_first:
        out = out.transpose(0, 1)
    return out, tensor(sequence._lengths.copy(), dtype=D.int64)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stacks tensors ``[L_i, *]`` into ``[max L, B, *]`` (``[B, max L, *]`` with ``batch_first``),
    filling the missing steps (after each sequence, or before with ``padding_side='left'``).

    PyTorch: ``torch.nn.utils.rnn.pad_sequence``.
    """
    if isinstance(sequences, Tensor):
        sequences = [sequences[i] for i in range(sequences.shape[0])]
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: sequence {i} is a {type(s).__name__}, expected a Tensor")
        if s.ndim == 0:
            raise ValueError(f"pad_sequence: sequence {i} is a 0-d tensor; expected shape [L, *]")
    trailing = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if tuple(s.shape[1:]) != trailing:
            raise ValueError(f"pad_sequence: sequence {i} has shape {list(s.shape)} but sequence 0 has "
                             f"{list(sequences[0].shape)}; all must agree after the first dimension")
    L = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        n = L - s.shape[0]
        if n:
            pad = full((n, *trailing), float(padding_value), dtype=s.dtype, device=s.device)
            s = cat([s, pad] if padding_side == "right" else [pad, s], 0)
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of tensors ``[L_i, *]`` (longest first unless ``enforce_sorted=False``).

    PyTorch: ``torch.nn.utils.rnn.pack_sequence``.
    """
    sequences = list(sequences)
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """Splits a padded batch back into a list of tensors ``[L_i, *]``.

    PyTorch: ``torch.nn.utils.rnn.unpad_sequence``.
    """
    lengths = _lengths_np(lengths, "unpad_sequence")
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    if lengths.size != x.shape[0]:
        raise ValueError(f"unpad_sequence: expected {x.shape[0]} lengths, got {lengths.size}")
    return [x[i, :int(n)] for i, n in enumerate(lengths)]


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of tensors ``[L_i, *]`` held by a PackedSequence, in the original order.

    PyTorch: ``torch.nn.utils.rnn.unpack_sequence``.
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
