"""Per-thread autograd state (grad mode, anomaly mode, in-place target), at the bottom of the
package so ``tensor.py`` can read grad mode without importing autograd. ``autograd/grad_mode.py``
owns the public API over it (``no_grad``, ``set_grad_enabled``, ...); hot paths read ``_tls``.
"""
from __future__ import annotations

import threading


class _AutogradState(threading.local):
    # Class attributes are each new thread's defaults.
    enabled = True   # grad mode
    anomaly = False  # detect_anomaly
    inplace_target = None  # storage of the tensor an in-place op is about to write (see autograd/function.py)


_tls = _AutogradState()


# The active graph tracers (lamina.jit.trace), innermost last; empty when not tracing, so hot paths
# (Function.apply, Module.__call__, Tensor.item) test it with one global read. Process-wide, not
# per-thread: a tracer records only the thread that started it (see autograd/tracing.py).
_tracers: list = []
