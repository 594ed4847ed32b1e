"""DataLoader worker processes (``num_workers > 0``), with PyTorch's semantics: each worker gets
index batches through its own queue, loads and collates them, and sends the batch back with its
arrays in shared memory; ``get_worker_info()`` inside a worker says which one it is. A worker's
exception comes back naming the worker and the sample index; a worker that dies is reported."""
from __future__ import annotations

import multiprocessing as mp
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from multiprocessing import resource_tracker, shared_memory
from typing import Any

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info"]

# Arrays at least this large travel through shared memory; smaller ones (labels, scalars) are
# cheaper to pickle through the result queue than to map.
_SHM_MIN_BYTES = 4096
_POLL_S = 1.0   # how often a waiting main process checks that its workers are alive


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id`` (0 .. num_workers - 1),
    ``num_workers``, ``seed`` (this worker's seed: the loader's base seed + id) and ``dataset``
    (this process's copy of the dataset, e.g. to shard an ``IterableDataset``)."""
    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The calling worker's ``WorkerInfo``, or None in the main process (as
    ``torch.utils.data.get_worker_info``)."""
    return _worker_info


# ---- batches through shared memory ----------------------------------------------------------
class _Shm:
    """A numpy array placed in a shared-memory block by a worker; the main process copies it out
    and unlinks the block."""

    def __init__(self, arr: np.ndarray) -> None:
        shm = shared_memory.SharedMemory(create=True, size=max(arr.nbytes, 1))
        np.ndarray(arr.shape, arr.dtype, buffer=shm.buf)[...] = arr
        self.name, self.shape, self.dtype = shm.name, arr.shape, arr.dtype.str
        shm.close()
        # The block now belongs to the main process, which unlinks it: do not let this worker's
        # resource tracker unlink it (or warn about a leak) when the worker exits.
        resource_tracker.unregister(shm._name, "shared_memory")

    def take(self) -> np.ndarray:
        shm = shared_memory.SharedMemory(name=self.name)
        try:
            return np.ndarray(self.shape, np.dtype(self.dtype), buffer=shm.buf).copy()
        finally:
            shm.close()
            shm.unlink()


class _TensorBox:
    """A lamina tensor in transit: its array (inline or in shared memory)."""

    def __init__(self, arr) -> None:
        self.arr = arr


def _pack(obj):
    from ..tensor import Tensor

    if isinstance(obj, Tensor):
        return _TensorBox(_pack(np.ascontiguousarray(obj.detach().cpu().numpy())))
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf" and obj.nbytes >= _SHM_MIN_BYTES:
        return _Shm(np.ascontiguousarray(obj))
    if isinstance(obj, dict):
        return {k: _pack(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_pack(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_pack(v) for v in obj)
    return obj


def _unpack(obj):
    from ..ops.creation import from_numpy

    if isinstance(obj, _TensorBox):
        return from_numpy(_unpack(obj.arr))
    if isinstance(obj, _Shm):
        return obj.take()
    if isinstance(obj, dict):
        return {k: _unpack(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_unpack(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unpack(v) for v in obj)
    return obj


def _discard(obj) -> None:
    """Unlinks the shared memory of a result nobody will read (stale or after an error)."""
    try:
        _unpack(obj)
    except Exception:  # noqa: BLE001 - best effort cleanup
        pass


# ---- the worker process ----------------------------------------------------------------------
class _WorkerError:
    """An exception raised in a worker, carried back as text (tracebacks do not pickle)."""

    def __init__(self, exc: BaseException, worker_id: int, where: str) -> None:
        self.type = type(exc)
        self.text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.message = f"{type(exc).__name__} in DataLoader worker {worker_id} {where}: {exc}"

    def reraise(self):
        msg = f"{self.message}\n\nOriginal traceback in the worker:\n{self.text}"
        try:
            err = self.type(msg)
        except Exception:  # noqa: BLE001 - exception types whose constructor takes other arguments
            err = RuntimeError(msg)
        raise err


class _IterableEnd:
    """Sent when a worker's copy of an IterableDataset is exhausted."""


_RESET = "reset"   # persistent workers, IterableDataset: start a new pass over the stream


def _fetch_map(dataset, idx: np.ndarray, collate_fn, auto_collation: bool, fast):
    if not auto_collation:
        i = int(idx[0])
        try:
            return collate_fn(dataset[i])
        except Exception as e:
            raise _SampleError(e, f"while loading sample {i}") from e
    if fast is not None and len(idx):
        out = fast(idx)
        if out is not None:
            return list(out) if isinstance(out, tuple) else out
    ids = idx.tolist()
    getitems = getattr(dataset, "__getitems__", None)
    if getitems is not None:
        try:
            samples = getitems(ids)
        except Exception as e:
            raise _SampleError(e, f"while loading the batch of samples {ids}") from e
    else:
        samples = []
        for i in ids:
            try:
                samples.append(dataset[i])
            except Exception as e:
                raise _SampleError(e, f"while loading sample {i} (of the batch {ids})") from e
    try:
        return collate_fn(samples)
    except Exception as e:
        raise _SampleError(e, f"while collating the batch of samples {ids}") from e


class _SampleError(Exception):
    def __init__(self, exc: BaseException, where: str) -> None:
        super().__init__(where)
        self.exc, self.where = exc, where


def _worker_loop(dataset, index_queue, result_queue, collate_fn, auto_collation: bool, use_fast: bool,
                 batch_size, drop_last: bool, iterable: bool, worker_id: int, num_workers: int, seed: int,
                 init_fn) -> None:
    global _worker_info
    # First, before any lamina op: one compute thread. A forked child must not touch the parent's
    # OpenMP pool, and N workers with N threads each would oversubscribe the cores anyway.
    from .._runtime import manual_seed, set_num_threads

    set_num_threads(1)
    manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    fast = getattr(dataset, "_batch", None) if use_fast else None
    stream = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
    except Exception as e:  # noqa: BLE001
        result_queue.put((None, worker_id, _WorkerError(e, worker_id, "in worker_init_fn")))
        return
    while True:
        try:
            task = index_queue.get()
        except (KeyboardInterrupt, EOFError, OSError):
            return
        if task is None:
            return
        if task == _RESET:
            stream = None
            continue
        task_id, idx = task
        try:
            if iterable:
                if stream is None:
                    stream = iter(dataset)
                data = _next_stream_batch(stream, batch_size, drop_last, collate_fn, worker_id)
            else:
                data = _fetch_map(dataset, idx, collate_fn, auto_collation, fast)
            result_queue.put((task_id, worker_id, _pack(data) if not isinstance(data, _IterableEnd) else data))
        except _SampleError as e:
            result_queue.put((task_id, worker_id, _WorkerError(e.exc, worker_id, e.where)))
        except Exception as e:  # noqa: BLE001
            result_queue.put((task_id, worker_id, _WorkerError(e, worker_id, "while loading a batch")))


def _next_stream_batch(stream, batch_size, drop_last, collate_fn, worker_id):
    if batch_size is None:
        try:
            return collate_fn(next(stream))
        except StopIteration:
            return _IterableEnd()
    buf = []
    for sample in stream:
        buf.append(sample)
        if len(buf) == batch_size:
            break
    if not buf or (drop_last and len(buf) < batch_size):
        return _IterableEnd()
    return collate_fn(buf)


# ---- the main-process side -------------------------------------------------------------------
class WorkerPool:
    """``num_workers`` processes serving one DataLoader; kept between epochs when persistent."""

    def __init__(self, loader, base_seed: int) -> None:
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = "fork" if sys.platform.startswith("linux") else "spawn"
        if isinstance(ctx, str):
            ctx = mp.get_context(ctx)
        resource_tracker.ensure_running()   # one tracker, shared by forked workers
        n = loader.num_workers
        self.num_workers = n
        self.result_queue = ctx.Queue()
        self.index_queues, self.workers = [], []
        for w in range(n):
            iq = ctx.Queue()
            p = ctx.Process(target=_worker_loop, daemon=True, name=f"lamina-dataloader-{w}",
                            args=(loader.dataset, iq, self.result_queue, loader.collate_fn, loader._auto_collation,
                                  not loader._user_collate, loader.batch_size, loader.drop_last, loader._iterable,
                                  w, n, base_seed + w, loader.worker_init_fn))
            p.start()
            self.index_queues.append(iq)
            self.workers.append(p)
        self.next_task = 0
        self.alive = True

    def send(self, worker: int, task) -> None:
        self.index_queues[worker].put(task)

    def get(self, timeout: float, in_flight: dict):
        """The next (task_id, worker_id, payload) from any worker; raises when a worker died or
        ``timeout`` (> 0) passed."""
        import time

        t0 = time.monotonic()
        while True:
            wait = _POLL_S if timeout <= 0 else min(_POLL_S, max(timeout - (time.monotonic() - t0), 0.01))
            try:
                return self.result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            for w, p in enumerate(self.workers):
                if not p.is_alive():
                    mine = sorted(v for v in in_flight.values() if v[0] == w)
                    what = (f" while loading samples {mine[0][1]}" if mine and mine[0][1] is not None else "")
                    self.shutdown(grace=0)
                    raise RuntimeError(f"DataLoader worker {w} (pid {p.pid}) exited unexpectedly with exit code "
                                       f"{p.exitcode}{what}")
            if timeout > 0 and time.monotonic() - t0 >= timeout:
                self.shutdown(grace=0)
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds waiting for a batch")

    def shutdown(self, grace: float = 10.0) -> None:
        """Stops the workers: each finishes its current batch and exits (a worker still busy after
        ``grace`` seconds is terminated; 0 after a timeout or a crash), then the batches nobody
        will read are unlinked from shared memory."""
        if not self.alive:
            return
        self.alive = False
        for iq in self.index_queues:
            try:
                iq.put(None)
            except (OSError, ValueError):
                pass
        import time

        deadline = time.monotonic() + grace
        for p in self.workers:
            while p.is_alive() and time.monotonic() < deadline:
                self._drain(0.05)       # keep the result pipe flowing so a worker can finish its put
                p.join(timeout=0.05)
            if p.is_alive():
                p.terminate()
                p.join(timeout=1.0)
        self._drain(0.05)
        for q in [self.result_queue, *self.index_queues]:
            q.close()
            q.join_thread()

    def _drain(self, wait: float) -> None:
        while True:   # results nobody will read: free their shared memory
            try:
                item = self.result_queue.get(timeout=wait)
            except (queue.Empty, OSError, ValueError, EOFError):
                return
            if not isinstance(item[2], (_WorkerError, _IterableEnd)):
                _discard(item[2])

    def __del__(self) -> None:
        if getattr(self, "alive", False):
            try:
                self.shutdown()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


def iterate(loader, pool: WorkerPool, persistent: bool):
    """Yields the batches of one epoch from ``pool`` in sampler order, keeping
    ``prefetch_factor * num_workers`` batches in flight."""
    n = pool.num_workers
    epoch_start = pool.next_task
    if loader._iterable:
        if persistent and epoch_start > 0:
            for w in range(n):
                pool.send(w, _RESET)
        tasks = iter(lambda: None, 0)   # endless: the workers say when their streams end
    elif loader.batch_sampler is not None:
        tasks = (np.asarray(list(b), dtype=np.int64) for b in loader.batch_sampler)
    else:
        tasks = (np.asarray([i], dtype=np.int64) for i in loader.sampler)
    active = list(range(n))
    in_flight: dict = {}      # task id -> (worker, indices)
    done: dict = {}           # task id -> payload that arrived early
    rr = 0
    exhausted = False

    def submit() -> bool:
        nonlocal rr, exhausted
        if exhausted or not active:
            return False
        try:
            idx = next(tasks)
        except StopIteration:
            exhausted = True
            return False
        w = active[rr % len(active)]
        rr += 1
        tid = pool.next_task
        pool.next_task += 1
        in_flight[tid] = (w, None if idx is None else idx.tolist())
        pool.send(w, (tid, idx))
        return True

    try:
        for _ in range(loader.prefetch_factor * n):
            if not submit():
                break
        want = epoch_start
        while True:
            if want in done:
                payload = done.pop(want)
                want += 1
                submit()
                yield _unpack(payload)
            elif want in in_flight:
                tid, w, payload = pool.get(loader.timeout, in_flight)
                if tid is not None and tid < epoch_start:  # left over from an abandoned epoch
                    if not isinstance(payload, (_IterableEnd, _WorkerError)):
                        _discard(payload)
                    continue
                if isinstance(payload, _WorkerError):
                    pool.shutdown()
                    payload.reraise()
                in_flight.pop(tid, None)
                if isinstance(payload, _IterableEnd):     # that worker's stream is exhausted
                    if w in active:
                        active.remove(w)
                    submit()
                else:
                    done[tid] = payload
            elif want < pool.next_task:                   # answered by an exhausted stream
                want += 1
            elif not submit():
                break
    finally:
        for payload in done.values():   # arrived but never yielded (an abandoned epoch)
            _discard(payload)
        if not persistent:
            pool.shutdown()
        # persistent: later epochs skip this epoch's task ids and free what arrives for them
