"""Datasets with PyTorch's semantics: map-style ``Dataset`` (``__getitem__``/``__len__``),
``IterableDataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset`` and ``random_split``.

A dataset may also define ``_batch(idx)``: given an int64 numpy array of indices it returns the
already-collated batch in one gather. ``DataLoader`` uses it (with the default collate) instead of
fetching and stacking sample by sample, which dominates the cost of small models otherwise.
"""
from __future__ import annotations

import bisect
import math
import numbers
from typing import Iterable, Sequence

import numpy as np

from ..ops.creation import as_tensor, from_numpy
from ..tensor import Tensor
from .sampler import Generator, randperm


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(i)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream-style dataset: subclasses define ``__iter__``. ``DataLoader`` batches what it yields
    (no sampler, no shuffling)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other: "IterableDataset") -> "ChainDataset":
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several iterable datasets one after another."""

    def __init__(self, datasets: Iterable[IterableDataset]) -> None:
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            yield from d


def _as_tensor(t, where: str) -> Tensor:
    if isinstance(t, Tensor):
        return t
    if isinstance(t, np.ndarray):
        return as_tensor(t if t.dtype.kind not in "iu" else t.astype(np.int64))
    raise TypeError(f"{where}: expected lamina tensors (or numpy arrays), got {type(t).__name__}")


def _gather_rows(t: Tensor, idx: np.ndarray) -> Tensor | None:
    """Rows ``idx`` of ``t`` as a new tensor in one numpy gather (None when ``t`` is not on the CPU)."""
    if t.device != "cpu":
        return None
    arr = t.detach().numpy()
    n = len(idx)
    if n and idx[-1] - idx[0] == n - 1 and (n == 1 or bool(np.all(np.diff(idx) == 1))):
        out = arr[idx[0]:idx[0] + n].copy()  # a contiguous run: a slice copy beats a gather
    else:
        out = np.take(arr, idx, axis=0)
    return from_numpy(np.ascontiguousarray(out))


class TensorDataset(Dataset):
    """Samples are ``(t0[i], t1[i], ...)`` for tensors that share their first dimension."""

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(_as_tensor(t, "TensorDataset") for t in tensors)
        for k, t in enumerate(self.tensors):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {k} is 0-d; every tensor needs a first (sample) dimension")
        sizes = [t.shape[0] for t in self.tensors]
        if any(s != sizes[0] for s in sizes):
            shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes} "
                             f"(shapes {shapes}) must all be equal")

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _batch(self, idx: np.ndarray):
        out = []
        for t in self.tensors:
            g = _gather_rows(t, idx)
            if g is None:
                return None
            out.append(g)
        return tuple(out)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]
        self._idx = np.asarray(self.indices, dtype=np.int64)

    def __getitem__(self, index):
        if isinstance(index, (list, tuple)):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)

    def _batch(self, idx: np.ndarray):
        inner = getattr(self.dataset, "_batch", None)
        return None if inner is None else inner(self._idx[idx])


class ConcatDataset(Dataset):
    """Several map-style datasets one after another."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset (use ChainDataset)")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        n = len(self)
        if index < 0:
            if -index > n:
                raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
            index += n
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
        d = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if d == 0 else self.cumulative_sizes[d - 1]
        return self.datasets[d][index - start]


def random_split(dataset: Dataset, lengths: Sequence, generator: Generator | None = None) -> list:
    """Splits ``dataset`` into non-overlapping random ``Subset`` objects of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)`` or fractions summing to 1 (floors, then the
    remainder handed out one by one from the first split, as PyTorch does). The permutation comes
    from ``generator`` or, without one, from lamina's global generator (``lamina.manual_seed``).
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if any(not isinstance(x, numbers.Real) for x in lengths):
        raise TypeError(f"random_split: lengths must be numbers, got {lengths}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= n:  # PyTorch's rule for fractions
        if any(x < 0 or x > 1 for x in lengths) or not math.isclose(sum(lengths), 1, abs_tol=1e-6):
            raise ValueError(f"random_split: fractions {lengths} must each be in [0, 1] and sum to 1")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not isinstance(x, numbers.Integral) or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {list(lengths)} = {sum(lengths)} does not "
                         f"equal the length of the input dataset ({n})")
    perm = randperm(n, generator).tolist()
    out, offset = [], 0
    for k in lengths:
        out.append(Subset(dataset, perm[offset:offset + k]))
        offset += k
    return out
