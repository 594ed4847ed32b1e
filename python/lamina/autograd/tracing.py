"""The hook graph capture (``lamina.jit.trace``) plugs into: the list of active tracers, and the
protocol ``Function.apply``, ``Module.__call__`` and ``Tensor.item`` & co. call while one is active.
When nothing is traced the list is empty and each hook costs one global read.

A tracer is an object with
- ``record(cls, args)``: run ``cls.apply(*args)`` (with the tracer ``busy``) and record the call;
- ``record_module(module, args, kwargs)``: None to trace into the module, else its outputs
  (a module recorded as one node, e.g. an LSTM);
- ``python_value(tensor, how)``: a traced tensor is being turned into a Python value (warns);
- ``rebind(t, r)``: an in-place op wrote its recorded result ``r`` into ``t`` (views.write_inplace);
- ``busy``: True while it runs an op it records (ops inside are not recorded again);
- ``thread``: the thread it records (other threads run untraced).
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

from .._state import _tracers as ACTIVE

__all__ = ["ACTIVE", "TracerWarning", "tracing", "current"]


class TracerWarning(UserWarning):
    """A traced value became a Python number/bool/list: the graph holds the value seen while
    tracing as a constant, so a different input would not change it (as in PyTorch)."""


def current():
    """The tracer recording this thread, or None."""
    if ACTIVE:
        t = ACTIVE[-1]
        if t.thread == threading.get_ident():
            return t
    return None


@contextmanager
def tracing(tracer):
    """Makes ``tracer`` the active one for the block (nested tracers stack)."""
    tracer.thread = threading.get_ident()
    ACTIVE.append(tracer)
    try:
        yield tracer
    finally:
        ACTIVE.remove(tracer)
