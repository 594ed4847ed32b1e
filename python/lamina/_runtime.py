"""Process-wide settings: threads (OpenMP and OpenBLAS together), the seeded generator, BLAS info."""
from __future__ import annotations

import os
import time

from . import _C, _threads


def set_num_threads(n: int) -> None:
    """Sets the threads used by lamina's kernels and by OpenBLAS (one shared pool).

    PyTorch: ``torch.set_num_threads``; results do not depend on the thread count for the seeded
    random ops (float reductions may differ in the last bits). ``lamina.get_num_threads()`` reads it.

    Example::

        lamina.set_num_threads(1)       # e.g. one core per process under MPI
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"set_num_threads: expected an int, got {type(n).__name__}")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads lamina's kernels and OpenBLAS use.

    PyTorch: ``torch.get_num_threads``.
    """
    return _C.get_num_threads()


def _apply_default_num_threads() -> None:
    # At import: the CPUs this process may use (affinity), capped by its cgroup CPU quota
    # (_threads.default_num_threads); OpenMP's own default counts the machine's CPUs in a container.
    # An explicit OMP_NUM_THREADS is left to OpenMP; set_num_threads overrides either.
    if not os.environ.get("OMP_NUM_THREADS"):
        _C.set_num_threads(_threads.default_num_threads())


_apply_default_num_threads()
# The contention governor (cpp/core/thread_governor.h): on unless LAMINA_THREAD_GOVERNOR=0.
_C._set_thread_governor(_threads.governor_enabled())


def _effective_num_threads() -> int:
    """The threads a parallel region started now would use: ``get_num_threads()``, lowered by the
    contention governor while other processes keep this process's CPUs busy (README, "Threads and
    BLAS"). For tests and diagnostics; it may change from one call to the next."""
    return _C._effective_num_threads()


def manual_seed(seed: int) -> None:
    """Seeds the generator behind every random op, so runs are reproducible.

    PyTorch: ``torch.manual_seed``; Keras: ``keras.utils.set_random_seed``.

    Example::

        lamina.manual_seed(0); a = lamina.randn(3)
        lamina.manual_seed(0); assert (lamina.randn(3) == a).all().item()
    """
    _C.manual_seed(int(seed) & 0xFFFFFFFFFFFFFFFF)


def seed() -> int:
    """Seeds the generator from the clock and returns the seed.

    PyTorch: ``torch.seed``.
    """
    s = time.time_ns() & 0xFFFFFFFFFFFFFFFF
    _C.manual_seed(s)
    return s


def get_rng_state() -> tuple[int, int]:
    """The generator state (seed, offset); pass it to ``set_rng_state`` to replay.

    PyTorch: ``torch.get_rng_state``.
    """
    return tuple(_C.get_rng_state())


def set_rng_state(state) -> None:
    """Restores the global generator to ``state``, a ``(seed, offset)`` pair from
    :func:`get_rng_state`; ``torch.set_rng_state``. Random ops after it repeat the draws that followed
    the saved state exactly (any thread count).

    Example::

        s = lamina.get_rng_state(); a = lamina.rand(3)
        lamina.set_rng_state(s); assert (lamina.rand(3) == a).all().item()
    """
    seed_, offset = state
    _C.set_rng_state(int(seed_), int(offset))


def blas_info() -> dict:
    """Which OpenBLAS kernel is active (OPENBLAS_CORETYPE changes it) and how it was built."""
    return {"corename": _C.blas_corename(), "config": _C.blas_config(), "threads": get_num_threads()}


def memory_stats() -> dict:
    """The CPU caching allocator: ``allocated_bytes`` (held by live tensors and kernel scratch now),
    ``peak_allocated_bytes``, ``cached_bytes`` (freed blocks kept for reuse), ``limit_bytes``, and the
    cache's ``hits`` and ``misses``. Sizes are the allocator's rounded block sizes."""
    return dict(_C.cpu_cache_stats())


def empty_cache() -> None:
    """Returns every cached CPU block to the system (like torch.cuda.empty_cache)."""
    _C.cpu_empty_cache()


def set_cache_limit(nbytes: int) -> None:
    """Caps how much freed CPU memory lamina keeps for reuse (default 4 GiB; 0 turns caching off)."""
    _C.cpu_set_cache_limit(int(nbytes))
