"""The one place that turns each op module's declarations into the public API. Every module in
``OP_MODULES`` declares its exports once, next to the code:

    __all__         names for the ``lamina`` namespace (``lamina.relu``, ``lamina.cat``, ...)
    FUNCTIONAL      names for ``lamina.nn.functional``
    TENSOR_METHODS  {method or operator name: function (or property)} for ``lamina.Tensor``

Importing this module sets the Tensor methods (``lamina/__init__.py`` imports it right after
``tensor.py``); ``NAMESPACE`` and ``FUNCTIONAL`` are read by ``lamina/__init__.py`` and
``lamina/nn/functional.py``. It sits above ``lamina.ops`` and ``lamina.autograd`` and below ``nn``.
Adding an op family: write ``ops/<family>.py`` with those three declarations and list it here.
"""
from __future__ import annotations

from .autograd import api as _autograd_api
from .autograd import hooks as _autograd_hooks
from .ops import (activation, advanced_index, attention, compare, conv, creation, dropout, elementwise, embedding,
                  fill, indexing, join, linear, loss, matmul, norm, pool, rbf, reduce, rnn, shape, softmax, unary)
from .tensor import Tensor

# Bottom to top, as they import each other: a later module's name wins a clash (there are none).
OP_MODULES = (creation, elementwise, compare, unary, reduce, shape, join, indexing, advanced_index, fill, matmul,
              activation, softmax, loss, conv, pool, embedding, dropout, norm, rbf, linear, rnn, attention)
# Tensor methods implemented by autograd (backward, register_hook, retain_grad).
AUTOGRAD_MODULES = (_autograd_api, _autograd_hooks)


def _collect(attr: str) -> dict:
    out: dict = {}
    for m in OP_MODULES:
        for name in getattr(m, attr):
            out[name] = getattr(m, name)
    return out


NAMESPACE: dict = _collect("__all__")
FUNCTIONAL: dict = _collect("FUNCTIONAL")
TENSOR_METHODS: dict = {}
for _m in AUTOGRAD_MODULES + OP_MODULES:
    TENSOR_METHODS.update(_m.TENSOR_METHODS)
del _m

for _name, _fn in TENSOR_METHODS.items():
    setattr(Tensor, _name, _fn)
del _name, _fn
