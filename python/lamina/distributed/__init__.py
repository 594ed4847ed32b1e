"""``lamina.distributed``: multi-process training over MPI with PyTorch's names.

    import lamina.distributed as dist
    dist.init_process_group(backend="mpi")      # rank and size from mpiexec
    dist.all_reduce(t, op=dist.ReduceOp.SUM)    # in place, on every rank

Data parallelism: ``lamina.nn.parallel.DistributedDataParallel`` and
``lamina.data.DistributedSampler``; model (pipeline) parallelism:
``lamina.distributed.pipeline.Pipe``. DDP communication hooks: ``GradBucket``, ``Future`` and
``lamina.distributed.algorithms.ddp_comm_hooks.default_hooks``. mpi4py is imported only by ``init_process_group``.
"""
from __future__ import annotations

import importlib

from .collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    gather,
    irecv,
    isend,
    recv,
    reduce,
    scatter,
    send,
)
from .futures import Future
from .grad_bucket import GradBucket
from .process_group import (
    DistError,
    DistTimeoutError,
    ProcessGroup,
    destroy_process_group,
    get_default_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)

__all__ = [
    "DistError",
    "DistTimeoutError",
    "Future",
    "GradBucket",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "algorithms",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "destroy_process_group",
    "gather",
    "get_default_group",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "irecv",
    "is_available",
    "is_initialized",
    "isend",
    "pipeline",
    "recv",
    "reduce",
    "scatter",
    "send",
]


def __getattr__(name: str):
    # The pipeline builds on lamina.nn, which itself uses this package (DistributedDataParallel,
    # SyncBatchNorm): load it on first use so importing lamina.nn never needs it.
    if name in ("pipeline", "algorithms"):
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'lamina.distributed' has no attribute {name!r}")
