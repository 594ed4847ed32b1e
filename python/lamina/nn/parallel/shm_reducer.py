"""DistributedDataParallel's shared-memory reducer, used when every rank runs on one node: each
gradient is scaled by 1/world into this rank's segment of a shared window as it is accumulated,
and at the end of backward ``ShmAllreduce`` sums chunk by chunk in rank order and each rank copies
the results into ``.grad``. Mixed into DistributedDataParallel (nn/parallel/distributed.py)."""
from __future__ import annotations

import numpy as np

from ...distributed.shm_allreduce import create_shm_allreduce, shm_disabled_by_env
from ...ops.creation import from_numpy

_SHM_DTYPES = ("float32", "float64")


def _divide_into(src, n: int, out) -> None:
    """``out = src / n`` (a multiply by the exact ``1 / n`` when ``n`` is a power of two: same bits)."""
    if n & (n - 1) == 0:
        np.multiply(src, 1.0 / n, out=out)
    else:
        np.divide(src, n, out=out)


class ShmReducerMixin:
    """Expects DDP's ``process_group``, ``_params``, ``_names``, ``_it``, ``gradient_as_bucket_view``,
    ``find_unused_parameters``, ``static_graph`` and ``_reduced_once``."""

    def _setup_shm(self, enabled: bool) -> None:
        """Collective: builds the window when every rank can use it, else leaves ``_shm`` None."""
        pg = self.process_group
        self._shm = None
        dtypes = {p.dtype.name for p in self._params}
        want = (enabled and not shm_disabled_by_env() and len(dtypes) == 1 and dtypes <= set(_SHM_DTYPES)
                and not self.find_unused_parameters and not self.static_graph)
        if pg.size < 2 or not self._params:
            return
        order = list(range(len(self._params)))[::-1]  # the order backward produces gradients
        numel = sum(self._params[i].numel() for i in order)
        dtype = self._params[0].dtype._np
        shm = create_shm_allreduce(pg, numel, dtype, want)
        if shm is None:
            return
        self._shm = shm
        r, seg = shm.rank, shm.segment(shm.rank)
        self._shm_view = [None] * len(self._params)  # param i's slice of this rank's segment
        self._shm_off = [0] * len(self._params)
        pieces, off = [], 0
        for i in order:
            p = self._params[i]
            m = p.numel()
            self._shm_off[i] = off
            self._shm_view[i] = seg[off:off + m].reshape(tuple(p.shape))
            for j in range(shm.n):  # the parts of param i that owner j reduced
                lo, hi = max(off, shm.bounds[j]), min(off + m, shm.bounds[j + 1])
                if hi > lo:
                    pieces.append((i, lo - off, hi - off, shm.segment(j)[lo:hi]))
            off += m
        self._shm_pieces = pieces
        # view mode: the other owners' chunks, copied into this rank's segment
        self._shm_chunks = [(seg[shm.bounds[j]:shm.bounds[j + 1]], shm.segment(j)[shm.bounds[j]:shm.bounds[j + 1]])
                            for j in range(shm.n) if j != r and shm.bounds[j + 1] > shm.bounds[j]]
        self._shm_dst = [None] * len(self._params)  # this iteration's flat .grad arrays (copy mode)
        self._shm_new = {}  # param -> a contiguous array replacing a non-contiguous .grad

    def _shm_ready(self, i: int, p) -> None:
        """Post-accumulate hook body on the shared-memory path: gradient i into the segment."""
        it = self._it
        if it.ready[i]:
            raise RuntimeError(f"DistributedDataParallel: parameter {self._names[i]!r} received a second gradient in "
                               "one iteration (a second backward through the same forward, or a reentrant backward); "
                               "run forward again before each backward")
        if it.nready == 0 and not self.gradient_as_bucket_view:
            self._shm.wait_copied()  # nobody still reads last iteration's chunks from this segment
        it.ready[i] = True
        it.nready += 1
        dst = self._shm_view[i]
        n = self._shm.n
        g = p.grad._c.numpy()
        if self.gradient_as_bucket_view and np.may_share_memory(g, dst) and np.shares_memory(g, dst):
            _divide_into(dst, n, dst)  # accumulated in place into the window (set_to_none=False)
        else:
            _divide_into(g, n, dst)
            if not self.gradient_as_bucket_view:
                if g.flags.c_contiguous:
                    self._shm_dst[i] = g.reshape(-1)
                else:
                    self._shm_new[i] = a = np.empty(g.shape, g.dtype)
                    self._shm_dst[i] = a.reshape(-1)
        if it.nready == len(self._params):
            self._shm_finish()

    def _shm_finish(self) -> None:
        shm = self._shm
        shm.reduce()
        params = self._params
        if self.gradient_as_bucket_view:
            for mine, theirs in self._shm_chunks:
                np.copyto(mine, theirs)
            shm.done()
            shm.wait_copied()  # .grad is the segment: the user may write it (zero_grad) from now on
            for i, p in enumerate(params):
                v = self._shm_view[i]
                if p.grad is not None and np.shares_memory(p.grad._c.numpy(), v):
                    p.grad._c._bump_version()
                else:
                    p.grad = from_numpy(v)
        else:
            dst = self._shm_dst
            for i, lo, hi, src in self._shm_pieces:
                np.copyto(dst[i][lo:hi], src)
            shm.done()
            for i, a in self._shm_new.items():
                params[i].grad = from_numpy(a)
            for i, p in enumerate(params):
                if i not in self._shm_new:
                    p.grad._c._bump_version()
                dst[i] = None
            self._shm_new = {}
        self._reduced_once = True
        self._it.armed = False
