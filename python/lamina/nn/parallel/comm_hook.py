"""DistributedDataParallel's communication-hook part (PyTorch's ``register_comm_hook``): the
registration checks, calling the hook for a bucket that is ready, and taking the reduced bucket
from the hook's future. Mixed into DistributedDataParallel (nn/parallel/distributed.py)."""
from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from ...distributed.futures import Future
from ...distributed.grad_bucket import GradBucket
from ...ops.creation import from_numpy
from ...tensor import Tensor


class CommHookMixin:
    """``register_comm_hook`` and the reducer's use of the hook; expects DDP's ``_buckets``,
    ``_params``, ``_comm_hook`` and ``_reduced_once``."""

    def register_comm_hook(self, state: object, hook: Callable) -> None:
        """Replaces the default gradient averaging with ``hook(state, bucket) -> Future[Tensor]``
        (PyTorch's API): for each bucket, in the same order on every rank, once its gradients are
        in ``bucket.buffer()``, DDP calls the hook, which starts the communication and returns a
        ``lamina.distributed.Future`` completing with the reduced flat tensor (the average: the
        hook divides by the world size, DDP does not); DDP waits for the futures at the end of
        backward and copies each result into the parameters' ``.grad``. Stock hooks:
        ``lamina.distributed.algorithms.ddp_comm_hooks.default_hooks``. Call it once, before the
        first backward."""
        if self._comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be called once.")
        if self._reduced_once:
            raise RuntimeError("DistributedDataParallel.register_comm_hook: register the communication hook before "
                               "the first backward (gradients have already been reduced without it)")
        if not callable(hook):
            raise TypeError("Communication hook must be callable.")
        try:
            sig = inspect.signature(hook)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:
            params = list(sig.parameters.values())
            if len(params) != 2 and not any(q.kind is q.VAR_POSITIONAL for q in params):
                raise TypeError(f"Communication hook must take two arguments (state, bucket); {hook!r} takes "
                                f"{len(params)}")
            ann = params[1].annotation if len(params) > 1 else inspect.Parameter.empty
            if ann not in (inspect.Parameter.empty, GradBucket, "GradBucket", "dist.GradBucket"):
                raise ValueError("Communication hook: bucket annotation should be dist.GradBucket.")
        self._comm_hook = (state, hook)
        for b in self._buckets:  # buckets with a buffer of their own keep one GradBucket
            if not b.direct:
                buf = from_numpy(b.flat)
                grads = [from_numpy(b.flat[o:o + self._params[i].numel()].reshape(tuple(self._params[i].shape)))
                         for i, o in zip(b.params, b.offsets)]
                b.gb = GradBucket(b.index, buf, [self._params[i] for i in b.params], grads,
                                  b.index == len(self._buckets) - 1)

    def _run_comm_hook(self, b) -> None:
        gb = b.gb
        if b.direct:  # the buffer is this iteration's gradient memory
            p = self._params[b.params[0]]
            g = p.grad if p.grad is not None and np.shares_memory(p.grad._c.numpy(), b.flat) else from_numpy(b.flat)
            flat = g.reshape(-1) if g.dim() != 1 else g
            gb = GradBucket(b.index, flat, [p], [g], b.index == len(self._buckets) - 1)
        state, hook = self._comm_hook
        fut = hook(state, gb)
        if not isinstance(fut, Future):
            raise TypeError(f"DistributedDataParallel: the communication hook {getattr(hook, '__name__', hook)!r} "
                            f"returned {type(fut).__name__} for bucket {b.index}; it must return a "
                            "lamina.distributed.Future of the reduced bucket tensor")
        b.fut = fut

    def _take_hook_result(self, b) -> None:
        """Waits for bucket ``b``'s hook future and puts its value into ``b.flat``."""
        val = b.fut.wait()
        b.fut = None
        if isinstance(val, (list, tuple)) and len(val) == 1:
            val = val[0]  # a hook that returned a Work future ([tensor]) directly
        n = b.flat.size
        if not isinstance(val, Tensor) or val.numel() != n:
            got = f"a tensor of {val.numel()} elements" if isinstance(val, Tensor) else type(val).__name__
            raise RuntimeError(f"DistributedDataParallel: the communication hook's future for bucket {b.index} "
                               f"completed with {got}; expected a tensor of the bucket's {n} elements")
        res = val._c.numpy()
        if not np.shares_memory(res, b.flat):
            np.copyto(b.flat, res.reshape(b.flat.shape))
