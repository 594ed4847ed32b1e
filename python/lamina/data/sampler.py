"""Index samplers for ``DataLoader`` (sequential, random, subset-random, batch) and ``Generator``,
the seedable random source they share with ``random_split`` and the random transforms.

Without an explicit generator every random choice is drawn from lamina's global generator, so
``lamina.manual_seed(s)`` makes shuffling, splits and augmentation reproducible.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence

import numpy as np

from ..distributed.process_group import get_rank, get_world_size, is_initialized
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

    def manual_seed(self, seed: int) -> Generator:
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


def _torch_randperm(n: int, seed: int) -> np.ndarray:
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed))`` on the CPU, exactly:
    PyTorch's CPU generator is MT19937 seeded like numpy's legacy RandomState (the low 32 bits of
    the seed), and randperm is a Fisher-Yates shuffle that swaps a[i] with a[i + r_i % (n - i)]
    for the generator's successive 32-bit outputs r_i (two of them, high then low, per 64-bit draw
    once n reaches 2**32 / 20)."""
    a = list(range(n))
    if n < 2:
        return np.asarray(a, dtype=np.int64)
    rs = np.random.RandomState(seed & 0xFFFFFFFF)
    if n < 0xFFFFFFFF // 20:
        draws = rs.randint(0, 2 ** 32, size=n - 1, dtype=np.uint32).astype(np.int64).tolist()
    else:  # pragma: no cover - over 214 million samples
        raw = rs.randint(0, 2 ** 32, size=2 * (n - 1), dtype=np.uint32).astype(np.uint64)
        draws = ((raw[0::2] << np.uint64(32)) | raw[1::2]).tolist()
    for i in range(n - 1):
        j = i + draws[i] % (n - i)
        a[i], a[j] = a[j], a[i]
    return np.asarray(a, dtype=np.int64)


class DistributedSampler(Sampler):
    """The share of a dataset one rank of a data-parallel job reads, as PyTorch assigns it.

    Each epoch the indices are shuffled (``shuffle``: the permutation PyTorch draws from
    ``seed + epoch``, identical on every rank; call ``set_epoch(epoch)`` before each epoch, which
    ``lamina.train.fit`` does), padded by repeating the first indices to a multiple of
    ``num_replicas`` (or, with ``drop_last``, cut to one), and rank r takes positions
    r, r + num_replicas, r + 2 * num_replicas, ... ``num_replicas`` and ``rank`` default to the
    world size and rank of the initialised ``lamina.distributed`` process group.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            if not is_initialized():
                raise RuntimeError("DistributedSampler: pass num_replicas and rank, or call "
                                   "lamina.distributed.init_process_group() first")
            num_replicas = get_world_size() if num_replicas is None else num_replicas
            rank = get_rank() if rank is None else rank
        if not isinstance(num_replicas, numbers.Integral) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, numbers.Integral) or not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.epoch = 0
        self.drop_last = bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = -(-(n - self.num_replicas) // self.num_replicas)
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = bool(shuffle)
        self.seed = int(seed)

    def _epoch(self) -> np.ndarray:
        n = len(self.dataset)
        idx = _torch_randperm(n, self.seed + self.epoch) if self.shuffle else np.arange(n, dtype=np.int64)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                idx = np.concatenate([idx, np.resize(idx, pad)]) if n else idx
        else:
            idx = idx[:self.total_size]
        if len(idx) != self.total_size:
            raise RuntimeError(f"DistributedSampler: built {len(idx)} indices, expected {self.total_size} "
                               f"(dataset of {n} across {self.num_replicas} replicas)")
        return idx[self.rank:self.total_size:self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch, so each epoch gets a different shuffle (the same on every rank)."""
        self.epoch = int(epoch)
