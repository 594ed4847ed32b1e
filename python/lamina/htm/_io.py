"""Shared helpers for lamina.htm: converting SDR inputs (NumPy arrays, lamina tensors, index
lists) to the C++ core's arrays and back, and checking constructor arguments."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ops.creation import from_numpy
from ..tensor import Tensor


def dims(value: Any, name: str, owner: str) -> tuple[int, ...]:
    """An int or a sequence of ints -> a tuple of positive ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),)
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{owner}: {name} must be an int or a sequence of ints, got {value!r}") from None
    if not out or any(v <= 0 for v in out):
        raise ValueError(f"{owner}: {name} must be non-empty and positive, got {value!r}")
    return out


def to_numpy(x: Any) -> tuple[np.ndarray, bool]:
    """(array, was_tensor)."""
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy(), True
    return np.asarray(x), False


def binary_input(x: Any, shape: Sequence[int], owner: str) -> tuple[np.ndarray, bool]:
    """A 0/1 (or bool) array of ``shape`` (or flat with the same size) -> flat uint8 array."""
    arr, was_tensor = to_numpy(x)
    n = int(np.prod(shape))
    if arr.shape != tuple(shape) and arr.shape != (n,):
        raise ValueError(f"{owner}: input of shape {arr.shape} does not match the expected "
                         f"{tuple(shape)} ({n} bits)")
    if arr.dtype != np.bool_:
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{owner}: input must be a boolean or 0/1 numeric array, got {arr.dtype}")
        if np.any((arr != 0) & (arr != 1)):
            raise ValueError(f"{owner}: input must hold only 0 and 1")
    return np.ascontiguousarray(arr.reshape(-1), dtype=np.uint8), was_tensor


def column_indices(x: Any, num_columns: int, owner: str) -> np.ndarray:
    """A boolean mask over the columns, or integer column indices -> sorted unique int32."""
    arr, _ = to_numpy(x)
    if arr.dtype == np.bool_:
        if arr.size != num_columns:
            raise ValueError(f"{owner}: a column mask must have {num_columns} entries, got shape "
                             f"{arr.shape}")
        return np.flatnonzero(arr.reshape(-1)).astype(np.int32)
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{owner}: active columns must be a boolean mask or integer indices, "
                        f"got dtype {arr.dtype}")
    idx = np.unique(arr.reshape(-1).astype(np.int64))
    if idx.size and (idx[0] < 0 or idx[-1] >= num_columns):
        raise ValueError(f"{owner}: column index {int(idx[0] if idx[0] < 0 else idx[-1])} is out "
                         f"of range for {num_columns} columns")
    return idx.astype(np.int32)


def output(mask: np.ndarray, as_tensor: bool) -> Any:
    return from_numpy(mask) if as_tensor else mask


def mask_from_indices(idx: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[idx] = True
    return out
