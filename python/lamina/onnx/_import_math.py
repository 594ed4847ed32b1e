"""ONNX elementwise ops as lamina ops: arithmetic, comparisons and logic, unary math, activations,
Clip/Where/Cast. Integer constants (shape arithmetic) fold in NumPy; every tensor goes through
lamina's own ops, so autograd sees them.
"""
from __future__ import annotations

import numpy as np

from .. import _dtype as D
from ..ops import activation as A
from ..ops import compare as Cmp
from ..ops import elementwise as E
from ..ops import unary as U
from ..tensor import Tensor
from ._import_common import NodeContext, lamina_dtype, np_dtype_of, op


def _two(ctx: NodeContext, ins):
    a, b = ins[0], ins[1]
    if not isinstance(a, Tensor):
        b = ctx.tensor(b)
        a = ctx.tensor(a, like=b)
    else:
        b = ctx.tensor(b, like=a)
    return a, b


def _int_div_fold(a, b):
    q = np.trunc(np.true_divide(a, b))  # ONNX integer Div truncates toward zero
    return q.astype(np.result_type(a, b))


_NP_BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": _int_div_fold,
              "Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
              "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or,
              "Xor": np.logical_xor}


def _fold_binary(ctx, ins):
    return np.asarray(_NP_BINARY[ctx.node.op_type](ins[0], ins[1]))


@op("Add", "Sub", "Mul", fold=_fold_binary)
def _arith(ctx, ins):
    a, b = _two(ctx, ins)
    return {"Add": E.add, "Sub": E.sub, "Mul": E.mul}[ctx.node.op_type](a, b)


@op("Div", fold=_fold_binary)
def _div(ctx, ins):
    a, b = _two(ctx, ins)
    if not a.dtype.is_floating_point:
        return _int_trunc_div(a, b)
    return E.div(a, b)


@op("Pow")
def _pow(ctx, ins):
    x, y = _two(ctx, ins)
    out = E.pow(x, y)
    return out if out.dtype is x.dtype else out.to(x.dtype)


@op("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", fold=_fold_binary)
def _compare(ctx, ins):
    a, b = _two(ctx, ins)
    fn = {"Equal": Cmp.eq, "Less": Cmp.lt, "Greater": Cmp.gt, "LessOrEqual": Cmp.le, "GreaterOrEqual": Cmp.ge}
    return fn[ctx.node.op_type](a, b)


@op("And", "Or", "Xor", fold=_fold_binary)
def _logic(ctx, ins):
    a, b = _two(ctx, ins)
    t = ctx.node.op_type
    if t == "And":
        return Cmp.logical_and(a, b)
    if t == "Or":
        return Cmp.logical_or(a, b)
    return Cmp.ne(a, b)


@op("Not", fold=lambda ctx, ins: np.logical_not(ins[0]))
def _not(ctx, ins):
    return Cmp.logical_not(ctx.tensor(ins[0]))


def _fold_variadic(ctx, ins):
    t = ctx.node.op_type
    fn = {"Max": np.maximum, "Min": np.minimum, "Sum": np.add}[t]
    out = ins[0]
    for v in ins[1:]:
        out = fn(out, v)
    return np.asarray(out)


@op("Max", "Min", "Sum", fold=_fold_variadic)
def _variadic(ctx, ins):
    t = ctx.node.op_type
    fn = {"Max": E.maximum, "Min": E.minimum, "Sum": E.add}[t]
    out = ctx.tensor(ins[0])
    for v in ins[1:]:
        a, b = _two(ctx, [out, v])
        out = fn(a, b)
    return out


@op("Mean")
def _mean(ctx, ins):
    out = ctx.tensor(ins[0])
    for v in ins[1:]:
        a, b = _two(ctx, [out, v])
        out = E.add(a, b)
    return E.div(out, float(len(ins)))


def _float_only(ctx, x: Tensor) -> Tensor:
    if not x.dtype.is_floating_point:
        raise ctx.unsupported(f"input dtype {x.dtype} (this op is defined on floats)")
    return x


_UNARY = {"Exp": U.exp, "Log": U.log, "Sqrt": U.sqrt, "Sin": U.sin, "Cos": U.cos, "Reciprocal": U.reciprocal,
          "Sigmoid": A.sigmoid, "Tanh": A.tanh, "Softplus": A.softplus}


@op(*_UNARY)
def _unary_float(ctx, ins):
    return _UNARY[ctx.node.op_type](_float_only(ctx, ctx.tensor(ins[0])))


@op("Abs", fold=lambda ctx, ins: np.abs(ins[0]))
def _abs(ctx, ins):
    return U.abs(ctx.tensor(ins[0]))


@op("Neg", fold=lambda ctx, ins: np.negative(ins[0]))
def _neg(ctx, ins):
    return U.neg(ctx.tensor(ins[0]))


@op("Sign")
def _sign(ctx, ins):
    return U.sign(ctx.tensor(ins[0]))


@op("Sinh", "Cosh")
def _hyperbolic(ctx, ins):
    x = _float_only(ctx, ctx.tensor(ins[0]))
    e, ei = U.exp(x), U.exp(U.neg(x))
    return (e - ei if ctx.node.op_type == "Sinh" else e + ei) * 0.5


@op("Tan")
def _tan(ctx, ins):
    x = _float_only(ctx, ctx.tensor(ins[0]))
    return U.sin(x) / U.cos(x)


@op("Relu")
def _relu(ctx, ins):
    return A.relu(ctx.tensor(ins[0]))


@op("LeakyRelu")
def _leaky(ctx, ins):
    return A.leaky_relu(_float_only(ctx, ctx.tensor(ins[0])), ctx.attr("alpha", 0.01))


@op("Elu")
def _elu(ctx, ins):
    return A.elu(_float_only(ctx, ctx.tensor(ins[0])), ctx.attr("alpha", 1.0))


@op("Selu")
def _selu(ctx, ins):
    x = _float_only(ctx, ctx.tensor(ins[0]))
    return A.elu(x, ctx.attr("alpha", 1.67326319217681884765625)) * ctx.attr("gamma", 1.05070102214813232421875)


@op("Celu")
def _celu(ctx, ins):
    alpha = ctx.attr("alpha", 1.0)
    return A.elu(_float_only(ctx, ctx.tensor(ins[0])) / alpha, 1.0) * alpha


@op("Softsign")
def _softsign(ctx, ins):
    x = _float_only(ctx, ctx.tensor(ins[0]))
    return x / (U.abs(x) + 1.0)


def _hard_sigmoid(x, alpha, beta):
    return U.clamp(x * alpha + beta, 0.0, 1.0)


@op("HardSigmoid")
def _hsig(ctx, ins):
    return _hard_sigmoid(_float_only(ctx, ctx.tensor(ins[0])), ctx.attr("alpha", 0.2), ctx.attr("beta", 0.5))


@op("HardSwish")
def _hswish(ctx, ins):
    x = _float_only(ctx, ctx.tensor(ins[0]))
    return x * _hard_sigmoid(x, 1.0 / 6.0, 0.5)


@op("Gelu")
def _gelu(ctx, ins):
    return A.gelu(_float_only(ctx, ctx.tensor(ins[0])), approximate=ctx.attr("approximate", "none"))


@op("Mish")
def _mish(ctx, ins):
    x = _float_only(ctx, ctx.tensor(ins[0]))
    return x * A.tanh(A.softplus(x))


@op("Swish")
def _swish(ctx, ins):
    x = _float_only(ctx, ctx.tensor(ins[0]))
    return x * A.sigmoid(x * ctx.attr("alpha", 1.0))


@op("SwiGLU")
def _swiglu(ctx, ins):
    a = _float_only(ctx, ctx.tensor(ins[0]))
    b = ctx.tensor(ins[1], like=a)
    return a * A.sigmoid(a * ctx.attr("alpha", 1.0)) * b


@op("PRelu")
def _prelu(ctx, ins):
    x, slope = _two(ctx, ins)
    return A.relu(x) + U.clamp(x, max=0) * slope


@op("ThresholdedRelu")
def _trelu(ctx, ins):
    x = _float_only(ctx, ctx.tensor(ins[0]))
    return x * Cmp.gt(x, ctx.attr("alpha", 1.0)).to(x.dtype)


@op("Shrink")
def _shrink(ctx, ins):
    x = ctx.tensor(ins[0])
    lambd, bias = ctx.attr("lambd", 0.5), ctx.attr("bias", 0.0)
    if not x.dtype.is_floating_point:
        raise ctx.unsupported(f"input dtype {x.dtype}")
    return U.where(Cmp.lt(x, -lambd), x + bias, U.where(Cmp.gt(x, lambd), x - bias, x * 0.0))


@op("IsNaN")
def _isnan(ctx, ins):
    return Cmp.isnan(_float_only(ctx, ctx.tensor(ins[0])))


@op("IsInf")
def _isinf(ctx, ins):
    x = _float_only(ctx, ctx.tensor(ins[0]))
    inf = Cmp.logical_not(Cmp.logical_or(Cmp.isfinite(x), Cmp.isnan(x)))
    if not ctx.attr("detect_positive", 1):
        inf = Cmp.logical_and(inf, Cmp.lt(x, 0))
    if not ctx.attr("detect_negative", 1):
        inf = Cmp.logical_and(inf, Cmp.gt(x, 0))
    return inf


@op("Clip")
def _clip(ctx, ins):
    x = ctx.tensor(ins[0])
    lo = ins[1] if len(ins) > 1 else None
    hi = ins[2] if len(ins) > 2 else None
    if lo is not None:
        x = E.maximum(x, ctx.tensor(lo, like=x))
    if hi is not None:
        x = E.minimum(x, ctx.tensor(hi, like=x))
    return x


def _fold_where(ctx, ins):
    return np.where(ins[0], ins[1], ins[2])


@op("Where", fold=_fold_where)
def _where(ctx, ins):
    x = ins[1] if isinstance(ins[1], Tensor) else ins[2]
    a = ctx.tensor(ins[1], like=x if isinstance(x, Tensor) else None)
    b = ctx.tensor(ins[2], like=a)
    return U.where(ctx.tensor(ins[0]), a, b)


def _fold_cast(ctx, ins):
    to = np_dtype_of(ctx.attr("to"))
    if to.kind not in "biuf" or to.itemsize < 4 and to.kind == "f":
        raise ctx.unsupported(f"Cast to {to}")
    return ins[0].astype(to)


@op("Cast", fold=_fold_cast)
def _cast(ctx, ins):
    dt = lamina_dtype(ctx.attr("to"), ctx.where)
    x = ctx.tensor(ins[0])
    return x if x.dtype is dt else x.to(dt)


@op("CastLike")
def _castlike(ctx, ins):
    target = ins[1]
    dt = target.dtype if isinstance(target, Tensor) else ctx.tensor(np.zeros(0, dtype=target.dtype)).dtype
    x = ctx.tensor(ins[0])
    return x if x.dtype is dt else x.to(dt)


@op("Identity", fold=lambda ctx, ins: ins[0])
def _identity(ctx, ins):
    return ins[0]



# ---- rounding and integer division, composed from lamina's cast (which truncates toward zero),
# compares and where; |x| past 2^52 (float64) / 2^23 (float32) is already integral and kept ----

def _floor(x: Tensor) -> Tensor:
    limit = 2.0 ** (52 if x.dtype is D.float64 else 23)
    keep = Cmp.logical_not(Cmp.lt(U.abs(x), limit))  # huge, inf or NaN
    t = U.where(keep, U.neg(x) * 0.0, x).to(D.int64).to(x.dtype)
    return U.where(keep, x, t - Cmp.gt(t, x).to(x.dtype))


def _trunc(x: Tensor) -> Tensor:
    return U.where(Cmp.lt(x, 0), U.neg(_floor(U.neg(x))), _floor(x))


@op("Floor")
def _floor_op(ctx, ins):
    return _floor(_float_only(ctx, ctx.tensor(ins[0])))


@op("Ceil")
def _ceil_op(ctx, ins):
    return U.neg(_floor(U.neg(_float_only(ctx, ctx.tensor(ins[0])))))


def _round(x: Tensor) -> Tensor:
    f = _floor(x)
    d = x - f
    odd = Cmp.ne(f - _floor(f * 0.5) * 2.0, 0)
    up = Cmp.logical_or(Cmp.gt(d, 0.5), Cmp.logical_and(Cmp.eq(d, 0.5), odd))  # halves go to the even neighbour
    return f + up.to(x.dtype)


@op("Round")
def _round_op(ctx, ins):
    return _round(_float_only(ctx, ctx.tensor(ins[0])))


def _int_trunc_div(a: Tensor, b: Tensor) -> Tensor:
    # exact while |a|, |b| < 2^53 (float64's integer range); ONNX integer Div truncates
    return (a.to(D.float64) / b.to(D.float64)).to(D.int64)


@op("Mod")
def _mod(ctx, ins):
    a, b = _two(ctx, ins)
    fmod = ctx.attr("fmod", 0)
    if a.dtype.is_floating_point:
        return a - b * (_trunc(a / b) if fmod else _floor(a / b))
    r = a - b * _int_trunc_div(a, b)  # C fmod: the sign of a
    if fmod:
        return r
    fix = Cmp.logical_and(Cmp.ne(r, 0), Cmp.ne(Cmp.lt(r, 0), Cmp.lt(b, 0)))  # Python mod: the sign of b
    return U.where(fix, r + b, r)


# Numerical Recipes' erfc fit (relative error < 1.2e-7 for every x >= 0), Horner coefficients
_ERFC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
         -0.82215223, 0.17087277)


@op("Erf")
def _erf(ctx, ins):
    """erf from lamina ops (lamina has none): the Maclaurin series for |x| < 0.5, where 1 - erfc
    would cancel, and 1 - erfc(|x|) with the sign of x elsewhere. The erfc fit's relative error
    (< 1.2e-7) bounds float64 results; float32 ones are within a few ulp."""
    x = _float_only(ctx, ctx.tensor(ins[0]))
    a = U.abs(x)
    t = U.reciprocal(a * 0.5 + 1.0)
    poly = t * 0.0 + _ERFC[-1]
    for c in reversed(_ERFC[:-1]):
        poly = poly * t + c
    erfc = t * U.exp(poly - a * a)
    big = U.sign(x) * (1.0 - erfc)
    x2 = x * x
    # 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)), n = 0..7 (the next term is < 3e-11 relative)
    coef = (1.0, -1.0 / 3, 1.0 / 10, -1.0 / 42, 1.0 / 216, -1.0 / 1320, 1.0 / 9360, -1.0 / 75600)
    series = x2 * 0.0 + coef[-1]
    for c in reversed(coef[:-1]):
        series = series * x2 + c
    small = x * series * 1.1283791670955126
    return U.where(Cmp.lt(a, 0.5), small, big)
