"""ONNX export of the math ops: binary elementwise ops (tensor-tensor and tensor-scalar, with
``alpha``), unary ops, matmul, clamp, where and the reductions (sum, mean, prod, amax/amin,
max/min along a dim, var/std, logsumexp).
"""
from __future__ import annotations

import numpy as np

from .. import _C
from .. import _dtype as D
from ..jit.ir import Sym
from ..ops import compare as _cmp
from ..ops import elementwise as _ew
from ..ops import unary as _un
from ..ops.matmul import MatMul
from ..ops.reduce import Amax, LogSumExp, MaxDim, Prod, Sum, Var
from ._export_core import axis, np_dtype, onnx_dtype, rank, unsupported

_B = _C.BinaryOp
_U = _C.UnaryOp
_BIN = {_B.add: "Add", _B.sub: "Sub", _B.mul: "Mul", _B.div: "Div", _B.pow: "Pow", _B.maximum: "Max",
        _B.minimum: "Min"}


def _binary_tt(b, n, a):
    x, y, alpha = a
    op = n.op.op
    if alpha != 1.0 and op in (_B.add, _B.sub):
        y = b.op("Mul", [y, b.scalar(alpha, n.args[1])])
    x, y = _common(b, n, x, y)
    return b.op(_BIN[op], [x, y])


def _common(b, n, x, y):
    """Casts the operands of a tensor-tensor op to the output dtype where they differ."""
    out = n.outputs[0].dtype
    vx, vy = n.args[0], n.args[1]
    if vx.dtype is not out and n.op.op is not _B.pow:
        x = b.op("Cast", [x], to=onnx_dtype(out))
    if vy.dtype is not out and n.op.op is not _B.pow:
        y = b.op("Cast", [y], to=onnx_dtype(out))
    return x, y


def _binary_ts(b, n, a):
    x, s, reverse, dt, alpha = a
    op = n.op.op
    out = n.outputs[0].dtype
    if n.args[0].dtype is not out:
        x = b.op("Cast", [x], to=onnx_dtype(out))
    c = b.number(s, np_dtype(out))  # (a Sym when the scalar follows the batch: x * x.shape[0])
    # alpha scales the second operand: x - alpha * s, or s - alpha * x when reversed (rsub)
    if reverse:
        if alpha != 1.0 and op in (_B.add, _B.sub):
            x = b.op("Mul", [x, b.const(np.asarray(alpha, dtype=np_dtype(out)))])
        return b.op(_BIN[op], [c, x])
    if alpha != 1.0 and op in (_B.add, _B.sub):
        c = b.op("Mul", [c, b.const(np.asarray(alpha, dtype=np_dtype(out)))])
    return b.op(_BIN[op], [x, c])


_UN = {_U.neg: "Neg", _U.exp: "Exp", _U.log: "Log", _U.sqrt: "Sqrt", _U.abs: "Abs", _U.sin: "Sin",
       _U.cos: "Cos", _U.reciprocal: "Reciprocal", _U.sign: "Sign"}


def _unary(b, n, a):
    x = a[0]
    op = n.op.op
    if n.args[0].dtype is not n.outputs[0].dtype:
        x = b.op("Cast", [x], to=onnx_dtype(n.outputs[0].dtype))
    if op == _U.square:
        return b.op("Mul", [x, x])
    return b.op(_UN[op], [x])


def _matmul(b, n, a):
    return b.op("MatMul", [a[0], a[1]])


def _clamp(b, n, a):
    x, lo, hi = a
    v = n.args[0]
    ins = [x, "" if lo is None else b.scalar(lo, v), "" if hi is None else b.scalar(hi, v)]
    while ins[-1] == "":
        ins.pop()
    return b.op("Clip", ins)


def _where(b, n, a):
    c, x, y = a
    x, y = _common(b, n, x, y) if n.args[1].dtype is not n.args[2].dtype else (x, y)
    if n.args[0].dtype is not D.bool_:
        c = b.op("Cast", [c], to=onnx_dtype(D.bool_))
    return b.op("Where", [c, x, y])


# ---- reductions ----
def _axes(dims, v):
    return list(range(rank(v))) if not dims else sorted(axis(d, v) for d in dims)


def _reduce(b, op: str, x, axes, keepdim: bool):
    """ReduceX over ``axes`` (axes as an input: ReduceSum from opset 13, the others from 18)."""
    if op == "ReduceSum" or b.opset >= 18:
        return b.op(op, [x, b.ints(axes)], keepdims=int(keepdim))
    return b.op(op, [x], axes=axes, keepdims=int(keepdim))


def _sum(b, n, a):
    x, dims, keepdim, mean = a
    v = n.args[0]
    if rank(v) == 0:
        return b.op("Identity", [x])
    return _reduce(b, "ReduceMean" if mean else "ReduceSum", x, _axes(dims, v), keepdim)


def _prod(b, n, a):
    x, dims, keepdim = a
    return _reduce(b, "ReduceProd", x, _axes(dims, n.args[0]), keepdim)


def _amax(b, n, a):
    x, dims, keepdim, is_max = a
    return _reduce(b, "ReduceMax" if is_max else "ReduceMin", x, _axes(dims, n.args[0]), keepdim)


def _max_dim(b, n, a):
    x, dim, keepdim, is_max = a
    d = axis(dim, n.args[0])
    val = _reduce(b, "ReduceMax" if is_max else "ReduceMin", x, [d], keepdim)
    idx = b.op("ArgMax" if is_max else "ArgMin", [x], axis=d, keepdims=int(keepdim))
    return [val, idx]


def _logsumexp(b, n, a):
    x, dims, keepdim = a
    v = n.args[0]
    axes = _axes(dims, v)
    # max-shifted, as the C++ does: ReduceLogSumExp overflows for large inputs in some runtimes
    m = _reduce(b, "ReduceMax", x, axes, True)
    s = _reduce(b, "ReduceSum", b.op("Exp", [b.op("Sub", [x, m])]), axes, keepdim)
    if not keepdim:
        m = b.op("Squeeze", [m, b.ints(axes)])
    return b.op("Add", [b.op("Log", [s]), m])


def _var(b, n, a):
    x, dims, correction, keepdim, take_sqrt = a
    v = n.args[0]
    axes = _axes(dims, v)
    count = 1
    for ax in axes:
        if isinstance(v.shape[ax], Sym):
            raise unsupported(n, "var/std over a dimension that follows the batch")
        count *= v.shape[ax]
    d = b.op("Sub", [x, _reduce(b, "ReduceMean", x, axes, True)])
    s = _reduce(b, "ReduceSum", b.op("Mul", [d, d]), axes, keepdim)
    out = b.op("Div", [s, b.scalar(max(count - correction, 0.0), v)])
    return b.op("Sqrt", [out]) if take_sqrt else out


_CMP = {_B.eq: "Equal", _B.lt: "Less", _B.le: "LessOrEqual", _B.gt: "Greater", _B.ge: "GreaterOrEqual",
        _B.ne: "Equal", _B.logical_and: "And", _B.logical_or: "Or"}


def _compare(b, n, a):
    op, x, y = a
    vx, vy = n.args[1], n.args[2]
    logical = op in (_B.logical_and, _B.logical_or)
    tensors = [(x, vx), (y, vy)]
    dts = [v.dtype for _, v in tensors if hasattr(v, "dtype")]
    common = D.bool_ if logical else (dts[0] if len(dts) == 1 or dts[0] is dts[1] else
                                      (dts[0] if dts[0].is_floating_point else dts[1]))
    ins = []
    for t, v in tensors:
        if hasattr(v, "dtype"):
            ins.append(t if v.dtype is common else b.op("Cast", [t], to=onnx_dtype(common)))
        else:  # a Python number
            if not logical and not common.is_floating_point and float(v) != int(v):
                common_f = D.float32
                ins = [b.op("Cast", [i], to=onnx_dtype(common_f)) for i in ins]
                common = common_f
            ins.append(b.const(np.asarray(bool(v) if logical else v, dtype=np_dtype(common)), hint="scalar"))
    out = b.op(_CMP[op], ins)
    return b.op("Not", [out]) if op is _B.ne else out


def _predicate(b, n, a):
    x, op = a
    v = n.args[0]
    if op == _U.logical_not:
        return b.op("Not", [x if v.dtype is D.bool_ else b.op("Cast", [x], to=onnx_dtype(D.bool_))])
    if not v.dtype.is_floating_point:  # integers: never NaN, always finite
        return b.op("Cast", [b.op("ConstantOfShape", [b.op("Shape", [x])])], to=onnx_dtype(D.bool_)) \
            if op == _U.isnan else b.op("Not", [b.op("Cast", [b.op("ConstantOfShape", [b.op("Shape", [x])])],
                                                         to=onnx_dtype(D.bool_))])
    if op == _U.isnan:
        return b.op("IsNaN", [x])
    return b.op("Not", [b.op("Or", [b.op("IsNaN", [x]), b.op("IsInf", [x])])])


CONVERTERS: dict = {_cmp.Compare: _compare, _cmp.Predicate: _predicate, MatMul: _matmul, _un.Clamp: _clamp,
                    _un.Where: _where, Sum: _sum, Prod: _prod, Amax: _amax, MaxDim: _max_dim,
                    LogSumExp: _logsumexp, Var: _var}
for _tt, _ts in _ew._FNS.values():
    CONVERTERS[_tt] = _binary_tt
    CONVERTERS[_ts] = _binary_ts
for _cls in _un._UNARY.values():
    CONVERTERS[_cls] = _unary
