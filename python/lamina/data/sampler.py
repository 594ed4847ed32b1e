"""Index samplers for ``DataLoader`` (sequential, random, subset-random, batch) and ``Generator``,
the seedable random source they share with ``random_split`` and the random transforms.

Without an explicit generator every random choice is drawn from lamina's global generator, so
``lamina.manual_seed(s)`` makes shuffling, splits and augmentation reproducible.
"""
from __future__ import annotations

import numbers
from typing import Iterator, Sequence

import numpy as np

from ..ops.creation import randint


class Generator:
    """A seedable random source for data pipelines (like ``torch.Generator`` on the CPU).

    ``Generator().manual_seed(0)`` gives the same shuffles, splits and augmentations on every run
    and leaves lamina's global generator untouched. It wraps numpy's Philox counter-based bit
    generator, so streams seeded differently do not overlap.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._seed = int(seed) if seed is not None else _seed_from_global()
        self._np = np.random.Generator(np.random.Philox(self._seed))

    def manual_seed(self, seed: int) -> "Generator":
        """Re-seeds this generator and returns it (so ``Generator().manual_seed(0)`` chains)."""
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed: expected an int, got {type(seed).__name__}")
        self._seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self._np = np.random.Generator(np.random.Philox(self._seed))
        return self

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with."""
        return self._seed

    def get_state(self) -> dict:
        """A snapshot of the state; ``set_state`` restores it."""
        return {"seed": self._seed, "bit_generator": self._np.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self._seed = int(state["seed"])
        self._np.bit_generator.state = state["bit_generator"]

    def __repr__(self) -> str:
        return f"lamina.data.Generator(initial_seed={self._seed})"


def _seed_from_global() -> int:
    """A 62-bit seed drawn from lamina's global generator (advances it, so each call differs)."""
    hi, lo = (int(v) for v in randint(0, 2 ** 31, (2,)).numpy())
    return (hi << 31) | lo


def _np_rng(generator: Generator | None) -> np.random.Generator:
    """The numpy generator behind ``generator``, or a fresh one seeded from lamina's global one."""
    if generator is None:
        return np.random.Generator(np.random.Philox(_seed_from_global()))
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a lamina.data.Generator or None, got {type(generator).__name__}")
    return generator._np


def randperm(n: int, generator: Generator | None = None) -> np.ndarray:
    """A random permutation of 0..n-1 as an int64 numpy array."""
    return _np_rng(generator).permutation(n).astype(np.int64, copy=False)


class Sampler:
    """Base class: an iterable over dataset indices, optionally with a ``__len__``."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1 in order."""

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def _epoch(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices in a random order: a fresh permutation each epoch (each ``iter``), or with
    ``replacement=True`` ``num_samples`` independent draws."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None and (not isinstance(num_samples, numbers.Integral) or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer, got {num_samples!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def _epoch(self) -> np.ndarray:
        n = len(self.data_source)
        rng = _np_rng(self.generator)
        if self.replacement:
            if n == 0:
                raise ValueError("RandomSampler: cannot draw with replacement from an empty dataset")
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        out = []
        # num_samples larger than n: whole permutations back to back, as PyTorch does.
        for _ in range(self.num_samples // max(n, 1)):
            out.append(rng.permutation(n))
        rem = self.num_samples % max(n, 1)
        if rem:
            out.append(rng.permutation(n)[:rem])
        return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each epoch."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        self.generator = generator

    def _epoch(self) -> np.ndarray:
        return self.indices[_np_rng(self.generator).permutation(len(self.indices))]

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer, got {batch_size!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)

    def _batches(self) -> Iterator[np.ndarray]:
        """Batches as int64 arrays; one vectorised draw per epoch for lamina's own samplers."""
        if hasattr(self.sampler, "_epoch"):
            idx = self.sampler._epoch()
        else:
            idx = np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
        n, b = len(idx), self.batch_size
        stop = n - n % b if self.drop_last else n
        for s in range(0, stop, b):
            yield idx[s:s + b]

    def __iter__(self) -> Iterator[list]:
        for batch in self._batches():
            yield batch.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
