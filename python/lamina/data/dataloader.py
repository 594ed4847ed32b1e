"""``DataLoader``: batches a dataset through a sampler and a collate function, with PyTorch's
arguments and semantics, plus ``default_collate`` / ``default_convert``.

With the default collate and a dataset that can gather a batch at once (``TensorDataset``,
``Subset`` of one, ``Digits``, ``MNIST`` without transforms: see ``Dataset._batch``) each batch is
one index gather per tensor instead of ``batch_size`` ``__getitem__`` calls and a stack.
With ``num_workers > 0`` batches are loaded in worker processes (``_worker.py``): per-sample
transforms (random crops, noise) then run in parallel with training. ``pin_memory`` is accepted
for compatibility and has no effect (there is no pinned host memory to use on the CPU).
"""
from __future__ import annotations

import collections.abc
import numbers
from typing import Any, Callable

import numpy as np

from ..ops.creation import from_numpy
from ..tensor import Tensor
from . import _worker
from .dataset import IterableDataset
from .sampler import BatchSampler, Generator, RandomSampler, Sampler, SequentialSampler


def _np_for_lamina(arr: np.ndarray, where: str) -> np.ndarray:
    """``arr`` converted to the lamina dtype that holds it: ints -> int64, float16 -> float32."""
    k = arr.dtype.kind
    if k == "f":
        return arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float32)
    if k in "iu":
        return arr if arr.dtype == np.int64 else arr.astype(np.int64)
    if k == "b":
        return arr
    raise TypeError(f"{where}: numpy arrays of dtype {arr.dtype} cannot become lamina tensors "
                    f"(supported: floating, integer and bool arrays)")


def _from_np(arr: np.ndarray) -> Tensor:
    return from_numpy(arr if arr.flags.c_contiguous else arr.copy(order="C"))


def _stack_tensors(batch: list) -> Tensor:
    shapes = {tuple(t.shape) for t in batch}
    if len(shapes) != 1:
        first = tuple(batch[0].shape)
        k = next(i for i, t in enumerate(batch) if tuple(t.shape) != first)
        raise RuntimeError(f"default_collate: cannot stack tensors of different shapes: sample 0 has "
                           f"shape {first} but sample {k} has shape {tuple(batch[k].shape)}")
    dtypes = {t.dtype for t in batch}
    if len(dtypes) != 1:
        raise TypeError(f"default_collate: samples have different dtypes {sorted(map(str, dtypes))}")
    devices = {t.device for t in batch}
    if devices == {"cpu"}:
        return _from_np(np.stack([t.detach().numpy() for t in batch]))
    dev = batch[0].device
    if len(devices) != 1:
        raise RuntimeError(f"default_collate: samples are on different devices {sorted(devices)}")
    return _from_np(np.stack([t.detach().cpu().numpy() for t in batch])).to(dev)


def default_collate(batch: list) -> Any:
    """Merges a list of samples into a batch, recursively:

    - lamina tensors and numpy arrays -> one tensor with a new first dimension (integer arrays
      become int64, float16 float32);
    - Python ints -> int64 tensor, floats -> float32, bools -> bool;
    - strings and bytes stay a list;
    - dicts -> a dict of collated values; tuples and lists -> a list with one collated entry per
      position (named tuples stay named tuples), as PyTorch does.
    """
    if not isinstance(batch, (list, tuple)):
        raise TypeError(f"default_collate: expected a list of samples, got {type(batch).__name__}")
    if len(batch) == 0:
        raise ValueError("default_collate: cannot collate an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        if not all(isinstance(b, Tensor) for b in batch):
            raise TypeError(_mixed(batch))
        return _stack_tensors(batch)
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_, np.bytes_)):
        if not all(isinstance(b, (np.ndarray, np.generic)) for b in batch):
            raise TypeError(_mixed(batch))
        shapes = {np.shape(b) for b in batch}
        if len(shapes) != 1:
            k = next(i for i, b in enumerate(batch) if np.shape(b) != np.shape(elem))
            raise RuntimeError(f"default_collate: cannot stack arrays of different shapes: sample 0 has "
                               f"shape {np.shape(elem)} but sample {k} has shape {np.shape(batch[k])}")
        return _from_np(_np_for_lamina(np.stack([np.asarray(b) for b in batch]), "default_collate"))
    if isinstance(elem, bool):
        return _from_np(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        try:
            return _from_np(np.array(batch, dtype=np.int64))
        except (TypeError, OverflowError, ValueError):
            raise TypeError(_mixed(batch)) from None
    if isinstance(elem, numbers.Real):
        try:
            return _from_np(np.array(batch, dtype=np.float32))
        except (TypeError, ValueError):
            raise TypeError(_mixed(batch)) from None
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        keys = list(elem.keys())
        for k, b in enumerate(batch):
            if not isinstance(b, collections.abc.Mapping) or set(b.keys()) != set(keys):
                raise RuntimeError(f"default_collate: sample {k} does not have the same keys as sample 0 "
                                   f"({sorted(map(str, keys))})")
        out = {key: default_collate([b[key] for b in batch]) for key in keys}
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        for k, b in enumerate(batch):
            if not isinstance(b, collections.abc.Sequence) or len(b) != n:
                raise RuntimeError(f"default_collate: each sample in the batch must have the same length: "
                                   f"sample 0 has {n} entries, sample {k} has "
                                   f"{len(b) if hasattr(b, '__len__') else type(b).__name__}")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: samples must contain lamina tensors, numpy arrays, numbers, "
                    f"strings, dicts or lists; found {type(elem).__name__}")


def _mixed(batch) -> str:
    kinds = sorted({type(b).__name__ for b in batch})
    return f"default_collate: samples in one position have mixed types {kinds}"


def default_convert(data: Any) -> Any:
    """Converts numpy arrays inside ``data`` to lamina tensors (used when ``batch_size=None``)."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "fiub":
        return _from_np(_np_for_lamina(data, "default_convert"))
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(v) for v in data)
    return data


class DataLoader:
    """Iterates over ``dataset`` in batches.

    Arguments follow PyTorch: ``batch_size`` (None disables batching), ``shuffle`` (a new order
    every epoch, from ``generator`` or lamina's global generator so ``lamina.manual_seed`` fixes
    it), ``sampler`` / ``batch_sampler`` (custom index orders), ``drop_last`` (skip a final short
    batch) and ``collate_fn`` (default: ``default_collate``). Unknown keyword arguments are a
    ``TypeError``, as in PyTorch.

    Worker processes, as in PyTorch: ``num_workers > 0`` loads batches in that many processes
    (``multiprocessing_context``: default "fork" on Linux, else "spawn"; with "spawn" the
    dataset, collate_fn and worker_init_fn must pickle). Each epoch draws a base seed from
    ``generator`` (or the global generator); worker ``i`` seeds lamina's global generator,
    ``random`` and NumPy's global generator with ``base_seed + i`` (PyTorch leaves NumPy alone;
    seeding it too keeps NumPy-based augmentation from repeating across workers), runs with one
    compute thread, then calls ``worker_init_fn(i)``; ``lamina.data.get_worker_info()`` tells the
    code running there which worker it is. ``prefetch_factor`` (default 2) batches per worker are
    kept in flight; batches come back in sampler order with their arrays in shared memory.
    ``persistent_workers=True`` keeps the processes from one epoch to the next (they are seeded
    once). ``timeout`` (> 0) bounds the wait for one batch. An exception in a worker is re-raised
    here with the worker and the sample index in its message; a worker that dies raises
    RuntimeError naming it and the samples it was loading. With an ``IterableDataset`` every
    worker iterates its own copy (shard it with ``get_worker_info()``, as in PyTorch).

        loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
        for xb, yb in loader: ...
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | None = None, batch_sampler=None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Callable | None = None, multiprocessing_context=None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True) -> None:
        if not isinstance(num_workers, numbers.Integral) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(f"num_workers option should be non-negative, got {num_workers!r}")
        if not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing; let "
                             "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, numbers.Integral) or prefetch_factor < 1):
            raise ValueError(f"prefetch_factor option should be a positive integer, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if not in_order:
            raise ValueError("in_order=False is not supported: batches always come back in sampler order")
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = int(prefetch_factor) if prefetch_factor is not None else (2 if num_workers else None)
        self.persistent_workers = bool(persistent_workers)
        self.multiprocessing_context = multiprocessing_context
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.in_order = in_order
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self._pool = None
        self._iterable = isinstance(dataset, IterableDataset)

        if self._iterable:
            if shuffle:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler and "
                                 "batch_sampler options")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive "
                             "with drop_last")
        if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                       or isinstance(batch_size, bool) or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value or None, got {batch_size!r}")

        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        self._user_collate = collate_fn is not None and collate_fn is not default_collate
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError when the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self):
        if self.num_workers > 0:
            return self._iter_workers()
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return self._iter_batches()

    def _iter_batches(self):
        ds = self.dataset
        fast = getattr(ds, "_batch", None) if not self._user_collate else None
        getitems = getattr(ds, "__getitems__", None)
        if isinstance(self.batch_sampler, BatchSampler):
            batches = self.batch_sampler._batches()
        else:
            batches = (np.asarray(list(b), dtype=np.int64) for b in self.batch_sampler)
        for idx in batches:
            if fast is not None and len(idx):
                out = fast(idx)
                if out is not None:
                    yield list(out) if isinstance(out, tuple) else out
                    continue
            ids = idx.tolist()
            samples = getitems(ids) if getitems is not None else [ds[i] for i in ids]
            yield self.collate_fn(samples)

    def _base_seed(self) -> int:
        from ..ops.creation import randint

        if self.generator is not None:
            return int(self.generator._np.integers(0, 2**62))
        return int(randint(0, 2**62, (1,)).numpy()[0])

    def _iter_workers(self):
        pool = self._pool
        if pool is None or not pool.alive:
            pool = _worker.WorkerPool(self, self._base_seed())
            if self.persistent_workers:
                self._pool = pool
        return _worker.iterate(self, pool, self.persistent_workers)

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()

    def _iter_stream(self):
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        buf = []
        for sample in self.dataset:
            buf.append(sample)
            if len(buf) == self.batch_size:
                yield self.collate_fn(buf)
                buf = []
        if buf and not self.drop_last:
            yield self.collate_fn(buf)

    def __repr__(self) -> str:
        return (f"DataLoader(dataset={type(self.dataset).__name__}(len={len(self.dataset) if hasattr(self.dataset, '__len__') else '?'}), "
                f"batch_size={self.batch_size}, drop_last={self.drop_last})")
