"""``nn.SyncBatchNorm``: batch normalisation whose training statistics are those of the global
batch across the ranks of a ``lamina.distributed`` process group, as in PyTorch; with
``SyncBatchNorm.convert_sync_batchnorm(model)`` a model's BatchNorm layers become synchronised.

Forward: each rank's per-channel count, mean and sum of squared deviations are all-gathered
and combined (Chan et al.'s parallel variance), so mean and variance equal the single-process
values for the concatenated batch. Backward: the per-channel sums of dy and dy * xhat are
all-reduced, giving every rank its rows of the single-process dx.
"""
from __future__ import annotations

import numpy as np

from ... import _C
from ...autograd.function import Function
from ...distributed.process_group import _group, is_initialized, wait_request
from ...ops.creation import from_numpy
from ...tensor import Tensor
from .. import functional as F
from .norm import _BatchNorm


def _rows(a: np.ndarray) -> np.ndarray:
    """(N, C, *) -> (N, C, L) view or copy."""
    return a.reshape(a.shape[0], a.shape[1], -1)


class _SyncBatchNormFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps, pg):
        xa = _rows(x._c.numpy())
        C = xa.shape[1]
        n = xa.shape[0] * xa.shape[2]
        mean_l = xa.sum(axis=(0, 2), dtype=np.float64) / max(n, 1)
        dev = xa - mean_l.astype(xa.dtype)[None, :, None]
        m2_l = np.einsum("ncl,ncl->c", dev, dev, dtype=np.float64) if n else np.zeros(C)
        row = np.concatenate([[float(n)], mean_l, m2_l])
        rows = np.empty((pg.size, row.size), dtype=np.float64)
        wait_request(pg, pg.comm.Iallgather(row, rows), "SyncBatchNorm: batch statistics")
        counts = rows[:, 0]
        if (rows[:, 1:].shape[1] != 2 * C):  # pragma: no cover - the allgather sizes already agree
            raise RuntimeError("SyncBatchNorm: ranks disagree on the number of channels")
        total = counts.sum()
        if total <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel when training across "
                             f"{pg.size} ranks, got {int(total)} (input of shape {list(x.shape)} on rank {pg.rank})")
        means, m2s = rows[:, 1:1 + C], rows[:, 1 + C:]
        mean = (counts[:, None] * means).sum(0) / total
        m2 = (m2s + counts[:, None] * (means - mean) ** 2).sum(0)
        var = m2 / total
        if running_mean is not None:
            rm, rv = running_mean._c.numpy(), running_var._c.numpy()
            rm *= 1.0 - momentum
            rm += momentum * mean
            rv *= 1.0 - momentum
            rv += momentum * (m2 / (total - 1))
            running_mean._c._bump_version()
            running_var._c._bump_version()
        dt = xa.dtype
        mean_t, var_t = from_numpy(mean.astype(dt)), from_numpy(var.astype(dt))
        out, _, _ = _C.batch_norm_forward(x._c, mean_t._c, var_t._c, None if weight is None else weight._c,
                                                      None if bias is None else bias._c, False, 0.0, eps)
        ctx.save_for_backward(x, weight)
        ctx.mean, ctx.invstd, ctx.total, ctx.pg = mean, 1.0 / np.sqrt(var + eps), total, pg
        return Tensor._wrap(out)

    @staticmethod
    def backward(ctx, dout):
        x, weight = ctx.saved_tensors
        pg = ctx.pg
        xa = _rows(x._c.numpy())
        dy = _rows(np.ascontiguousarray(dout._c.numpy()))
        dt = xa.dtype
        mean, invstd = ctx.mean.astype(dt)[None, :, None], ctx.invstd.astype(dt)[None, :, None]
        xhat = (xa - mean) * invstd
        sum_dy = dy.sum(axis=(0, 2), dtype=np.float64)
        sum_dy_xhat = np.einsum("ncl,ncl->c", dy, xhat, dtype=np.float64)
        need = ctx.needs_input_grad
        dx = None
        # Every rank runs this backward (same graph), so the allreduce below is always matched.
        g = np.concatenate([sum_dy, sum_dy_xhat])
        wait_request(pg, pg.comm.Iallreduce(pg.MPI.IN_PLACE, g, pg.MPI.SUM), "SyncBatchNorm: gradient sums")
        if need[0]:
            C = xa.shape[1]
            w = np.ones(C) if weight is None else weight._c.numpy().astype(np.float64)
            k = (w * ctx.invstd).astype(dt)[None, :, None]
            gdy = (g[:C] / ctx.total).astype(dt)[None, :, None]
            gdx = (g[C:] / ctx.total).astype(dt)[None, :, None]
            dx = from_numpy(np.ascontiguousarray((k * (dy - gdy - xhat * gdx)).reshape(x.shape)))
        dw = from_numpy(sum_dy_xhat.astype(dt)) if weight is not None and need[1] else None
        db = from_numpy(sum_dy.astype(dt)) if need[2] else None
        return dx, dw, db, None, None, None, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over ``(N, C, *)`` with statistics of the batch summed over all ranks of
    ``process_group`` (default: the default group) in training; in eval mode, or when no process
    group is initialised, it is exactly BatchNorm. Plain BatchNorm under DistributedDataParallel
    normalises each rank's shard by its own statistics (and DDP broadcasts rank 0's running
    statistics before each forward), which differs from single-process training on the whole
    batch; SyncBatchNorm matches it.

    PyTorch: ``torch.nn.SyncBatchNorm``.
    """

    _ranks = (2, 3, 4, 5)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, x):
        if x.ndim not in self._ranks:
            raise ValueError(f"SyncBatchNorm: expected a 2D to 5D input (N, C, *), got {x.ndim}D input of shape "
                             f"{list(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected {self.num_features} channels (dim 1), got input of shape "
                             f"{list(x.shape)}")
        use_batch_stats = self.training or self.running_mean is None
        distributed = use_batch_stats and (self.process_group is not None or is_initialized())
        pg = _group(self.process_group) if distributed else None
        if pg is None or pg.size == 1:
            if self.training and self.track_running_stats:
                self.num_batches_tracked.add_(1)
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch_stats,
                                self.momentum, self.eps)
        if self.momentum is None:
            raise NotImplementedError("SyncBatchNorm: momentum=None (cumulative average) is not supported")
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
        rm, rv = (self.running_mean, self.running_var) if self.training else (None, None)
        return _SyncBatchNormFn.apply(x, self.weight, self.bias, rm, rv, float(self.momentum), float(self.eps), pg)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Returns ``module`` with every BatchNorm1d/2d (at any depth) replaced by a SyncBatchNorm that
        shares its parameters and running statistics (the module itself if it is one)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats, process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.train(module.training)
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
