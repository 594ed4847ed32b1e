"""ONNX Resize (nearest, linear, cubic; every coordinate_transformation_mode, antialias,
exclude_outside, axes, keep_aspect_ratio_policy). Resize is separable: per resized axis the source
indices and weights depend only on shapes and attributes, so they are computed in NumPy (a
constant, like a shape computation); the data path is lamina's index_select, multiply and sum.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops import indexing as I
from ..ops import reduce as R
from ..ops import shape as S
from ..ops import unary as U
from ._import_common import NodeContext, norm_axis, np_of, op, to_lamina


def _nearest(ratio: float, mode: str) -> np.ndarray:
    if float(ratio).is_integer():
        return np.array([0.0, 1.0])
    pick = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5, "floor": False, "ceil": True}
    if mode not in pick:
        raise ValueError(f"nearest_mode '{mode}'")
    return np.array([0.0, 1.0]) if pick[mode] else np.array([1.0, 0.0])


def _cubic(ratio: float, a: float) -> np.ndarray:
    r1, q = ratio + 1, 1 - ratio
    return np.array([((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a,
                     ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1,
                     ((a + 2) * q - (a + 3)) * q * q + 1,
                     ((a * (q + 1) - 5 * a) * (q + 1) + 8 * a) * (q + 1) - 4 * a])


def _cubic_aa(ratio: float, scale: float, a: float) -> np.ndarray:
    scale = min(scale, 1.0)

    def k(x):
        x = abs(x)
        if x <= 1:
            return (a + 2) * x ** 3 - (a + 3) * x * x + 1
        return a * x ** 3 - 5 * a * x * x + 8 * a * x - 4 * a if x < 2 else 0.0
    start = int(np.floor(-2 / scale) + 1)
    c = np.array([k(scale * (i - ratio)) for i in range(start, 2 - start)])
    return c / c.sum()


def _linear_aa(ratio: float, scale: float) -> np.ndarray:
    scale = min(scale, 1.0)
    start = int(np.floor(-1 / scale) + 1)
    c = np.clip(1 - np.abs((np.arange(start, 2 - start) - ratio) * scale), 0, 1)
    return c / c.sum()


def _source_coords(mode: str, out_n: int, in_n: int, scale: float, roi) -> tuple[np.ndarray, np.ndarray | None]:
    y = np.arange(out_n, dtype=np.float64)
    out_w = scale * in_n
    extrap = None
    if mode == "align_corners":
        x = np.zeros(out_n) if out_w == 1 else y * (in_n - 1) / (out_w - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "tf_crop_and_resize":
        x = np.full(out_n, (roi[1] - roi[0]) * (in_n - 1) / 2) if out_w == 1 else \
            y * (roi[1] - roi[0]) * (in_n - 1) / (out_w - 1)
        x = x + roi[0] * (in_n - 1)
        extrap = (x < 0) | (x > in_n - 1)
    elif mode == "pytorch_half_pixel":
        x = np.full(out_n, -0.5) if out_w == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif mode == "half_pixel_symmetric":
        offset = in_n / 2 * (1 - out_n / out_w)
        x = offset + (y + 0.5) / scale - 0.5
    else:
        raise ValueError(f"coordinate_transformation_mode '{mode}'")
    return x, extrap


def _axis_table(ctx, in_n: int, out_n: int, scale: float, roi):
    """(indices [out, taps], weights [out, taps], extrapolated mask [out] or None) for one axis."""
    x, extrap = _source_coords(ctx.attr("coordinate_transformation_mode", "half_pixel"), out_n, in_n, scale, roi)
    xi = np.floor(x).astype(np.int64)
    ratios = np.where(x == xi, 1.0, x - xi)  # ONNX prefers the pixel left of x
    mode, aa, a = ctx.attr("mode", "nearest"), ctx.attr("antialias", 0), ctx.attr("cubic_coeff_a", -0.75)
    if mode == "nearest":
        coeff = [_nearest(r, ctx.attr("nearest_mode", "round_prefer_floor")) for r in ratios]
    elif mode == "linear":
        coeff = [_linear_aa(r, scale) if aa else np.array([1 - r, r]) for r in ratios]
    elif mode == "cubic":
        coeff = [_cubic_aa(r, scale, a) if aa else _cubic(r, a) for r in ratios]
    else:
        raise ctx.unsupported(f"mode '{mode}'")
    coeffs = np.stack(coeff).astype(np.float64)
    n = coeffs.shape[1]
    pad = int(np.ceil(n / 2))
    xp = x + pad
    pp = np.floor(xp).astype(np.int64)
    frac = xp - pp
    if n % 2 == 0:
        off = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        off = np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    idx = (pp + off)[:, None] + np.arange(n)[None, :] - pad
    if ctx.attr("exclude_outside", 0):
        coeffs = np.where((idx < 0) | (idx >= in_n), 0.0, coeffs)
        s = coeffs.sum(axis=1, keepdims=True)
        coeffs = coeffs / np.where(s == 0, 1.0, s)
    return np.clip(idx, 0, in_n - 1), coeffs, extrap


@op("Resize")
def _resize(ctx: NodeContext, ins):
    x = ctx.tensor(ins[0])
    ins = list(ins) + [None] * (4 - len(ins))
    r = x.ndim
    axes = [norm_axis(ctx, a, r) for a in (ctx.attr("axes") or range(r))]
    roi = np_of(ins[1]).astype(np.float64).reshape(-1) if ins[1] is not None and np_of(ins[1]).size else None
    scales = np_of(ins[2]).astype(np.float64).reshape(-1) if ins[2] is not None and np_of(ins[2]).size else None
    sizes = ctx.ints(ins[3]) if ins[3] is not None and np_of(ins[3]).size else None
    full_roi = [0.0] * r + [1.0] * r
    if roi is not None:
        for i, d in enumerate(axes):
            full_roi[d], full_roi[r + d] = roi[i], roi[len(axes) + i]
    scale = [1.0] * r
    out = list(x.shape)
    if sizes is not None:
        for i, d in enumerate(axes):
            out[d] = sizes[i]
            scale[d] = sizes[i] / x.shape[d]
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            s = (min if policy == "not_larger" else max)(scale[d] for d in axes)
            for d in axes:
                scale[d], out[d] = s, int(s * x.shape[d] + 0.5)
    elif scales is not None:
        for i, d in enumerate(axes):
            scale[d] = scales[i]
            out[d] = int(scales[i] * x.shape[d])
    else:
        raise ctx.error("needs scales or sizes")
    mode = ctx.attr("mode", "nearest")
    if mode != "nearest" and not x.dtype.is_floating_point:
        raise ctx.unsupported(f"{mode} resize of {x.dtype}")
    y = x
    for d in axes:
        roi_d = (full_roi[d], full_roi[r + d])
        if math.isclose(scale[d], 1.0) and out[d] == y.shape[d] and roi_d == (0.0, 1.0):
            continue
        idx, w, extrap = _axis_table(ctx, y.shape[d], out[d], scale[d], roi_d)
        if mode == "nearest":
            pick = idx[np.arange(len(idx)), np.argmax(w, axis=1)]
            y = I.index_select(y, d, to_lamina(pick))
        else:
            taps = idx.shape[1]
            g = I.index_select(y, d, to_lamina(idx.reshape(-1)))
            shp = list(y.shape)
            g = S.reshape(g, shp[:d] + [out[d], taps] + shp[d + 1:])
            wt = to_lamina(w.astype(x.dtype._np).reshape([1] * d + [out[d], taps] + [1] * (r - d - 1)))
            y = R.sum(g * wt, d + 1)
        if extrap is not None and extrap.any():
            m = to_lamina(extrap.reshape([1] * d + [out[d]] + [1] * (r - d - 1)))
            y = U.where(m, to_lamina(np.array(ctx.attr("extrapolation_value", 0.0), dtype=x.dtype._np)), y)
    return y
