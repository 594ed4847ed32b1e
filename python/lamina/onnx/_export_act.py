"""ONNX export of the activations (lamina/ops/activation.py) and softmax / log-softmax. The ones
ONNX lacks are composed: bipolar sigmoid ``2 sigmoid(x) - 1``, step ``x >= threshold``, softplus
with beta and threshold, GELU through Erf before opset 20.
"""
from __future__ import annotations

import math

from .. import _C
from ..ops import activation as _act
from ..ops.softmax import Softmax
from ._export_core import axis, onnx_dtype

_A = _C.Act


def _activation(b, n, a):
    x, p0, p1 = a[0], float(a[1]), float(a[2])
    v = n.args[0]
    act = n.op.act
    one = lambda: b.scalar(1.0, v)  # noqa: E731
    if act == _A.identity:
        return b.op("Identity", [x])
    if act == _A.sigmoid:
        return b.op("Sigmoid", [x])
    if act == _A.tanh:
        return b.op("Tanh", [x])
    if act == _A.relu:
        return b.op("Relu", [x])
    if act == _A.leaky_relu:
        return b.op("LeakyRelu", [x], alpha=p0)
    if act == _A.elu:
        return b.op("Elu", [x], alpha=p0)
    if act == _A.bipolar_sigmoid:  # 2 sigmoid(x) - 1
        s = b.op("Sigmoid", [x])
        return b.op("Sub", [b.op("Mul", [s, b.scalar(2.0, v)]), one()])
    if act == _A.softplus:  # log(1 + exp(beta x)) / beta, x itself where beta x > threshold
        bx = x if p0 == 1.0 else b.op("Mul", [x, b.scalar(p0, v)])
        sp = b.op("Softplus", [bx])
        if p0 != 1.0:
            sp = b.op("Div", [sp, b.scalar(p0, v)])
        return b.op("Where", [b.op("Greater", [bx, b.scalar(p1, v)]), x, sp])
    if act in (_A.step_ste, _A.step_sigmoid):  # Heaviside: 1 where x >= threshold (p0)
        ge = b.op("GreaterOrEqual", [x, b.scalar(p0, v)])
        return b.op("Cast", [ge], to=onnx_dtype(v.dtype))
    if act == _A.gelu:
        if b.opset >= 20:
            return b.op("Gelu", [x])
        e = b.op("Erf", [b.op("Mul", [x, b.scalar(1.0 / math.sqrt(2.0), v)])])
        return b.op("Mul", [b.op("Mul", [x, b.scalar(0.5, v)]), b.op("Add", [e, one()])])
    if act == _A.gelu_tanh:
        if b.opset >= 20:
            return b.op("Gelu", [x], approximate="tanh")
        k, c = math.sqrt(2.0 / math.pi), 0.044715
        x3 = b.op("Mul", [b.op("Mul", [x, x]), x])
        inner = b.op("Mul", [b.op("Add", [x, b.op("Mul", [x3, b.scalar(c, v)])]), b.scalar(k, v)])
        return b.op("Mul", [b.op("Mul", [x, b.scalar(0.5, v)]), b.op("Add", [b.op("Tanh", [inner]), one()])])
    raise NotImplementedError(f"activation {act}")


def _softmax(b, n, a):
    x, dim, log = a[0], a[1], a[2]
    return b.op("LogSoftmax" if log else "Softmax", [x], axis=axis(dim, n.args[0]))


CONVERTERS: dict = {cls: _activation for cls in _act._FN.values()}
CONVERTERS[Softmax] = _softmax
