"""What fit() needs from a lamina.distributed job: which rank it is, global averages of the
epoch's loss and metrics (summed over ranks in rank order, so every rank gets the same bits),
a stop decision shared by all ranks, and per-rank shards of datasets."""
from __future__ import annotations

import numpy as np

from ..data import DataLoader, Dataset, DistributedSampler, Subset
from ..distributed.process_group import get_default_group, is_initialized, wait_request


def group():
    """The default process group when a multi-process job is running, else None."""
    if not is_initialized():
        return None
    pg = get_default_group()
    return pg if pg.size > 1 else None


def rank() -> int:
    pg = group()
    return 0 if pg is None else pg.rank


def gather_rows(pg, values) -> np.ndarray:
    """(world, len(values)): every rank's float vector, on every rank."""
    v = np.asarray(values, dtype=np.float64).ravel()
    rows = np.empty((pg.size, v.size), dtype=np.float64)
    wait_request(pg, pg.comm.Iallgather(v, rows), "fit: metric reduction")
    return rows


def sum_over_ranks(pg, values) -> np.ndarray:
    """Element-wise sum of a float vector over ranks, identical on every rank (allgather, then
    a sum in rank order)."""
    rows = gather_rows(pg, values)
    out = rows[0].copy()
    for r in range(1, pg.size):
        out += rows[r]
    return out


def any_rank(pg, flag: bool) -> bool:
    """True on every rank if ``flag`` is True on any rank."""
    return bool(sum_over_ranks(pg, [1.0 if flag else 0.0])[0] > 0)


def barrier(pg, what: str) -> None:
    wait_request(pg, pg.comm.Ibarrier(), what)


def train_loader(pg, data, batch_size: int, shuffle: bool):
    """A Dataset becomes a DataLoader over this rank's DistributedSampler shard (batch_size per
    rank); a DataLoader is used as given (give it a DistributedSampler)."""
    if isinstance(data, Dataset):
        return DataLoader(data, batch_size=batch_size,
                          sampler=DistributedSampler(data, pg.size, pg.rank, shuffle=shuffle))
    return None


def val_shard(pg, data):
    """Rank r evaluates samples r, r + world, ... of a Dataset (no padding: exact global averages)."""
    if isinstance(data, Dataset):
        return Subset(data, list(range(pg.rank, len(data), pg.size)))
    return data
