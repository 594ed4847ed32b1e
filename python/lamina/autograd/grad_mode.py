"""Whether operations record the graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Autograd state is per thread, as in PyTorch: ``with no_grad()`` in one thread does not stop another
thread from recording. Hot paths read ``_tls.enabled`` directly.
"""
from __future__ import annotations

import functools

from .._state import _AutogradState, _tls  # noqa: F401  (the state lives below tensor.py)


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are being recorded (in this thread).

    PyTorch: ``torch.is_grad_enabled``.
    """
    return _tls.enabled


class _GradMode:
    """Context manager and decorator that sets grad mode, restoring the previous one on exit."""

    _mode = True

    def __enter__(self):
        self._prev = _tls.enabled
        _tls.enabled = self._mode
        return self

    def __exit__(self, *exc):
        _tls.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disables graph recording: ``with lamina.no_grad(): ...`` or ``@lamina.no_grad()``.

    PyTorch: ``torch.no_grad``. Per thread, as in PyTorch.

    Example::

        with lamina.no_grad():
            y = model(x)                # y.requires_grad is False; nothing recorded
    """

    _mode = False


class enable_grad(_GradMode):
    """Re-enables graph recording inside a ``no_grad`` block.

    PyTorch: ``torch.autograd.enable_grad``.
    """

    _mode = True


class set_grad_enabled(_GradMode):
    """``with set_grad_enabled(flag):`` records the graph only when ``flag`` is true.

    PyTorch: ``torch.autograd.set_grad_enabled``.
    """

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
