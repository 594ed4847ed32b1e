"""Makes the 8-entry log table of cpp/core/vec_math.h (kLogC, kLogL) and its degree-3 P.

Interval j of m in [sqrt(1/2), sqrt(2)) (the top 3 bits of m's float offset from sqrt(1/2)) gets a
float c_j within 2^-9 of 1/centre such that -log(c_j) is within 2^-30 of a multiple of 2^-16 (L_j),
and c = 1, L = 0 where m = 1 lies. P: log1p(r) ~ r + r^2 P(r) on |r| <= max |m c_j - 1|, a relative
minimax-like fit (Lawson-weighted least squares) with float32 coefficients. Needs mpmath and numpy;
takes ~20 s. Run: python3 tools/gen_log_table.py
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
BASE = 0x3F3504F3  # sqrt(1/2)'s bits: frexp_sqrt2's offset
K = 3              # 8 intervals


def bits2f(b: int) -> float:
    return float(np.array([b], dtype=np.uint32).view(np.float32)[0])


def f2bits(f: float) -> int:
    return int(np.array([f], dtype=np.float32).view(np.uint32)[0])


def table():
    sh = 23 - K
    j1 = (0x3F800000 - BASE) >> sh
    cs, ls, rmax = [], [], 0.0
    for j in range(1 << K):
        mlo, mhi = bits2f(BASE + (j << sh)), bits2f(BASE + ((j + 1) << sh))
        if j == j1:
            c, L = 1.0, 0.0
        else:
            cb = f2bits(2.0 / (mlo + mhi))
            best = None
            for d in range(-(1 << 15), 1 << 15):  # 2^15 float steps near 1 ~ 2^-9 relative
                c = bits2f(cb + d)
                lt = -mp.log(mp.mpf(c))
                lh = mp.nint(lt * 2 ** 16) / 2 ** 16
                if best is None or abs(lt - lh) < best[0]:
                    best = (abs(lt - lh), c, float(lh))
            err, c, L = best
            assert err < 2.0 ** -30, (j, float(err))
        cs.append(c)
        ls.append(L)
        rmax = max(rmax, abs(mlo * c - 1), abs(mhi * c - 1))
    return cs, ls, rmax


def fit_p(rmax: float, deg: int = 3):
    n = 3000
    r = rmax * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    r = r[np.abs(r) > 1e-6]
    tgt = np.array([float((mp.log1p(mp.mpf(x)) - x) / x ** 2) for x in r])
    lg = np.array([float(mp.log1p(mp.mpf(x))) for x in r])
    w = np.ones_like(r)
    for _ in range(40):
        a = np.vander(r, deg + 1) * (r ** 2 / lg)[:, None]
        coef, *_ = np.linalg.lstsq(a * w[:, None], tgt * r ** 2 / lg * w, rcond=None)
        err = (np.polyval(coef, r) - tgt) * r ** 2 / lg
        w = w * np.sqrt(np.abs(err) / np.abs(err).max() + 1e-3)
    c32 = coef.astype(np.float32).astype(np.float64)
    return c32, float(np.abs((np.polyval(c32, r) - tgt) * r ** 2 / lg).max())


if __name__ == "__main__":
    cs, ls, rmax = table()
    p, err = fit_p(rmax)
    print(f"|r| <= {rmax:.5f}; P relative error {err:.3g} ({err / 2 ** -24:.3f} ulp)")
    print("kLogC:", ", ".join(str(np.float32(c)) + "f" for c in cs))
    print("kLogL:", ", ".join(repr(L) + "f" for L in ls))
    print("P (r^3 .. r^0):", ", ".join(str(np.float32(c)) + "f" for c in p))
