"""In-place fills and copies, as Tensor methods: ``fill_``, ``zero_``, ``uniform_``, ``normal_``,
``copy_``. Outside the graph they write straight into memory; in it they go through indexing's
``Overwrite``, so a tensor in the graph keeps its history (the overwritten values get no gradient,
``copy_``'s source does). C++: cpp/ops/creation.cpp (fill_, uniform_, normal_) and the C++ Tensor's copy_.
"""
from __future__ import annotations

from .. import _C
from .._state import _tls
from ..tensor import Tensor
from .creation import tensor
from .advanced_index import overwrite_


def _in_graph(self, src=None) -> bool:
    return _tls.enabled and (self.requires_grad or (isinstance(src, Tensor) and src.requires_grad))


def fill_(self: Tensor, value) -> Tensor:
    """Every element set to ``value``."""
    if _in_graph(self):
        return overwrite_(self, "fill_", tensor(float(value), dtype=self.dtype))
    _C.fill_(self._c, float(value))
    return self


def zero_(self: Tensor) -> Tensor:
    """Every element set to 0."""
    return fill_(self, 0.0)


def _random_(self: Tensor, name: str, fill) -> Tensor:
    if _in_graph(self):
        r = _C.empty(list(self.shape), self._c.dtype, self.device)
        fill(r)
        return overwrite_(self, name, Tensor._wrap(r))
    fill(self._c)
    return self


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fills with draws from U(a, b) (lamina's seeded generator)."""
    return _random_(self, "uniform_", lambda c: _C.uniform_(c, float(a), float(b)))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fills with draws from N(mean, std^2) (lamina's seeded generator)."""
    return _random_(self, "normal_", lambda c: _C.normal_(c, float(mean), float(std)))


def copy_(self: Tensor, src) -> Tensor:
    """Copies ``src`` (broadcast, cast to this tensor's dtype) into this tensor."""
    if not isinstance(src, Tensor):
        src = tensor(src, dtype=self.dtype)
    if _in_graph(self, src):
        return overwrite_(self, "copy_", src)
    self._c.copy_(src._c)
    return self


__all__: list = []
FUNCTIONAL: list = []
TENSOR_METHODS: dict = {"fill_": fill_, "zero_": zero_, "uniform_": uniform_, "normal_": normal_,
                        "copy_": copy_}
