"""``lamina.autograd.detect_anomaly()``: backward raises on the first op whose gradient has NaN or
Inf, naming it. Off by default (non-finite values are not an error)."""
from __future__ import annotations

from .grad_mode import _tls


class detect_anomaly:
    """Context manager (or decorator) that turns on NaN/Inf checks in backward.

    PyTorch: ``torch.autograd.detect_anomaly``.

    Example::

        with lamina.autograd.detect_anomaly():
            loss.backward()             # raises naming the first op whose gradient is NaN or Inf
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check = check_nan

    def __enter__(self):
        self._prev = _tls.anomaly
        _tls.anomaly = self.check
        return self

    def __exit__(self, *exc):
        _tls.anomaly = self._prev
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with detect_anomaly(self.check):
                return fn(*a, **k)

        return wrapper


def set_detect_anomaly(mode: bool) -> None:
    """Turns anomaly mode on or off for this thread (``torch.autograd.set_detect_anomaly``): backward
    then raises on the first op whose gradient has a NaN or Inf, naming the op. Prefer the context
    manager ``with lamina.autograd.detect_anomaly():``.
    """
    _tls.anomaly = bool(mode)
