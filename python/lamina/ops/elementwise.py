"""Binary elementwise ops: arithmetic with broadcasting and PyTorch type promotion (add, sub, mul,
div, pow, maximum, minimum, their reflected and in-place forms). Comparisons and predicates are in
ops/compare.py; unary math, clamp and where in ops/unary.py. C++: cpp/ops/elementwise.cpp (binary) and
cpp/ops/unary.cpp; every backward runs there too, already reduced to the input's shape.

Type promotion (as in PyTorch): a Python scalar never widens a tensor of its own category
(float32 tensor * 2.5 stays float32) but lifts an integer/bool tensor to the default float dtype
(int64 tensor * 2.5 -> float32); division is always true division. Bools as in PyTorch: bool + bool,
bool * bool, maximum and minimum of bools stay bool (the C++ kernel computes in int64, the result
is cast back), and subtraction with a bool tensor or a Python bool raises RuntimeError.

In-place forms (``add_``, ``x += y``, ``clamp_``, ...) write into ``self``'s memory, so every view
of ``self`` sees the result, with PyTorch's autograd semantics: on a leaf that requires grad (or a
view of one) they raise; on a tensor in the graph its history is rewritten, and through a view the
base's history too (autograd/views.py: CopySlices); a value saved for backward and later written
in place makes backward raise.
"""
from __future__ import annotations

import numbers

from .. import _C
from .. import _dtype as D
from .._state import _tracers
from ..autograd import grad_mode
from ..autograd.function import Function
from ..autograd.views import check_inplace, write_inplace
from ..tensor import Tensor

W = Tensor._wrap
_B = _C.BinaryOp
_U = _C.UnaryOp
ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM = _B.add, _B.sub, _B.mul, _B.div, _B.pow, _B.maximum, _B.minimum
_F32, _F64, _I64, _BOOL = D.float32._c, D.float64._c, D.int64._c, D.bool_._c
_FLOATS = frozenset((_F32, _F64))


# ---- type promotion with Python scalars ----------------------------------------------------------

def _scalar_dtype(cdt, s, op):
    """The dtype a tensor of C++ dtype ``cdt`` op Python scalar ``s`` computes in (PyTorch rules)."""
    if cdt in _FLOATS:
        if not isinstance(s, numbers.Number):
            raise TypeError(f"{op.name}: expected a Tensor or a Python number, got {type(s).__name__}")
        return cdt
    if isinstance(s, bool):
        r = cdt
    elif isinstance(s, numbers.Integral):
        r = _I64
    elif isinstance(s, numbers.Real):
        return D._default._c
    else:
        raise TypeError(f"{op.name}: expected a Tensor or a Python number, got {type(s).__name__}")
    if op is DIV:
        return D._default._c
    return r


# ---- binary arithmetic -------------------------------------------------------------------------

# (keep a and b, keep out) for each op's backward; the C++ backward reads the rest only for shapes.
_SAVES_TT = {ADD: (False, False), SUB: (False, False), MUL: (True, False), DIV: (True, False),
             POW: (True, True), MAXIMUM: (True, False), MINIMUM: (True, False)}
_STAND_INS: dict = {}  # (dtype, shape, device) -> stand-in (a few hundred entries at most)


def _stand_in(c):
    """A zero-strided tensor with c's shape and dtype and no memory of c's: the C++ backward reads
    shapes and dtypes from it, never values. Saving it instead of c lets c be written in place
    after the op (PyTorch's rule: an op saves only what its gradient reads)."""
    key = (c.dtype, c.shape, c.device)
    z = _STAND_INS.get(key)
    if z is None:
        if len(_STAND_INS) > 512:
            _STAND_INS.clear()
        z = _C.empty([], c.dtype, "cpu")
        _C.fill_(z, 0.0)
        if key[2] != "cpu":
            z = z.to_device(key[2])
        z = _STAND_INS[key] = z.expand(list(key[1]))
    return z


class _BinaryTT(Function):
    """tensor op tensor; subclasses set ``op``."""

    op = None

    @classmethod
    def forward(cls, ctx, a, b, alpha):
        c = _C.binary_forward(a._c, b._c, cls.op, alpha)
        # Save only what the op's gradient reads (PyTorch's choice): values it does not read are
        # replaced by same-shape stand-ins, so writing them in place later is not an error.
        keep_ab, keep_out = _SAVES_TT[cls.op]
        ctx.a = a._c if keep_ab else _stand_in(a._c)
        ctx.b = b._c if keep_ab else _stand_in(b._c)
        ctx.out = c if keep_out else _stand_in(c)
        ctx.alpha = alpha
        return W(c)

    @classmethod
    def backward(cls, ctx, dout):
        na, nb = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        da, db = _C.binary_backward(dout._c, ctx.a, ctx.b, ctx.out, cls.op, ctx.alpha, na, nb)
        return (None if da is None else W(da), None if db is None else W(db), None)

    @classmethod
    def backward_graph(cls, ctx, dout):
        """The same gradients as differentiable lamina ops (create_graph=True)."""
        op, al = cls.op, ctx.alpha
        na, nb = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if op is ADD or op is SUB:
            return (dout if na else None), ((dout * (al if op is ADD else -al)) if nb else None), None
        a, b = ctx.input(0, ctx.a), ctx.input(1, ctx.b)
        da = db = None
        if op is MUL:
            da, db = (dout * b if na else None), (dout * a if nb else None)
        elif op is DIV:
            da, db = (dout / b if na else None), (-dout * a / (b * b) if nb else None)
        elif op is POW:
            if na:
                da = dout * b * a ** (b - 1)
            if nb:
                # log and where live in unary.py, above this module: reach them as Tensor methods
                db = dout * ctx.output(ctx.out) * a.log()
        else:  # maximum / minimum: the gradient goes to the chosen side, split evenly on ties
            pick_a = (a > b) if op is MAXIMUM else (a < b)
            tie = a == b
            half = dout * 0.5
            if na:
                da = dout.where(pick_a, half.where(tie, dout * 0.0))  # where(pick_a, dout, ...)
            if nb:
                db = (dout * 0.0).where(pick_a, half.where(tie, dout))
        return da, db, None


class _BinaryTS(Function):
    """tensor op scalar (``reverse``: scalar op tensor); subclasses set ``op``."""

    op = None

    @classmethod
    def forward(cls, ctx, a, s, reverse, dt, alpha):
        c = _C.binary_scalar_forward(a._c, s, cls.op, reverse, dt, alpha)
        op = cls.op
        keep_a = op is POW or op is MAXIMUM or op is MINIMUM or (op is DIV and reverse)
        keep_out = op is POW and reverse
        ctx.a = a._c if keep_a else _stand_in(a._c)
        ctx.out = c if keep_out else _stand_in(c)
        ctx.s, ctx.rev, ctx.alpha = s, reverse, alpha
        return W(c)

    @classmethod
    def backward(cls, ctx, dout):
        da = _C.binary_scalar_backward(dout._c, ctx.a, ctx.s, ctx.out, cls.op, ctx.rev, ctx.alpha)
        return W(da), None, None, None, None

    @classmethod
    def backward_graph(cls, ctx, dout):
        op, s, rev, al = cls.op, ctx.s, ctx.rev, ctx.alpha
        if op is ADD:
            da = dout * al if rev else dout
        elif op is SUB:
            da = dout * (-al) if rev else dout
        elif op is MUL:
            da = dout * s
        elif op is DIV:
            if rev:
                a = ctx.input(0, ctx.a)
                da = -dout * s / (a * a)
            else:
                da = dout / s
        elif op is MAXIMUM or op is MINIMUM:  # the C++ rule: all of it when chosen, half on a tie
            a = ctx.input(0, ctx.a)
            pick = (a > s) if op is MAXIMUM else (a < s)
            da = dout.where(pick, (dout * 0.5).where(a == s, dout * 0.0))
        else:  # POW
            if rev:
                import math

                da = dout * ctx.output(ctx.out) * math.log(s)
            else:
                a = ctx.input(0, ctx.a)
                da = dout * s * a ** (s - 1) if s != 0 else dout * 0.0
        return da, None, None, None, None


def _pair(name, op):
    tt = type(name, (_BinaryTT,), {"op": op})
    ts = type(name + "Scalar", (_BinaryTS,), {"op": op})
    return tt, ts


_FNS = {op: _pair(n, op) for n, op in (("Add", ADD), ("Sub", SUB), ("Mul", MUL), ("Div", DIV),
                                        ("Pow", POW), ("Maximum", MAXIMUM), ("Minimum", MINIMUM))}


def _boolish(x) -> bool:
    return x._c.dtype == _BOOL if isinstance(x, Tensor) else x.__class__ is bool


_BOOL_KEEPS = (ADD, MUL, MAXIMUM, MINIMUM)  # the ops PyTorch computes in bool for two bools


def _arith(op, a, b, alpha=1.0):
    """``a op b`` with PyTorch's promotion: bools as in the module docstring, then the rest.

    The bool rules are checked around the kernel call rather than before it, so that float ops
    (the hot path) read no dtype here: two bools come out of the kernel as int64, the only case
    that needs a look at the operands."""
    if op is SUB and (_boolish(a) or _boolish(b)):
        _refuse_bool_sub(a, b)
    out = _arith_core(op, a, b, alpha)
    if op in _BOOL_KEEPS and out._c.dtype == _I64 and _boolish(a) and _boolish(b):
        # Both bool: a logical or/and. The kernel computed in int64 (values 0..2 here, or
        # 0..1+alpha), so "nonzero" is exact.
        return out.to(D.bool_)
    return out


def _refuse_bool_sub(a, b) -> None:
    if _boolish(a) and _boolish(b):
        raise RuntimeError("sub: Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    raise RuntimeError("sub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                       "trying to invert a mask, use the `~` or `logical_not()` operator instead.")


def _arith_core(op, a, b, alpha=1.0):
    tt, ts = _FNS[op]
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if op is DIV and a._c.dtype not in _FLOATS and b._c.dtype not in _FLOATS:
                a = a.to(D._default)
            if not ((a.requires_grad or b.requires_grad) and grad_mode._tls.enabled) and not _tracers:
                return W(_C.binary_forward(a._c, b._c, op, alpha))  # fast path: nothing to record
            return tt.apply(a, b, alpha)
        if op is POW and a._c.dtype == _I64 and isinstance(b, numbers.Integral) and b < 0:
            raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
        dt = _scalar_dtype(a._c.dtype, b, op)
        if not (a.requires_grad and grad_mode._tls.enabled) and not _tracers:
            return W(_C.binary_scalar_forward(a._c, float(b), op, False, dt, alpha))
        return ts.apply(a, float(b), False, dt, alpha)
    if isinstance(b, Tensor):
        dt = _scalar_dtype(b._c.dtype, a, op)
        if not (b.requires_grad and grad_mode._tls.enabled) and not _tracers:
            return W(_C.binary_scalar_forward(b._c, float(a), op, True, dt, alpha))
        return ts.apply(b, float(a), True, dt, alpha)
    raise TypeError(f"{op.name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")


def add(input, other, *, alpha=1) -> Tensor:
    """``input + alpha * other`` with broadcasting; either side may be a Python number.

    PyTorch: ``torch.add``.
    """
    return _arith(ADD, input, other, float(alpha))


def sub(input, other, *, alpha=1) -> Tensor:
    """``input - alpha * other`` with broadcasting.

    PyTorch: ``torch.sub``.
    """
    return _arith(SUB, input, other, float(alpha))


subtract = sub


def rsub(input, other, *, alpha=1) -> Tensor:
    """``other - alpha * input``.

    PyTorch: ``torch.rsub``.
    """
    if isinstance(other, Tensor):
        return _arith(SUB, other, input, float(alpha))
    if _boolish(input) or _boolish(other):
        _refuse_bool_sub(other, input)
    return _FNS[SUB][1].apply(input, float(other), True, _scalar_dtype(input._c.dtype, other, SUB), float(alpha))


def mul(input, other) -> Tensor:
    """Elementwise product with broadcasting.

    PyTorch: ``torch.mul``.
    """
    return _arith(MUL, input, other)


multiply = mul


def div(input, other, *, rounding_mode=None) -> Tensor:
    """True division (integers divide to the default float dtype).

    PyTorch: ``torch.div``.
    """
    if rounding_mode is not None:
        raise NotImplementedError("div: rounding_mode is not supported; use true division")
    return _arith(DIV, input, other)


divide = true_divide = div


def pow(input, exponent) -> Tensor:  # noqa: A001
    """``input ** exponent``: tensor ** scalar, scalar ** tensor or tensor ** tensor.

    PyTorch: ``torch.pow``.
    """
    return _arith(POW, input, exponent)


def maximum(input, other) -> Tensor:
    """Elementwise maximum (NaN propagates; ties share the gradient).

    PyTorch: ``torch.maximum``.
    """
    return _arith(MAXIMUM, input, other)


def minimum(input, other) -> Tensor:
    """Elementwise minimum (NaN propagates; ties share the gradient).

    PyTorch: ``torch.minimum``.
    """
    return _arith(MINIMUM, input, other)


def _radd(self, other):
    return _arith(ADD, other, self) if _is_operand(other) else NotImplemented


def _rsub(self, other):
    return _arith(SUB, other, self) if _is_operand(other) else NotImplemented


def _rmul(self, other):
    return _arith(MUL, other, self) if _is_operand(other) else NotImplemented


def _rdiv(self, other):
    return _arith(DIV, other, self) if _is_operand(other) else NotImplemented


def _rpow(self, other):
    return _arith(POW, other, self) if _is_operand(other) else NotImplemented


def _is_operand(x) -> bool:
    return isinstance(x, (Tensor, numbers.Number))


def _op(fn):
    """An operator: NotImplemented for operands we do not handle, so Python tries the other side."""
    def f(self, other):
        return fn(self, other) if _is_operand(other) else NotImplemented
    f.__name__ = fn.__name__
    return f


# ---- in place -----------------------------------------------------------------------------------

def _check_leaf(self, name):
    check_inplace(self, name)


def _record_inplace(self, compute, name):
    """Graph-recording in-place op: ``self = compute(self)`` written into self's memory, its history
    (or its base's, for a view) rewritten (autograd/views.py)."""
    return write_inplace(self, name, compute)


def _records(self, other=None) -> bool:
    if _tracers:  # lamina.jit.trace: in-place ops go through write_inplace, which the tracer follows
        return True
    return (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)) and grad_mode._tls.enabled


def _arith_(op, name, self, other, alpha=1.0):
    if _boolish(self) or _boolish(other):  # PyTorch's bool rules, as in _arith
        if op is SUB:
            _refuse_bool_sub(self, other)
        if op in _BOOL_KEEPS and _boolish(self) and _boolish(other) and isinstance(other, Tensor):
            r = _arith(op, self, other, alpha)  # bool |= / &=
            if r.shape != self.shape:
                raise RuntimeError(f"{name}: output with shape {list(self.shape)} doesn't match the broadcast "
                                   f"shape {list(r.shape)}")
            return self.copy_(r)
    if _records(self, other):
        return write_inplace(self, name, lambda src: _arith(op, src, other, alpha))
    if isinstance(other, Tensor):
        _C.binary_(self._c, other._c, op, alpha)
        return self
    dt = _scalar_dtype(self._c.dtype, other, op)
    if dt in _FLOATS and self._c.dtype not in _FLOATS:
        raise RuntimeError(f"{name}: result type {D.from_c(dt).name} can't be cast to the desired output "
                           f"type {self.dtype.name}")
    _C.binary_scalar_(self._c, float(other), op, False, alpha)
    return self


def add_(self, other, *, alpha=1) -> Tensor:
    """In-place ``self += alpha * other`` (see the module docstring for the autograd rules)."""
    return _arith_(ADD, "add_", self, other, float(alpha))


def sub_(self, other, *, alpha=1) -> Tensor:
    return _arith_(SUB, "sub_", self, other, float(alpha))


def mul_(self, other) -> Tensor:
    return _arith_(MUL, "mul_", self, other)


def div_(self, other) -> Tensor:
    return _arith_(DIV, "div_", self, other)


def pow_(self, exponent) -> Tensor:
    return _arith_(POW, "pow_", self, exponent)


def _iop(fn):
    def f(self, other):
        return fn(self, other) if _is_operand(other) else NotImplemented
    f.__name__ = fn.__name__
    return f


__all__ = [
    "add", "sub", "subtract", "rsub", "mul", "multiply", "div", "divide", "true_divide", "pow",
    "maximum", "minimum",
]
FUNCTIONAL: list = []
TENSOR_METHODS: dict = {
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div, "divide": div,
    "true_divide": div, "pow": pow, "maximum": maximum, "minimum": minimum,
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "pow_": pow_,
    "__add__": _op(add), "__radd__": _radd, "__iadd__": _iop(add_),
    "__sub__": _op(sub), "__rsub__": _rsub, "__isub__": _iop(sub_),
    "__mul__": _op(mul), "__rmul__": _rmul, "__imul__": _iop(mul_),
    "__truediv__": _op(div), "__rtruediv__": _rdiv, "__itruediv__": _iop(div_),
    "__pow__": _op(pow), "__rpow__": _rpow, "__ipow__": _iop(pow_),
    "__pos__": lambda self: self,
}
