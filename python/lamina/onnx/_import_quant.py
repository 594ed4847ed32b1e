"""ONNX QuantizeLinear / DequantizeLinear (per-tensor, per-axis and blocked scales) to and from
the integer types lamina holds as int64: dequantize is (x - zero_point) * scale, quantize is
round-half-to-even(x / scale) + zero_point saturated to the target type's range, in lamina ops.
float8 / int4 targets are refused (lamina has no such dtype).
"""
from __future__ import annotations

import numpy as np

from .. import _dtype as D
from ..ops import shape as S
from ..ops import unary as U
from ._import_common import NodeContext, norm_axis, np_dtype_of, op
from ._import_math import _round


def _broadcast_scale(ctx, s, x_shape: list):
    """scale / zero point shaped to broadcast against x: scalar, per-axis [d] or blocked [.., nb, ..]"""
    if s.ndim == 0 or (s.ndim == 1 and s.shape[0] == 1 and not ctx.attr("block_size", 0)):
        return S.reshape(s, [])
    axis = norm_axis(ctx, ctx.attr("axis", 1), len(x_shape))
    block = ctx.attr("block_size", 0)
    if not block:
        return S.reshape(s, [s.shape[0]] + [1] * (len(x_shape) - 1 - axis))
    shp = list(s.shape)
    nb = shp[axis]
    rep = S.expand(S.unsqueeze(s, axis + 1), *(shp[:axis + 1] + [block] + shp[axis + 1:]))
    full = S.reshape(rep, shp[:axis] + [nb * block] + shp[axis + 1:])
    return S.narrow(full, axis, 0, x_shape[axis])


def _value_type(ctx, i: int):
    """the element type ONNX declares for input i (lamina widened it), or None"""
    name = ctx.node.input[i] if i < len(ctx.node.input) else ""
    return getattr(ctx.module, "value_types", {}).get(name) if name else None


@op("DequantizeLinear")
def _dequantize(ctx: NodeContext, ins):
    x = ctx.tensor(ins[0])
    scale = ctx.tensor(ins[1])
    if not scale.dtype.is_floating_point:
        raise ctx.unsupported(f"scale of dtype {scale.dtype}")
    y = x.to(scale.dtype)
    if len(ins) > 2 and ins[2] is not None:
        y = y - _broadcast_scale(ctx, ctx.tensor(ins[2]).to(scale.dtype), list(x.shape))
    return y * _broadcast_scale(ctx, scale, list(x.shape))


@op("QuantizeLinear")
def _quantize(ctx, ins):
    x = ctx.tensor(ins[0])
    scale = ctx.tensor(ins[1], like=x)
    zp = ins[2] if len(ins) > 2 else None
    if ctx.attr("output_dtype", 0):
        target = np_dtype_of(ctx.attr("output_dtype"))
    elif isinstance(zp, np.ndarray):
        target = zp.dtype
    elif zp is not None and _value_type(ctx, 2):
        target = np_dtype_of(_value_type(ctx, 2))
    else:
        target = np.dtype(np.uint8)
    if target.kind not in "iu" or target.itemsize > 4:
        raise ctx.unsupported(f"quantizing to {target} (lamina holds 8/16/32-bit integers as int64)")
    info = np.iinfo(target)
    q = _round(x / _broadcast_scale(ctx, scale, list(x.shape)))
    if zp is not None:
        q = q + _broadcast_scale(ctx, ctx.tensor(zp).to(x.dtype), list(x.shape))
    return U.clamp(q, float(info.min), float(info.max)).to(D.int64)
