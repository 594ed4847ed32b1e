"""ONNX AffineGrid and GridSample (nearest, linear, cubic; zeros, border, reflection padding;
align_corners; 2-D and 3-D) as lamina ops, following onnx's reference: sample coordinates are
computed from the grid tensor with lamina arithmetic, each interpolation tap is a gather from the
flattened image weighted by its coefficient, so gradients reach both the image and the grid.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import _dtype as D
from ..ops import compare as Cmp
from ..ops import indexing as I
from ..ops import matmul as M
from ..ops import shape as S
from ..ops import unary as U
from ._import_common import NodeContext, op, to_lamina
from ._import_math import _floor, _round


def _base_axis(n: int, align: bool) -> np.ndarray:
    if align:
        return np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)
    return (np.arange(n) * 2.0 + 1.0) / n - 1.0


@op("AffineGrid")
def _affine_grid(ctx: NodeContext, ins):
    theta = ctx.tensor(ins[0])
    size = ctx.ints(ins[1])
    align = bool(ctx.attr("align_corners", 0))
    spatial = size[2:]
    axes = [_base_axis(n, align) for n in spatial]  # slowest (depth/height) first
    mesh = np.meshgrid(*axes, indexing="ij")
    # rows of [x, y, (z,) 1]: ONNX orders a point's coordinates fastest axis first
    base = np.stack([m.reshape(-1) for m in reversed(mesh)] + [np.ones(mesh[0].size)], 1)
    grid = M.matmul(to_lamina(base.astype(theta.dtype._np)), S.transpose(theta, 1, 2))  # [N, P, nd]
    return S.reshape(grid, [size[0]] + spatial + [len(spatial)])


def _reflect(x, lo: float, hi: float):
    """reflect x into [lo, hi] by the near border, as many times as needed"""
    rng = hi - lo
    below, above = Cmp.lt(x, lo), Cmp.gt(x, hi)
    dx = U.where(below, lo - x, x - hi)
    n = _floor(dx / rng)
    r = dx - n * rng
    even = Cmp.eq(n - _floor(n * 0.5) * 2.0, 0)
    low_side = lo + r
    high_side = hi - r
    y = U.where(below, U.where(even, low_side, high_side), U.where(even, high_side, low_side))
    return U.where(Cmp.logical_or(below, above), y, x)


def _cubic(f):
    a = -0.75
    f1, g, g1 = f + 1.0, 1.0 - f, 2.0 - f
    return [((f1 * a - 5 * a) * f1 + 8 * a) * f1 - 4 * a, (f * (a + 2) - (a + 3)) * f * f + 1.0,
            (g * (a + 2) - (a + 3)) * g * g + 1.0, ((g1 * a - 5 * a) * g1 + 8 * a) * g1 - 4 * a]


@op("GridSample")
def _grid_sample(ctx, ins):
    x = ctx.tensor(ins[0])
    grid = ctx.tensor(ins[1], like=x)
    if not x.dtype.is_floating_point:
        raise ctx.unsupported(f"GridSample of {x.dtype}")
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(ctx.attr("mode", "linear"), ctx.attr("mode", "linear"))
    pad = ctx.attr("padding_mode", "zeros")
    align = bool(ctx.attr("align_corners", 0))
    n, c = x.shape[0], x.shape[1]
    dims = list(x.shape[2:])
    nd = len(dims)
    out_sp = list(grid.shape[1:-1])
    g = S.reshape(grid, [n, -1, nd])  # [N, P, nd], coordinates fastest axis first
    per_dim = []  # for each spatial dim: list of (index int64 [N, P], weight [N, P] or None)
    for i, d in enumerate(dims):
        v = g[:, :, nd - 1 - i]
        v = (v + 1.0) * 0.5 * (d - 1) if align else ((v + 1.0) * d - 1.0) * 0.5
        lo, hi = (0.0, d - 1.0) if align else (-0.5, d - 0.5)
        if mode == "nearest":
            v = _round(v)
        out = Cmp.logical_or(Cmp.lt(v, lo), Cmp.gt(v, hi))
        if pad == "border":
            v = U.where(out, U.clamp(v, 0.0, d - 1.0), v)
        elif pad == "reflection":
            v = _reflect(v, lo, hi)
        if mode == "nearest":
            taps = [(v, None)]
        else:
            v0 = _floor(v)
            f = v - v0
            offs, coeffs = ([0, 1], [1.0 - f, f]) if mode == "linear" else ([-1, 0, 1, 2], _cubic(f))
            taps = [(v0 + float(o), w) for o, w in zip(offs, coeffs)]
        fixed = []
        for pos, w in taps:  # each tap's pixel under the padding mode
            if pad == "zeros":
                ok = Cmp.logical_and(Cmp.ge(pos, 0), Cmp.le(pos, d - 1.0)).to(x.dtype)
                w = ok if w is None else w * ok
                pos = U.clamp(pos, 0.0, d - 1.0)
            elif pad == "border":
                pos = U.clamp(pos, 0.0, d - 1.0)
            else:
                pos = _reflect(pos, lo, hi)
                pos = U.where(Cmp.lt(pos, 0), U.neg(_floor(U.neg(pos))), _floor(pos))  # int(): toward zero
            fixed.append((pos.to(D.int64), w))
        per_dim.append(fixed)
    strides = np.cumprod([1] + dims[::-1])[:-1][::-1]
    flat = S.reshape(x, [n, c, -1])
    acc = None
    for combo in itertools.product(*per_dim):
        idx, w = None, None
        for (pos, wi), st in zip(combo, strides):
            term = pos * int(st)
            idx = term if idx is None else idx + term
            if wi is not None:
                w = wi if w is None else w * wi
        idx = S.expand(S.unsqueeze(idx, 1), n, c, idx.shape[1])
        vals = I.gather(flat, 2, S.contiguous(idx))
        if w is not None:
            vals = vals * S.unsqueeze(w, 1)
        acc = vals if acc is None else acc + vals
    return S.reshape(acc, [n, c] + out_sp)
