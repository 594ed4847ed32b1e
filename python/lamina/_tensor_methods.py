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


# ---- in-place fills (ops/creation.py); no autograd: they overwrite values ----
def _fill_(self, value):
    _check_inplace_leaf(self, "fill_")
    from . import _C

    _C.fill_(self._c, float(value))
    return self


def _zero_(self):
    return _fill_(self, 0.0)


def _uniform_(self, a=0.0, b=1.0):
    _check_inplace_leaf(self, "uniform_")
    from . import _C

    _C.uniform_(self._c, float(a), float(b))
    return self


def _normal_(self, mean=0.0, std=1.0):
    _check_inplace_leaf(self, "normal_")
    from . import _C

    _C.normal_(self._c, float(mean), float(std))
    return self


def _copy_(self, src):
    _check_inplace_leaf(self, "copy_")
    if not isinstance(src, Tensor):
        src = creation.tensor(src, dtype=self.dtype)
    self._c.copy_(src._c)
    return self


def _check_inplace_leaf(t, op):
    from .autograd import grad_mode

    if t.requires_grad and t.grad_fn is None and grad_mode.is_grad_enabled():
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation.")


Tensor.fill_ = _fill_
Tensor.zero_ = _zero_
Tensor.uniform_ = _uniform_
Tensor.normal_ = _normal_
Tensor.copy_ = _copy_
