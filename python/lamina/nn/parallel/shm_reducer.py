"""DistributedDataParallel's shared-memory reducer, used when every rank runs on one node: the
gradient hooks only note each accumulated ``.grad``; when the last one has come, every gradient is
scaled by 1/world into this rank's segment of a shared window and ``ShmAllreduce``'s rank-ordered
sums are written into private memory: ``.grad`` itself, or DDP's own flat buffer that ``.grad``
views (``gradient_as_bucket_view``). Mixed into DistributedDataParallel (nn/parallel/distributed.py)."""
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

    _shm_whole = None  # ShmAllreduce's scheme: None = its default (whole for 2 ranks); tests and benchmarks pin it
    # Copy each gradient into the window at the end of backward rather than in its hook: the
    # window's 1 MB-per-MB of cold lines then no longer evicts what the rest of backward reads,
    # and NumPy runs once after the last kernel instead of after each layer's (measured: about
    # 15-30 us less CPU per MLP b256 backward). False (copy in the hook) is kept for benchmarks.
    _shm_defer = True

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
        shm = create_shm_allreduce(pg, numel, dtype, want, self._shm_whole)
        if shm is None:
            return
        self._shm = shm
        seg = shm.segment(shm.rank)
        nparams = len(self._params)
        self._shm_view = [None] * nparams  # param i's slice of this rank's segment
        self._shm_parts = [None] * nparams  # whole scheme: param i's slice of every segment, rank order
        pieces, off = [], 0
        for i in order:
            p = self._params[i]
            m = p.numel()
            self._shm_view[i] = seg[off:off + m].reshape(tuple(p.shape))
            self._shm_parts[i] = shm.parts(off, off + m)
            for j in range(shm.n):  # chunked scheme: the parts of param i that owner j reduced
                lo, hi = max(off, shm.bounds[j]), min(off + m, shm.bounds[j + 1])
                if hi > lo:
                    pieces.append((i, lo - off, hi - off, shm.segment(j)[lo:hi]))
            off += m
        self._shm_pieces = pieces
        self._shm_src = [None] * nparams  # this iteration's gradients, still to be scaled into the window
        self._shm_dst = [None] * nparams  # this iteration's flat destinations of the sums
        self._shm_new = {}  # copy mode: param -> a contiguous array replacing a non-contiguous .grad
        if self.gradient_as_bucket_view:
            # .grad views DDP's own flat buffer (PyTorch's bucket), not the window: the user may
            # zero or accumulate into it while other ranks still read this rank's segment
            flat = np.zeros(numel, dtype)
            self._shm_flat = [None] * nparams
            self._shm_grads = [None] * nparams  # the view tensors handed out as .grad
            off = 0
            for i in order:
                m = self._params[i].numel()
                self._shm_flat[i] = flat[off:off + m]
                off += m

    def _shm_ready(self, i: int, p) -> None:
        """Post-accumulate hook body on the shared-memory path: notes gradient i (and where its
        sum goes); the last one runs the reduction."""
        it = self._it
        if it.ready[i]:
            raise RuntimeError(f"DistributedDataParallel: parameter {self._names[i]!r} received a second gradient in "
                               "one iteration (a second backward through the same forward, or a reentrant backward); "
                               "run forward again before each backward")
        if it.nready == 0 and not self._shm_defer:
            self._shm.wait_free()  # nobody still reads last iteration's data from this segment
        it.ready[i] = True
        it.nready += 1
        g = p.grad._c.numpy()
        if self._shm_defer:
            self._shm_src[i] = g
        else:
            _divide_into(g, self._shm.n, self._shm_view[i])
        if self.gradient_as_bucket_view:
            self._shm_dst[i] = self._shm_flat[i]  # may be g itself (accumulated in place): read before the sums
        elif g.flags.c_contiguous:
            self._shm_dst[i] = g.reshape(-1)
        else:
            self._shm_new[i] = a = np.empty(g.shape, g.dtype)
            self._shm_dst[i] = a.reshape(-1)
        if it.nready == len(self._params):
            self._shm_finish()

    def _shm_finish(self) -> None:
        shm = self._shm
        dst = self._shm_dst
        if self._shm_defer:
            shm.wait_free()  # nobody still reads last iteration's data from this segment
            src, view, n = self._shm_src, self._shm_view, shm.n
            for i, g in enumerate(src):  # parameter 0 first: the first layer's, produced last, still in cache
                _divide_into(g, n, view[i])
                src[i] = None
        shm.arrive()
        if shm.whole:
            for i, parts in enumerate(self._shm_parts):
                shm.sum_parts(parts, dst[i])
        else:
            shm.reduce()
            for i, lo, hi, piece in self._shm_pieces:
                np.copyto(dst[i][lo:hi], piece)
        shm.done()
        params = self._params
        if self.gradient_as_bucket_view:
            views = self._shm_grads
            for i, p in enumerate(params):
                if p.grad is views[i]:
                    p.grad._c._bump_version()
                else:
                    p.grad = views[i] = from_numpy(self._shm_flat[i].reshape(tuple(p.shape)))
        else:
            for i, a in self._shm_new.items():
                params[i].grad = from_numpy(a)
            for i, p in enumerate(params):
                if i not in self._shm_new:
                    p.grad._c._bump_version()
            self._shm_new = {}
        for i in range(len(dst)):
            dst[i] = None
        self._reduced_once = True
        self._it.armed = False
