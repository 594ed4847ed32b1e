"""Fits the tail polynomial of vec_math.h's float GELU: Phi(-a) exp(a^2/2) = t R(t), t = 1/(1 + k a),
a in [0.85, 16], R of degree 5, by Lawson's iteration (weighted least squares converging to a
weighted minimax fit) against an error budget B(a) instead of a flat relative error:

- x > 0: GELU = x - x h with h = Phi(-a); an error e in h reaches the result times h / (1 - h),
  and the result may be off by 2 ulp, about 2 roundings of which go elsewhere: B = 2^-24 (1.5 (1-h)/h - 2).
- x < 0: GELU = x h; test_vec_math.py allows 16 + 2x^2 ulp there: B = 2^-24 (14 + 2a^2).

Prints, per k, the largest |error| / B with float64 and with float32 coefficients, and the
coefficients (highest degree first). k = 0.49f gave 0.54 (vec_math.h uses it).
Run: .venv/bin/python tools/fit_gelu_tail.py [k ...]   (needs numpy and mpmath)
"""
from __future__ import annotations

import sys

import mpmath
import numpy as np

U = 2.0 ** -24
DEG = 5


def targets():
    a = np.concatenate([np.linspace(0.85, 3, 12001), np.linspace(3, 16, 6001)])
    mpmath.mp.dps = 30
    h = np.array([float(mpmath.erfc(mpmath.mpf(v) / mpmath.sqrt(2)) / 2) for v in a])
    m = np.array([float(mpmath.erfc(mpmath.mpf(v) / mpmath.sqrt(2)) / 2 * mpmath.exp(mpmath.mpf(v) ** 2 / 2))
                  for v in a])
    budget = np.minimum(U * (1.5 * (1 - h) / h - 2.0), U * (14 + 2 * a * a))
    return a, m, budget


def fit(a, m, budget, k, its=200):
    t = 1 / (1 + k * a)
    f = m / t
    V = np.vander(t, DEG + 1, increasing=True)
    w = np.ones_like(t)
    for _ in range(its):
        sw = np.sqrt(w) / (f * budget)
        c, *_ = np.linalg.lstsq(V * sw[:, None], f * sw, rcond=None)
        err = (V @ c - f) / f / budget
        w = w * np.abs(err)
        w /= w.sum()
    cf = c.astype(np.float32).astype(np.float64)
    return np.abs(err).max(), np.abs((V @ cf - f) / f / budget).max(), c.astype(np.float32)[::-1]


def main():
    ks = [float(v) for v in sys.argv[1:]] or [float(np.float32(0.49))]
    a, m, budget = targets()
    for k in ks:
        e, ef, c = fit(a, m, budget, k)
        print(f"k={k!r}: max |err|/budget {e:.3f} (float32 coefficients {ef:.3f}); R, highest first:",
              ", ".join(f"{v:.10e}f" for v in c))


if __name__ == "__main__":
    main()
