"""Argument normalisation shared by the conv/pool functionals (lamina.ops) and the nn layers:
ints or sequences to n-tuples, and convolution padding ('same', 'valid', an int or a tuple).
One helper for both, so F.conv2d and nn.Conv2d cannot drift apart; it lives in ops so that nn
imports it downward."""
from __future__ import annotations

import numbers
from typing import Union

PADDING_STRINGS = ("valid", "same")


def _is_int(a) -> bool:
    return isinstance(a, numbers.Integral) and not isinstance(a, bool)


def ntuple(v, n: int, name: str, op: str) -> tuple:
    """An int (repeated) or a sequence of n ints (a 1-sequence is repeated too, like torch).
    TypeError for a value that is not an int or a sequence of ints (a string included),
    ValueError for a sequence of the wrong length."""
    if _is_int(v):
        return (int(v),) * n
    if isinstance(v, (tuple, list)) and all(_is_int(a) for a in v):
        if len(v) == n:
            return tuple(int(a) for a in v)
        if len(v) == 1:
            return (int(v[0]),) * n
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    if isinstance(v, str):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r} "
                        f"(string padding 'same'/'valid' is only accepted by convolutions, not by "
                        f"transposed convolutions or pooling, as in PyTorch)")
    raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")


def single(v, name: str = "value", op: str = "") -> tuple:
    return ntuple(v, 1, name, op)


def pair(v, name: str = "value", op: str = "") -> tuple:
    return ntuple(v, 2, name, op)


def conv_padding(padding, n: int, op: str, stride: tuple) -> Union[str, tuple]:
    """'valid' or 'same' (kept as the string, as PyTorch's modules keep it), or an n-tuple of ints.
    'same' with a stride other than 1 is refused, with PyTorch's message."""
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                             f"(stride {tuple(stride)})")
        return padding
    return ntuple(padding, n, "padding", op)


def same_padding(kernel_size: tuple, dilation: tuple) -> tuple:
    """(left, right) padding per axis for padding='same' at stride 1: dilation*(k-1) in total,
    the odd one on the right (bottom), as PyTorch does for even kernels."""
    total = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
    left = tuple(t // 2 for t in total)
    return left, tuple(t - lo for t, lo in zip(total, left))
