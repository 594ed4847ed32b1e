"""Ctrl-C in training loops: the first SIGINT is deferred to the end of the current step (the loop
then stops cleanly and raises TrainingInterrupted), a second one interrupts at once; and
``StepGuard``, which puts the model's buffers back when a training step raises."""
from __future__ import annotations

import signal
import sys
import threading

from ..autograd.grad_mode import no_grad

__all__ = ["DeferSigint", "StepGuard", "TrainingInterrupted"]


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by ``fit`` / ``rl.train`` when Ctrl-C (SIGINT) stopped training at a step boundary.
    A KeyboardInterrupt, so existing handlers still see it; ``history`` holds the completed epochs
    (or episodes). The model and optimizer hold the state after the last completed step."""

    def __init__(self, message: str, history=None) -> None:
        super().__init__(message)
        self.history = history


class DeferSigint:
    """``with DeferSigint(who) as d:`` the first SIGINT only sets ``d.requested`` (the loop checks it
    between steps); a second raises KeyboardInterrupt immediately. Active only in the main thread
    and only where Python's default handler is installed (a user's own handler is left alone)."""

    def __init__(self, who: str, enabled: bool = True) -> None:
        self.who, self.enabled = who, enabled
        self.requested = False
        self._installed = False

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt(f"{self.who}: interrupted again (Ctrl-C twice): stopping at once")
        self.requested = True
        print(f"\n{self.who}: Ctrl-C: stopping after the current step (press Ctrl-C again to stop at once)",
              file=sys.stderr, flush=True)

    def __enter__(self) -> "DeferSigint":
        if (self.enabled and threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self._installed = False


class StepGuard:
    """Snapshot of a model's buffers (BatchNorm running statistics and counters) taken before a
    training step, put back with ``restore()`` when the step raises: a forward pass updates them
    before a later layer can fail. Parameters need no copy: only the optimizer writes them, and
    ``Optimizer.step`` is all-or-nothing."""

    def __init__(self, model) -> None:
        self._model = model
        self._bufs: list = []
        self._saved = None

    def save(self) -> None:
        # Listed every step: a callback may swap a buffer object between steps.
        m = self._model
        self._bufs = [b for b in m.buffers() if b is not None] if hasattr(m, "buffers") else []
        self._saved = None
        if self._bufs:
            with no_grad():
                self._saved = [b.detach().clone() for b in self._bufs]

    def restore(self) -> None:
        if self._saved is not None:
            with no_grad():
                for b, s in zip(self._bufs, self._saved):
                    b.copy_(s)
