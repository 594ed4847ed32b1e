"""``lamina.nn.functional`` (import as F): every op with PyTorch's name and argument order.
The functions live in lamina/ops/<family>.py; each module's FUNCTIONAL list says what is exported.
"""
from __future__ import annotations

from ..ops import (activation, conv, dropout, elementwise, embedding, indexing, linear, loss, norm,
                    pool, rbf, reduce, softmax, unary, rnn, attention)

_modules = (elementwise, unary, activation, reduce, softmax, loss, conv, pool, indexing, embedding, dropout,
            norm, rbf, linear, rnn, attention)
__all__ = []
for _m in _modules:
    for _n in _m.FUNCTIONAL:
        globals()[_n] = getattr(_m, _n)
        __all__.append(_n)
del _m
