"""Attaches op methods and operators to ``Tensor``. Each entry forwards to the op's home in
``lamina.ops``; this file is the index from a method name to where the op lives.
"""
from __future__ import annotations

from .ops import (activation, conv, creation, dropout, elementwise, embedding, indexing, linear,
                  loss, matmul, norm, pool, rbf, reduce, shape, softmax, unary, rnn, attention)
from .tensor import Tensor

# Each op module lists its methods in TENSOR_METHODS; attach them all.
for _mod in (elementwise, unary, activation, reduce, softmax, loss, conv, pool, indexing, embedding, dropout,
             norm, rbf, linear, rnn, attention):
    for _name, _fn in _mod.TENSOR_METHODS.items():
        setattr(Tensor, _name, _fn)
del _mod

# ---- shape and views (ops/shape.py) ----
Tensor.reshape = lambda self, *s: shape.reshape(self, *s)
Tensor.view = lambda self, *s: shape.view(self, *s)
Tensor.flatten = lambda self, start_dim=0, end_dim=-1: shape.flatten(self, start_dim, end_dim)
Tensor.transpose = lambda self, d0, d1: shape.transpose(self, d0, d1)
Tensor.t = lambda self: shape.t(self)
Tensor.T = property(lambda self: shape.permute(self, list(range(self.ndim - 1, -1, -1))))
Tensor.mT = property(lambda self: shape.transpose(self, -2, -1))
Tensor.permute = lambda self, *d: shape.permute(self, *d)
Tensor.expand = lambda self, *s: shape.expand(self, *s)
Tensor.expand_as = lambda self, o: shape.expand_as(self, o)
Tensor.squeeze = lambda self, dim=None: shape.squeeze(self, dim)
Tensor.unsqueeze = lambda self, dim: shape.unsqueeze(self, dim)
Tensor.contiguous = lambda self: shape.contiguous(self)
Tensor.clone = lambda self: shape.clone(self)
Tensor.__getitem__ = lambda self, key: shape.getitem(self, key)
Tensor.__setitem__ = lambda self, key, value: shape.setitem(self, key, value)

# ---- linear algebra (ops/matmul.py) ----
Tensor.matmul = lambda self, o: matmul.matmul(self, o)
Tensor.__matmul__ = lambda self, o: matmul.matmul(self, o)
Tensor.__rmatmul__ = lambda self, o: matmul.matmul(o, self)
Tensor.mm = lambda self, o: matmul.matmul(self, o)


# ---- in-place fills and copies (ops/creation.py, ops/indexing.py) ----
# Outside the graph they write straight into memory; in it they go through Overwrite, so a tensor
# in the graph keeps its history (the overwritten values get no gradient, copy_'s source does).
def _in_graph(self, src=None) -> bool:
    from .autograd import grad_mode

    return grad_mode._tls.enabled and (self.requires_grad or (isinstance(src, Tensor) and src.requires_grad))


def _fill_(self, value):
    if _in_graph(self):
        return indexing.overwrite_(self, "fill_", creation.tensor(float(value), dtype=self.dtype))
    from . import _C

    _C.fill_(self._c, float(value))
    return self


def _zero_(self):
    return _fill_(self, 0.0)


def _random_(self, name, fill):
    if _in_graph(self):
        from . import _C

        r = _C.empty(list(self.shape), self._c.dtype, self.device)
        fill(r)
        return indexing.overwrite_(self, name, Tensor._wrap(r))
    fill(self._c)
    return self


def _uniform_(self, a=0.0, b=1.0):
    from . import _C

    return _random_(self, "uniform_", lambda c: _C.uniform_(c, float(a), float(b)))


def _normal_(self, mean=0.0, std=1.0):
    from . import _C

    return _random_(self, "normal_", lambda c: _C.normal_(c, float(mean), float(std)))


def _copy_(self, src):
    if not isinstance(src, Tensor):
        src = creation.tensor(src, dtype=self.dtype)
    if _in_graph(self, src):
        return indexing.overwrite_(self, "copy_", src)
    self._c.copy_(src._c)
    return self


Tensor.fill_ = _fill_
Tensor.zero_ = _zero_
Tensor.uniform_ = _uniform_
Tensor.normal_ = _normal_
Tensor.copy_ = _copy_
Tensor.narrow = lambda self, dim, start, length: shape.narrow(self, dim, start, length)
Tensor.select = lambda self, dim, index: shape.select(self, dim, index)
Tensor.unbind = lambda self, dim=0: shape.unbind(self, dim)
