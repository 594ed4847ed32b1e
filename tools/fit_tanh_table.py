"""Fits cpp/core/vec_tanh_table.h: tanh(a)/a = P_i(a - C[i]) on 32 intervals of a = |x|, the index
being (bits(a) - bits(0.0625)) >> 21 clamped at 0 (four intervals per octave, [0, 0.078) first,
[8, 9.02] last). Relative fits on Chebyshev nodes, reweighted toward minimax; coefficients rounded
to float one at a time (the rest refitted); centres where tanh(c)/c is nearly a float.
Usage: python tools/fit_tanh_table.py [degree] > cpp/core/vec_tanh_table.h (then clang-format)."""
from __future__ import annotations

import struct
import sys

import numpy as np


def g(a: np.ndarray) -> np.ndarray:
    """tanh(a)/a in float64 (1 at 0)."""
    a = np.asarray(a, dtype=np.float64)
    out = np.ones_like(a)
    nz = a != 0
    out[nz] = np.tanh(a[nz]) / a[nz]
    return out


def f2b(f: float) -> int:
    return struct.unpack("<I", struct.pack("<f", f))[0]


def b2f(b: int) -> float:
    return struct.unpack("<f", struct.pack("<I", b))[0]


def fit_interval(lo: float, hi: float, c: float, deg: int) -> np.ndarray:
    k = np.arange(400)
    xs = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * (k + 0.5) / 400)
    y = g(xs)
    v = np.vander(xs - c, deg + 1, increasing=True) / y[:, None]  # relative error rows
    cf = np.zeros(deg + 1)
    for j in range(deg + 1):
        rhs = 1 - v[:, :j] @ cf[:j]
        w = np.ones_like(y)
        for _ in range(30):
            sol = np.linalg.lstsq(v[:, j:] * w[:, None], rhs * w, rcond=None)[0]
            err = np.abs(v[:, j:] @ sol - rhs)
            w = w * (1 + err / err.max()) ** 2
            w /= w.max()
        cf[j] = np.float32(sol[0])
    return cf


def main(deg: int = 6, amax: float = 9.02) -> None:
    base = f2b(0.0625)
    rows, worst = [], 0.0
    for i in range(32):
        lo, hi = (0.0 if i == 0 else b2f(base + (i << 21))), min(b2f(base + ((i + 1) << 21)), amax)
        if lo >= amax:
            rows.append(rows[-1])
            continue
        c = 0.0
        if i:
            cand = (np.arange(-4000, 4001) * ((hi - lo) / 16000) + 0.5 * (lo + hi)).astype(np.float32)
            gc = g(cand.astype(np.float64))
            c = float(cand[np.argmin(np.abs(gc.astype(np.float32).astype(np.float64) - gc) / gc)])
        cf = fit_interval(lo, hi, c, deg)
        xd = np.linspace(lo, hi, 20001)
        worst = max(worst, float(np.abs(np.polyval(cf[::-1], xd - c) / g(xd) - 1).max()))
        rows.append((c, cf))
    print(f"max relative error {worst:.3g}", file=sys.stderr)
    print("alignas(64) inline constexpr float kTanhC[32] = {"
          + ", ".join(f"{np.float32(r[0]).item():.9e}f" for r in rows) + "};")
    for j in range(deg + 1):
        print(f"alignas(64) inline constexpr float kTanhP{j}[32] = {{"
              + ", ".join(f"{np.float32(r[1][j]).item():.9e}f" for r in rows) + "};")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 6)
