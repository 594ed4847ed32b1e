"""The MPI process group behind ``lamina.distributed``: ``init_process_group(backend="mpi")``,
rank and world size, ``barrier``, the collective timeout, and the fault rule: an uncaught
exception on any rank aborts the whole job (``MPI_Abort``) instead of leaving the others waiting.

mpi4py is imported here lazily, on ``init_process_group``: ``import lamina`` never loads MPI.
This module and ``collectives`` import nothing from lamina but the tensor base, so the layers
that use them (nn.parallel, nn.SyncBatchNorm, data.DistributedSampler, train) stay acyclic.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import sys
import time
import traceback

DEFAULT_TIMEOUT = 1800.0  # seconds, as PyTorch's default for CPU backends (30 minutes)


class DistTimeoutError(RuntimeError):
    """A collective or point-to-point operation did not complete within the group's timeout."""


class DistError(RuntimeError):
    """Ranks disagree about a collective (shapes, dtypes, roots or the operation itself)."""


class ProcessGroup:
    """A group of MPI processes: a private duplicate of ``MPI.COMM_WORLD`` for collectives, one for
    point-to-point data and one for point-to-point headers, the rank, the size and the timeout."""

    def __init__(self, mpi, comm, timeout: float, check_collectives: bool) -> None:
        self.MPI = mpi
        self.comm = comm.Dup()      # collectives (user calls, DDP buckets, SyncBatchNorm)
        self.p2p = comm.Dup()       # send / recv payloads
        self.p2p_hdr = comm.Dup()   # send / recv headers (dtype and shape), checked by the receiver
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.timeout = float(timeout)
        self.check_collectives = bool(check_collectives)

    def free(self) -> None:
        for c in (self.comm, self.p2p, self.p2p_hdr):
            with contextlib.suppress(Exception):  # MPI already finalized at interpreter exit
                c.Free()

    def __repr__(self) -> str:
        return f"ProcessGroup(backend='mpi', rank={self.rank}, world_size={self.size}, timeout={self.timeout:g}s)"


_default: ProcessGroup | None = None
_prev_excepthook = None


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "lamina.distributed needs mpi4py and an MPI runtime: pip install \"lamina[distributed]\" "
            f"(mpi4py + the mpich wheel) ({e})"
        ) from None
    return MPI


def is_available() -> bool:
    """True when mpi4py can be imported (the MPI backend is usable)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def _seconds(timeout) -> float:
    if timeout is None:
        env = os.environ.get("LAMINA_DIST_TIMEOUT")
        return float(env) if env else DEFAULT_TIMEOUT
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    timeout = float(timeout)
    if not timeout > 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    return timeout


def init_process_group(backend: str = "mpi", init_method=None, timeout=None, world_size: int = -1,
                       rank: int = -1, store=None, group_name: str = "", abort_on_exception: bool = True,
                       check_collectives: bool = True) -> None:
    """Joins the job's processes into the default group. With MPI the rank and world size come
    from the launcher (``mpiexec -n 4 python train.py`` needs nothing else); ``world_size`` /
    ``rank``, when given, must agree with it.

    ``timeout`` (seconds or a ``datetime.timedelta``; default 30 minutes, or the
    ``LAMINA_DIST_TIMEOUT`` environment variable): a blocking operation that has not completed by
    then raises ``DistTimeoutError``. ``abort_on_exception``: an uncaught exception on this rank
    prints its traceback and calls ``MPI_Abort``, so the job ends with that message instead of
    hanging. ``check_collectives``: before each collective the ranks exchange the operation,
    dtype, shape and root (a small allgather) and raise ``DistError`` naming the ranks that
    differ, instead of reducing mismatched buffers.
    """
    global _default, _prev_excepthook
    if backend not in ("mpi", "MPI"):
        raise ValueError(f"init_process_group: backend {backend!r} is not available; lamina supports "
                         "backend='mpi' (CPU tensors over mpi4py; there are no GPU collectives)")
    if _default is not None:
        raise RuntimeError("trying to initialize the default process group twice "
                           "(call destroy_process_group() first)")
    if init_method not in (None, "env://") or store is not None:
        raise ValueError("init_process_group: with backend='mpi' the launcher (mpiexec) supplies rank and "
                         "world size; init_method and store are not used")
    t = _seconds(timeout)
    mpi = _import_mpi()
    world = mpi.COMM_WORLD
    if world_size not in (-1, None) and int(world_size) != world.Get_size():
        raise ValueError(f"init_process_group: world_size={world_size} but the MPI job has {world.Get_size()} "
                         "processes (launch with mpiexec -n N, or leave world_size out)")
    if rank not in (-1, None) and int(rank) != world.Get_rank():
        raise ValueError(f"init_process_group: rank={rank} but MPI gave this process rank {world.Get_rank()}")
    _default = ProcessGroup(mpi, world, t, check_collectives)
    if abort_on_exception and _prev_excepthook is None:
        _prev_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught


def _abort_on_uncaught(exc_type, exc, tb) -> None:
    """sys.excepthook while a group is live: print the error (naming the rank), then MPI_Abort."""
    pg = _default
    if pg is None:
        (_prev_excepthook or sys.__excepthook__)(exc_type, exc, tb)
        return
    try:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        # The one-line summary comes first: once MPI_Abort runs, the launcher may stop forwarding
        # output, and this line is what the user must see.
        sys.stderr.write(f"[lamina.distributed] rank {pg.rank} of {pg.size} failed: {exc_type.__name__}: {exc}\n"
                         f"[lamina.distributed] rank {pg.rank}: calling MPI_Abort to end the whole job; "
                         f"traceback:\n{text}")
        sys.stderr.flush()
        sys.stdout.flush()
        time.sleep(0.3)  # let mpiexec forward the output before it tears the job down
    finally:
        pg.MPI.COMM_WORLD.Abort(1)


def is_initialized() -> bool:
    """True between init_process_group() and destroy_process_group()."""
    return _default is not None


def _group(group=None) -> ProcessGroup:
    if group is not None:
        if not isinstance(group, ProcessGroup):
            raise TypeError(f"group must be a ProcessGroup or None, got {type(group).__name__}")
        return group
    if _default is None:
        raise RuntimeError("Default process group has not been initialized, please make sure to call "
                           "lamina.distributed.init_process_group()")
    return _default


def get_rank(group=None) -> int:
    """This process's rank (0 .. world_size - 1)."""
    return _group(group).rank


def get_world_size(group=None) -> int:
    """The number of processes in the group."""
    return _group(group).size


def get_default_group() -> ProcessGroup:
    """The default ProcessGroup (RuntimeError before init_process_group)."""
    return _group(None)


def destroy_process_group(group=None) -> None:
    """Leaves the default group (frees its communicators, restores sys.excepthook). MPI itself is
    finalized at interpreter exit by mpi4py."""
    global _default, _prev_excepthook
    pg = _group(group)
    pg.free()
    if pg is _default:
        _default = None
        if _prev_excepthook is not None:
            sys.excepthook = _prev_excepthook
            _prev_excepthook = None


def wait_request(pg: ProcessGroup, req, what: str, status=None, timeout: float | None = None) -> None:
    """Waits for an MPI request, raising DistTimeoutError after the group's timeout.

    Polls ``Test`` (which also drives MPI progress), yielding the core between polls
    (``sched_yield``: free when the core has nothing else to run, but a rank that waits does not
    starve a rank still computing when the job has more processes than cores); after 20 ms it
    sleeps between polls (up to 1 ms)."""
    if req.Test(status):
        return
    limit = pg.timeout if timeout is None else _seconds(timeout)
    if not poll_until(lambda: req.Test(status), limit):
        raise DistTimeoutError(
            f"{what} on rank {pg.rank} of {pg.size} timed out after {limit:g} s: another rank did not "
            "join it (it may have failed, be stuck, or be calling a different operation). Set the limit "
            "with init_process_group(timeout=...)")


def poll_until(done, limit: float) -> bool:
    """Calls ``done()`` until it returns True (then True) or ``limit`` seconds pass (then False):
    ``sched_yield`` between polls, the clock read every 32 polls, and after 20 ms a nap between
    polls that doubles up to 1 ms. The one wait policy of MPI requests and the shared-memory
    reducer's counters."""
    t0 = time.monotonic()
    deadline = t0 + limit
    spin_until = t0 + 0.02
    nap = 1e-5
    i = 0
    while not done():
        i += 1
        _yield()
        if i & 31:
            continue
        now = time.monotonic()
        if now > deadline:
            return False
        if now > spin_until:
            time.sleep(nap)
            nap = min(nap * 2, 1e-3)
    return True


_yield = getattr(os, "sched_yield", lambda: None)


def wait_all(pg: ProcessGroup, reqs, what: str) -> None:
    """wait_request over several requests."""
    for r in reqs:
        wait_request(pg, r, what)
