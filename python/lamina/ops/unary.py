"""Unary elementwise ops: neg, exp, log, sqrt, abs, sin, cos, square, reciprocal, sign (and their
in-place forms), clamp/clip and where. C++: cpp/ops/unary.cpp. In-place rules and type promotion
are those described in ops/elementwise.py.
"""
from __future__ import annotations

import numbers

from .. import _C
from .. import _dtype as D
from .._state import _tracers
from ..autograd import grad_mode
from ..autograd.function import Function
from ..tensor import Tensor
from .creation import tensor
from .elementwise import _FLOATS, _U, W, _record_inplace, _records, maximum, minimum
from .elementwise import _stand_in

# ---- unary --------------------------------------------------------------------------------------

class _Unary(Function):
    op = None

    @classmethod
    def forward(cls, ctx, x):
        c = _C.unary_forward(x._c, cls.op)
        # Keep only the values the gradient reads (the C++ backward reads the rest for shapes):
        # a later in-place write to an unread one is then not an error, as in PyTorch.
        reads_x, reads_out = _UNARY_READS[cls.op]
        ctx.x = x._c if reads_x else _stand_in(x._c)
        ctx.out = c if reads_out else _stand_in(c)
        return W(c)

    @classmethod
    def backward(cls, ctx, dout):
        return W(_C.unary_backward(dout._c, ctx.x, ctx.out, cls.op))

    @classmethod
    def backward_graph(cls, ctx, dout):
        """The same gradient as differentiable lamina ops (create_graph=True)."""
        op = cls.op
        if op == _U.neg:
            return -dout
        if op == _U.sign:
            return dout * 0.0
        if op == _U.abs:  # sign(x) is piecewise constant: a constant factor (0 at 0, as the C++)
            return dout * W(_C.unary_forward(ctx.x, _U.sign))
        if op == _U.exp:
            return dout * ctx.output(ctx.out)
        if op == _U.sqrt:
            return dout / (ctx.output(ctx.out) * 2.0)
        if op == _U.reciprocal:
            y = ctx.output(ctx.out)
            return -dout * y * y
        x = ctx.input(0, ctx.x)
        if op == _U.log:
            return dout / x
        if op == _U.sin:
            return dout * cos(x)
        if op == _U.cos:
            return -dout * sin(x)
        return dout * x * 2.0  # square


# (reads x, reads out) per op's backward
_UNARY_READS = {_U.neg: (False, False), _U.exp: (False, True), _U.log: (True, False),
                _U.sqrt: (False, True), _U.abs: (True, False), _U.sin: (True, False),
                _U.cos: (True, False), _U.square: (True, False), _U.reciprocal: (False, True),
                _U.sign: (False, False)}


_UNARY = {op: type(n, (_Unary,), {"op": op}) for n, op in (
    ("Neg", _U.neg), ("Exp", _U.exp), ("Log", _U.log), ("Sqrt", _U.sqrt), ("Abs", _U.abs),
    ("Sin", _U.sin), ("Cos", _U.cos), ("Square", _U.square), ("Reciprocal", _U.reciprocal),
    ("Sign", _U.sign))}
_FLOAT_MATH = frozenset((_U.exp, _U.log, _U.sqrt, _U.sin, _U.cos, _U.reciprocal))


def _unary(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op.name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    # is_floating_point first: hashing a dtype or op enum costs 0.1-0.35 us, a third of a small
    # op's whole call; only integer/bool inputs look the op up.
    if not x._c.is_floating_point and op in _FLOAT_MATH:
        x = x.to(D._default)  # integer input: computed in the default float dtype, like PyTorch
    if not (x.requires_grad and grad_mode._tls.enabled) and not _tracers:  # (jit.trace records every op)
        return W(_C.unary_forward(x._c, op))
    return _UNARY[op].apply(x)


def _unary_(op, name, x):
    if _records(x):
        return _record_inplace(x, lambda src: _unary(op, src), name)
    _C.unary_(x._c, op)
    return x


def neg(input) -> Tensor:
    """``-input``.

    PyTorch: ``torch.neg``.
    """
    return _unary(_U.neg, input)


negative = neg


def exp(input) -> Tensor:
    """e to the power of each element (integers promote to the default float dtype).

    PyTorch: ``torch.exp``; Keras: ``keras.ops.exp``. Example: ``lamina.exp(lamina.zeros(3))`` gives ones.
    """
    return _unary(_U.exp, input)


def log(input) -> Tensor:
    """Natural logarithm.

    PyTorch: ``torch.log``; Keras: ``keras.ops.log``. Integers promote to the default float dtype;
    ``log(0) = -inf``, negative inputs give nan. Example: ``lamina.log(lamina.ones(2))`` gives zeros.
    """
    return _unary(_U.log, input)


def sqrt(input) -> Tensor:
    """Square root.

    PyTorch: ``torch.sqrt``.
    """
    return _unary(_U.sqrt, input)


def abs(input) -> Tensor:  # noqa: A001
    """Absolute value (gradient sign(x), 0 at 0).

    PyTorch: ``torch.abs``.
    """
    return _unary(_U.abs, input)


absolute = abs


def sin(input) -> Tensor:
    """Sine of each element, in radians; ``torch.sin``. Integers promote to the default float dtype.
    Gradient ``cos(x)``.
    """
    return _unary(_U.sin, input)


def cos(input) -> Tensor:
    """Cosine of each element, in radians; ``torch.cos``. Integers promote to the default float dtype.
    Gradient ``-sin(x)``.
    """
    return _unary(_U.cos, input)


def square(input) -> Tensor:
    """``input * input``.

    PyTorch: ``torch.square``.
    """
    return _unary(_U.square, input)


def reciprocal(input) -> Tensor:
    """``1 / input``.

    PyTorch: ``torch.reciprocal``.
    """
    return _unary(_U.reciprocal, input)


def sign(input) -> Tensor:
    """-1, 0 or 1 per element; its gradient is zero.

    PyTorch: ``torch.sign``.
    """
    return _unary(_U.sign, input)


def neg_(self):
    return _unary_(_U.neg, "neg_", self)


def exp_(self):
    return _unary_(_U.exp, "exp_", self)


def log_(self):
    return _unary_(_U.log, "log_", self)


def sqrt_(self):
    return _unary_(_U.sqrt, "sqrt_", self)


def abs_(self):
    return _unary_(_U.abs, "abs_", self)


def square_(self):
    return _unary_(_U.square, "square_", self)


def reciprocal_(self):
    return _unary_(_U.reciprocal, "reciprocal_", self)


def sign_(self):
    return _unary_(_U.sign, "sign_", self)


# ---- clamp --------------------------------------------------------------------------------------

class Clamp(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        c = _C.clamp_forward(x._c, 0.0 if lo is None else lo, 0.0 if hi is None else hi,
                             lo is not None, hi is not None)
        ctx.x, ctx.b = x._c, (lo, hi)
        return W(c)

    @staticmethod
    def backward(ctx, dout):
        lo, hi = ctx.b
        dx = _C.clamp_backward(dout._c, ctx.x, 0.0 if lo is None else lo, 0.0 if hi is None else hi,
                               lo is not None, hi is not None)
        return W(dx), None, None

    @staticmethod
    def backward_graph(ctx, dout):
        # The pass-through mask is piecewise constant: the C++ backward of ones gives it exactly
        # (1 where lo <= x <= hi, bounds included).
        lo, hi = ctx.b
        x = ctx.x
        ones = _C.empty(list(x.shape), x.dtype, x.device)
        _C.fill_(ones, 1.0)
        mask = _C.clamp_backward(ones, x, 0.0 if lo is None else lo, 0.0 if hi is None else hi,
                                 lo is not None, hi is not None)
        return dout * W(mask), None, None


def _clamp_args(input, min, max, name):
    if min is None and max is None:
        raise ValueError(f"{name}: at least one of 'min' or 'max' must not be None")
    for v in (min, max):
        if v is not None and not isinstance(v, numbers.Number):
            raise TypeError(f"{name}: min/max must be numbers or Tensors, got {type(v).__name__}")
    floaty = any(isinstance(v, float) for v in (min, max))
    return (None if min is None else float(min)), (None if max is None else float(max)), floaty


def clamp(input, min=None, max=None) -> Tensor:  # noqa: A002
    """Limits every element to [min, max] (either bound optional; tensors broadcast).
    The gradient passes where min <= x <= max.

    PyTorch: ``torch.clamp`` / ``torch.clip``; Keras: ``keras.ops.clip``.

    Example::

        lamina.clamp(lamina.randn(5), min=-1.0, max=1.0)
    """
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    lo, hi, floaty = _clamp_args(input, min, max, "clamp")
    if floaty and input._c.dtype not in _FLOATS:
        input = input.to(D._default)
    return Clamp.apply(input, lo, hi)


clip = clamp


def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002
    """In-place clamp (see the module docstring for the autograd rules)."""
    if _records(self, min) or _records(self, max):
        return _record_inplace(self, lambda src: clamp(src, min, max), "clamp_")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        self._c.copy_(clamp(self, min, max)._c)
        return self
    lo, hi, floaty = _clamp_args(self, min, max, "clamp_")
    if floaty and self._c.dtype not in _FLOATS:
        raise RuntimeError(f"clamp_: result type float can't be cast to the desired output type {self.dtype.name}")
    _C.clamp_(self._c, 0.0 if lo is None else lo, 0.0 if hi is None else hi, lo is not None, hi is not None)
    return self


clip_ = clamp_


# ---- where --------------------------------------------------------------------------------------

class Where(Function):
    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.cond, ctx.meta = cond._c, (x._c.shape, x._c.dtype, y._c.shape, y._c.dtype)
        return W(_C.where_forward(cond._c, x._c, y._c))

    @staticmethod
    def backward(ctx, dout):
        xs, xd, ys, yd = ctx.meta
        nx, ny = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        dx, dy = _C.where_backward(dout._c, ctx.cond, list(xs), xd, list(ys), yd, nx, ny)
        return None, (None if dx is None else W(dx)), (None if dy is None else W(dy))

    @staticmethod
    def backward_graph(ctx, dout):
        cond = W(ctx.cond)
        dx = where(cond, dout, 0.0) if ctx.needs_input_grad[1] else None
        dy = where(cond, 0.0, dout) if ctx.needs_input_grad[2] else None
        return None, dx, dy


def _scalar_tensor(s):
    if not isinstance(s, numbers.Number):
        raise TypeError(f"where: expected a Tensor or a Python number, got {type(s).__name__}")
    return tensor(s)


def where(condition, input=None, other=None) -> Tensor:
    """``input`` where ``condition`` (a bool tensor) holds, else ``other``; all three broadcast.
    ``input``/``other`` may be Python numbers.

    PyTorch: ``torch.where(condition, input, other)``; Keras: ``keras.ops.where``.

    Example::

        x = lamina.randn(5)
        lamina.where(x > 0, x, 0.0)     # ReLU by hand
    """
    if input is None or other is None:
        raise NotImplementedError("where(condition) with one argument is not supported; use nonzero")
    if not isinstance(condition, Tensor):
        raise TypeError(f"where: condition must be a bool Tensor, got {type(condition).__name__}")
    if not isinstance(input, Tensor):
        input = _scalar_tensor(input)
    if not isinstance(other, Tensor):
        other = _scalar_tensor(other)
    return Where.apply(condition, input, other)



__all__ = [
    "neg", "negative", "exp", "log", "sqrt", "abs", "absolute", "sin", "cos", "square", "reciprocal", "sign",
    "clamp", "clip", "where",
]
FUNCTIONAL: list = []
TENSOR_METHODS: dict = {
    "neg": neg, "negative": neg, "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "absolute": abs,
    "sin": sin, "cos": cos, "square": square, "reciprocal": reciprocal, "sign": sign,
    "clamp": clamp, "clip": clamp, "where": lambda self, condition, other: where(condition, self, other),
    "neg_": neg_, "exp_": exp_, "log_": log_, "sqrt_": sqrt_, "abs_": abs_, "square_": square_,
    "reciprocal_": reciprocal_, "sign_": sign_, "clamp_": clamp_, "clip_": clamp_,
    "__neg__": neg, "__abs__": abs,
}
