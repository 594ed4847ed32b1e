"""``DistributedDataParallel``: data-parallel training over ``lamina.distributed`` (MPI).

Every rank holds a replica of the model and sees its own shard of each batch. At construction
rank 0's parameters and buffers are broadcast, after a check that every rank built the same
model. During backward each parameter's gradient, once accumulated into ``.grad``
(``register_post_accumulate_grad_hook``), is copied into its bucket; a full bucket is
all-reduced with a non-blocking ``MPI_Iallreduce`` at once, in bucket order (the same on every
rank), so communication runs while backward computes the earlier layers' gradients. When the
last bucket has been launched the reductions are awaited and the averaged gradients written
back into ``.grad`` (or, with ``gradient_as_bucket_view=True``, ``.grad`` becomes a view of the
bucket, as in PyTorch, saving that copy and, when gradients are zeroed rather than set to None, the
copy into the bucket too). ``no_sync()`` skips the reduction so gradients accumulate locally.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ...autograd.function import AccumulateGrad
from ...autograd.grad_mode import is_grad_enabled
from ...autograd.hooks import register_post_accumulate_grad_hook
from ...distributed.collectives import all_gather_object
from ...distributed.process_group import _group, wait_request
from ...ops.creation import from_numpy
from ...tensor import Tensor
from ..module import Module
from .comm_hook import CommHookMixin
from .shm_reducer import ShmReducerMixin, _divide_into

_MB = 1024 * 1024
_FIRST_BUCKET_BYTES = 1 * _MB  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES: a small first bucket starts sooner
# A gradient at least this large is its own bucket and is all-reduced in place in ``.grad``: no copy
# into a bucket and back, which for a large layer costs more than the extra message.
_DIRECT_BYTES = 256 * 1024


class _Bucket:
    """Parameters whose gradients are reduced together: one flat buffer, one MPI_Iallreduce."""

    __slots__ = ("direct", "flat", "fut", "gb", "index", "offsets", "params", "pending", "req")

    def __init__(self, index: int, params: list, offsets: list, flat, direct: bool = False) -> None:
        self.index, self.params, self.offsets, self.flat = index, params, offsets, flat
        self.direct = direct  # one large parameter reduced in its .grad (flat is set each iteration)
        self.pending = len(params)
        self.req = None
        self.fut = None  # the communication hook's future
        self.gb = None  # the GradBucket handed to the hook (cached for a bucket with its own buffer)


class _Iteration:
    """Per-iteration reducer state (a plain object: Module.__setattr__ is too slow for it)."""

    __slots__ = ("armed", "kept", "launched", "next", "nready", "ready", "unused")

    def __init__(self, nparams: int) -> None:
        self.armed = False
        self.ready = [False] * nparams
        self.nready = 0
        self.next = 0
        self.unused = ()
        self.kept = {}  # unused parameter -> its .grad values, when .grad is a bucket view the reduction overwrites
        self.launched = []


def _tensors_in(obj, out: list) -> list:
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, out)
    return out


def _reachable_leaves(outputs) -> set:
    """ids of the leaf tensors whose AccumulateGrad nodes lie on the graph behind ``outputs``."""
    seen, leaves = set(), set()
    stack = [t.grad_fn for t in _tensors_in(outputs, []) if t.grad_fn is not None]
    for t in _tensors_in(outputs, []):
        if t.grad_fn is None and t.requires_grad:
            leaves.add(id(t))
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, AccumulateGrad):
            leaves.add(id(n.leaf))
            continue
        for e in n.next:
            if e is not None and id(e[0]) not in seen:
                stack.append(e[0])
    return leaves


class DistributedDataParallel(CommHookMixin, ShmReducerMixin, Module):
    """Wraps ``module`` for data-parallel training across the ranks of the process group.

    ``bucket_cap_mb``: gradient bucket size (the first bucket is 1 MB so communication starts
    early). ``broadcast_buffers``: before each forward that will be reduced, rank 0's buffers
    (e.g. BatchNorm running statistics) are broadcast to all ranks, as in PyTorch.
    ``find_unused_parameters``: after forward, walk the autograd graph and treat parameters that
    the outputs do not depend on as ready with a zero gradient (a gradient that no rank produced
    leaves ``.grad`` as it was); without it, a parameter that gets no gradient is reported by the
    next forward. ``gradient_as_bucket_view``: after the reduction each small parameter's ``.grad``
    is a view of its bucket instead of a copy (PyTorch's option: less memory, no copy back; a
    gradient accumulated in place into the view, e.g. after ``zero_grad(set_to_none=False)``, is not
    copied into the bucket either). Parameters of 256 KB or more are reduced in their own ``.grad``
    in either mode. ``static_graph``: the model uses the same parameters every iteration, so the
    unused ones are found once, on the first iteration, and remembered (PyTorch's meaning; no
    ``find_unused_parameters`` graph walk after that). ``device_ids``, ``output_device`` and
    ``dim`` are accepted for compatibility (CPU only). ``state_dict()`` has no ``module.`` prefix
    (see the README). ``shared_memory`` (lamina's, default True; ``LAMINA_DDP_SHM=0`` also turns it
    off): when every rank runs on one node, gradients are reduced through a shared-memory window at
    the end of backward instead of MPI_Iallreduce (same bits for 2 ranks; see the README; with
    ``gradient_as_bucket_view`` ``.grad`` then views one flat buffer of DDP's own; when every
    gradient comes from an op that writes it into the window, as in an all-Linear model on a
    power-of-two number of ranks, ``.grad`` views this rank's own part of the window, and a
    ``.grad`` kept across steps keeps its values as usual); it falls
    back to MPI for a communication hook, mixed or non-float dtypes, ``find_unused_parameters`` and
    ``static_graph``.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb: float = 25,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 shared_memory: bool = True) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        if isinstance(module, DistributedDataParallel):
            raise TypeError("DistributedDataParallel: the module is already wrapped in DistributedDataParallel")
        if device_ids not in (None, [], ()) or output_device is not None:
            raise ValueError("DistributedDataParallel: device_ids / output_device are for GPU replicas; lamina's "
                             "MPI data parallelism runs one CPU replica per process (leave them out)")
        self.module = module
        self.process_group = _group(process_group)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.static_graph = bool(static_graph)
        self._static_unused = None  # static_graph: the unused parameters found on the first iteration
        self._static_used = None  # static_graph: which parameters some rank uses, from the first iteration
        self.require_backward_grad_sync = True
        self.dim = dim
        self._names, self._params = [], []
        seen = set()
        for name, p in module.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                self._names.append(name)
                self._params.append(p)
        # a model without buffers skips the per-forward walk for them (a buffer registered after
        # wrapping is not broadcast, as in PyTorch, whose DDP lists the buffers at construction)
        self._has_buffers = any(b is not None for _, b in module.named_buffers())
        self._verify_same_model()
        self._sync_module_states()
        self._build_buckets(self.bucket_cap_mb * _MB)
        self._setup_shm(bool(shared_memory))
        self._comm_hook = None  # (state, hook) from register_comm_hook
        self._reduced_once = False
        self._handles = [register_post_accumulate_grad_hook(p, self._make_hook(i)) for i, p in enumerate(self._params)]
        self._it = _Iteration(len(self._params))

    # ---- construction ----
    def _verify_same_model(self) -> None:
        pg = self.process_group
        if pg.size == 1:
            return
        mine = [(n, p.dtype.name, tuple(p.shape)) for n, p in zip(self._names, self._params)]
        mine += [("buffer " + n, b.dtype.name, tuple(b.shape)) for n, b in self.module.named_buffers()]
        allm = [None] * pg.size
        all_gather_object(allm, mine, pg)
        ref = allm[0]
        for r, m in enumerate(allm[1:], 1):
            if m == ref:
                continue
            if len(m) != len(ref):
                raise RuntimeError(f"DistributedDataParallel: rank 0's model has {len(ref)} parameters and buffers, "
                                   f"rank {r}'s has {len(m)}; every rank must build the same model")
            for a, b in zip(ref, m):
                if a != b:
                    raise RuntimeError(f"DistributedDataParallel: ranks built different models: {a[0]} is {a[1]} "
                                       f"{list(a[2])} on rank 0 but {b[0]} is {b[1]} {list(b[2])} on rank {r}")

    def _broadcast_tensors(self, tensors, what: str) -> None:
        """Rank 0's values into ``tensors`` on every rank, one broadcast per dtype."""
        pg = self.process_group
        if pg.size == 1 or not tensors:
            return
        by_dtype: dict = {}
        for t in tensors:
            by_dtype.setdefault(t.dtype.name, []).append(t)
        for group in by_dtype.values():
            arrs = [t._c.numpy() for t in group]
            flat = np.concatenate([a.reshape(-1) for a in arrs]) if pg.rank == 0 else \
                np.empty(sum(a.size for a in arrs), dtype=arrs[0].dtype)
            wait_request(pg, pg.comm.Ibcast(flat, root=0), f"DistributedDataParallel: broadcast of {what}")
            if pg.rank != 0:
                o = 0
                for t, a in zip(group, arrs):
                    np.copyto(a, flat[o:o + a.size].reshape(a.shape))
                    t._c._bump_version()
                    o += a.size

    def _sync_module_states(self) -> None:
        tensors = [p for _, p in self.module.named_parameters()]
        tensors += [b for _, b in self.module.named_buffers() if b is not None]
        self._broadcast_tensors(tensors, "parameters and buffers")

    def _build_buckets(self, cap_bytes: float) -> None:
        """Parameters in reverse registration order (roughly the order backward produces their
        gradients), grouped by dtype into buckets of at most ``cap_bytes`` (the first at most 1 MB);
        a parameter of 256 KB or more is a bucket of its own, reduced in its ``.grad``."""
        self._buckets, self._where = [], [None] * len(self._params)
        open_: dict = {}
        order = list(range(len(self._params)))[::-1]
        for i in order:
            p = self._params[i]
            key = p.dtype.name
            if p.numel() * p.dtype.itemsize >= _DIRECT_BYTES:
                if key in open_:  # keep the buckets in the order backward fills them
                    self._close_bucket(open_.pop(key)[0])
                self._where[i] = (len(self._buckets), 0)
                self._buckets.append(_Bucket(len(self._buckets), [i], [0], None, direct=True))
                continue
            cur = open_.get(key)
            if cur is None:
                cur = open_[key] = [[], 0]
            cur[0].append(i)
            cur[1] += p.numel() * p.dtype.itemsize
            cap = min(_FIRST_BUCKET_BYTES, cap_bytes) if not self._buckets else cap_bytes
            if cur[1] >= cap:
                self._close_bucket(cur[0])
                del open_[key]
        for idxs, _ in open_.values():
            self._close_bucket(idxs)

    def _close_bucket(self, idxs: list) -> None:
        offsets, n = [], 0
        for k, i in enumerate(idxs):
            self._where[i] = (len(self._buckets), k)
            offsets.append(n)
            n += self._params[i].numel()
        flat = np.zeros(n, dtype=self._params[idxs[0]].dtype._np)
        self._buckets.append(_Bucket(len(self._buckets), idxs, offsets, flat))

    # ---- per iteration ----
    def _make_hook(self, i: int):
        def hook(p):
            if self._it.armed:
                if self._shm is not None:
                    self._shm_ready(i, p)
                else:
                    self._mark_ready(i, p.grad)
        return hook

    def register_comm_hook(self, state: object, hook) -> None:
        super().register_comm_hook(state, hook)
        if self._shm is not None:  # the hook does the communication: back to the bucketed MPI path
            self._shm_unused, self._shm = self._shm, None
            self._shm_unset_dests()

    register_comm_hook.__doc__ = CommHookMixin.register_comm_hook.__doc__

    def _arm(self) -> None:
        self._it.armed = True
        self._it.ready = [False] * len(self._params)
        self._it.nready = 0
        if self._shm is not None:  # the shared-memory reducer keeps no per-bucket state
            self._shm_arm()
            return
        self._it.next = 0
        self._it.launched = []
        for b in self._buckets:
            b.pending = len(b.params)
            b.req = None
            b.fut = None

    def _mark_ready(self, i: int, grad) -> None:
        if self._it.ready[i]:
            raise RuntimeError(f"DistributedDataParallel: parameter {self._names[i]!r} received a second gradient in "
                               "one iteration (a second backward through the same forward, or a reentrant backward); "
                               "run forward again before each backward")
        if self._it.nready == 0 and self._it.unused:
            for j in self._it.unused:  # parameters the outputs do not depend on: ready with what they hold
                self._it.ready[j] = True
                self._it.nready += 1
                g, view = self._params[j].grad, self._bucket_view(j)
                if g is not None and view is not None and np.shares_memory(g._c.numpy(), view):
                    self._it.kept[j] = g._c.numpy().copy()  # the reduction would write into this .grad
                self._copy_in(j, g)
        self._it.ready[i] = True
        self._it.nready += 1
        self._copy_in(i, grad)
        self._launch_ready()
        for b in self._it.launched:  # drive MPI progress on buckets in flight
            if b.req is not None:
                b.req.Test()
            elif b.fut is not None:
                b.fut.done()
        if self._it.next == len(self._buckets):
            self._finish()

    def _copy_in(self, i: int, grad) -> None:
        bi, k = self._where[i]
        b = self._buckets[bi]
        p = self._params[i]
        if b.direct:
            a = None if grad is None else grad._c.numpy()
            if a is None or not a.flags.c_contiguous:
                a = np.zeros(tuple(p.shape), p.dtype._np) if a is None else np.ascontiguousarray(a)
            if self._comm_hook is None:
                _divide_into(a, self.process_group.size, a)
            b.flat = a  # reduced in place: the gradient's own memory when it is contiguous
            b.pending -= 1
            return
        dst = b.flat[b.offsets[k]:b.offsets[k] + p.numel()]
        # Without a hook the gradient is divided by the world size on its way into the bucket
        # and the bucket summed (PyTorch's reducer does the same; allreduce_hook gives equal bits).
        div = self.process_group.size if self._comm_hook is None else 1
        if grad is None:
            dst[:] = 0
        else:
            g = grad._c.numpy()
            if self.gradient_as_bucket_view and np.shares_memory(g, dst):  # a bucket view is already there
                if div != 1:
                    _divide_into(dst, div, dst)
            elif div != 1:
                _divide_into(g, div, dst.reshape(tuple(p.shape)))
            else:
                np.copyto(dst.reshape(tuple(p.shape)), g)
        b.pending -= 1

    def _bucket_view(self, i: int):
        """Parameter ``i``'s slice of its bucket (None for a parameter reduced in its own .grad); on
        the shared-memory path, its slice of the flat buffer ``.grad`` views (None in copy mode)."""
        if self._shm is not None:
            return self._shm_flat[i].reshape(tuple(self._params[i].shape)) if self.gradient_as_bucket_view else None
        b = self._buckets[self._where[i][0]]
        if b.direct:
            return None
        k = self._where[i][1]
        return b.flat[b.offsets[k]:b.offsets[k] + self._params[i].numel()].reshape(tuple(self._params[i].shape))

    def _launch_ready(self) -> None:
        pg = self.process_group
        while self._it.next < len(self._buckets) and self._buckets[self._it.next].pending == 0:
            b = self._buckets[self._it.next]
            if self._comm_hook is None:
                b.req = pg.comm.Iallreduce(pg.MPI.IN_PLACE, b.flat, pg.MPI.SUM)
            else:
                self._run_comm_hook(b)
            self._it.launched.append(b)
            self._it.next += 1

    def _finish(self) -> None:
        pg = self.process_group
        self._reduced_once = True
        for b in self._buckets:
            if b.fut is not None:
                self._take_hook_result(b)
            else:
                wait_request(pg, b.req, f"DistributedDataParallel: gradient allreduce (bucket {b.index})")
        used = self._static_used
        if used is None and (self.find_unused_parameters or self.static_graph):
            used = np.ones(len(self._params), dtype=np.int64)
            for j in self._it.unused:
                used[j] = 0
            wait_request(pg, pg.comm.Iallreduce(pg.MPI.IN_PLACE, used, pg.MPI.SUM),
                         "DistributedDataParallel: unused-parameter map")
            if self.static_graph:
                self._static_used = used
        for b in self._buckets:  # the buckets hold the averages now: write them back
            if b.direct:
                i = b.params[0]
                p = self._params[i]
                if used is None or used[i]:
                    g = p.grad._c.numpy() if p.grad is not None else None
                    if g is not None and np.shares_memory(g, b.flat):
                        p.grad._c._bump_version()
                    elif g is None:
                        p.grad = from_numpy(b.flat)  # a fresh array made by _copy_in
                    else:
                        np.copyto(g, b.flat)
                        p.grad._c._bump_version()
                b.flat = None
                continue
            for k, i in enumerate(b.params):
                p = self._params[i]
                src = b.flat[b.offsets[k]:b.offsets[k] + p.numel()].reshape(tuple(p.shape))
                if used is not None and used[i] == 0:  # no rank produced a gradient: leave .grad as it was
                    if i in self._it.kept:
                        np.copyto(src, self._it.kept[i])
                    continue
                if self.gradient_as_bucket_view:
                    if p.grad is not None and np.shares_memory(p.grad._c.numpy(), src):
                        p.grad._c._bump_version()
                    else:
                        p.grad = from_numpy(src)  # .grad is the bucket's memory from now on
                elif p.grad is None:
                    p.grad = from_numpy(src.copy())
                else:
                    np.copyto(p.grad._c.numpy(), src)
                    p.grad._c._bump_version()
        self._it.armed = False
        self._it.launched = []
        self._it.kept = {}

    def _check_previous(self) -> None:
        if self._it.armed and self._it.nready:
            missing = [self._names[i] for i, r in enumerate(self._it.ready) if not r]
            raise RuntimeError(
                "the previous iteration's gradient reduction did not finish: "
                f"parameters {missing} received no gradient in backward. Pass find_unused_parameters=True "
                "if some parameters do not contribute to the loss, and make sure every rank runs backward "
                "on an output of this forward")

    def forward(self, *inputs, **kwargs):
        self._check_previous()
        self._it.armed = False
        sync = is_grad_enabled() and self.require_backward_grad_sync
        if sync:
            if self.broadcast_buffers and self._has_buffers:
                bufs = [b for _, b in self.module.named_buffers() if b is not None]
                self._broadcast_tensors(bufs, "buffers")
            self._arm()
        out = self.module(*inputs, **kwargs)
        if sync:
            if self.static_graph and self._static_unused is not None:
                self._it.unused = self._static_unused
            elif self.find_unused_parameters or self.static_graph:
                reach = _reachable_leaves(out)
                self._it.unused = tuple(i for i, p in enumerate(self._params) if id(p) not in reach)
                if self.static_graph:
                    self._static_unused = self._it.unused
            else:
                self._it.unused = ()
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this context backward does not reduce: gradients accumulate in ``.grad`` on each
        rank, and the first backward after it reduces the accumulated sum (gradient accumulation)."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ---- state ----
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """The wrapped module's state_dict, without PyTorch's ``module.`` prefix, so a checkpoint
        loads into the plain model and into a DDP wrapper alike."""
        return self.module.state_dict(destination=destination, prefix=prefix, keep_vars=keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True):
        """Loads into the wrapped module; keys saved by PyTorch's DDP (all starting with
        ``module.``) are accepted too."""
        keys = list(state_dict)
        if keys and all(k.startswith("module.") for k in keys):
            state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
        return self.module.load_state_dict(state_dict, strict=strict)

    def extra_repr(self) -> str:
        pg = self.process_group
        return (f"world_size={pg.size}, buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb:g}, "
                f"find_unused_parameters={self.find_unused_parameters}, "
                f"shared_memory={self._shm is not None}")
