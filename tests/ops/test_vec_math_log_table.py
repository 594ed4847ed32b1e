"""The 8-entry log table (cpp/core/vec_math.h: kLogC, kLogL, used at AVX2 and AVX-512): the claims
its comment makes, read from the header, and log's ulp error where the table switches (interval
edges in every binade, dense around 1), at the loaded level and at avx2 in a subprocess."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import lamina
import numpy as np
import pytest

HEADER = os.path.join(os.path.dirname(__file__), "..", "..", "cpp", "core", "vec_math.h")
BASE = 0x3F3504F3  # sqrt(1/2)'s bits


def _table(name: str) -> np.ndarray:
    with open(HEADER) as f:
        text = f.read()
    body = re.search(name + r"\[8\] = \{([^}]*)\}", text).group(1)
    return np.array([float(v.strip().rstrip("f")) for v in body.split(",")], dtype=np.float64)


def _bits2f(b) -> np.ndarray:
    return np.asarray(b, dtype=np.uint32).view(np.float32)


def test_table_claims():
    if not os.path.exists(HEADER):
        pytest.skip("source tree not available")
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    # the float values the C++ literals give (kLogL's are exact decimals)
    c, L = (_table(n).astype(np.float32).astype(np.float64) for n in ("kLogC", "kLogL"))
    assert L.tolist() == _table("kLogL").tolist()
    j1 = (0x3F800000 - BASE) >> 20
    assert c[j1] == 1.0 and L[j1] == 0.0  # r = m - 1 exactly around 1
    rmax = 0.0
    for j in range(8):
        mlo, mhi = (float(v) for v in _bits2f([BASE + (j << 20), BASE + ((j + 1) << 20)]))
        assert abs(c[j] * (mlo + mhi) / 2 - 1) < 2 ** -8  # near 1 / centre
        assert L[j] * 2 ** 16 == round(L[j] * 2 ** 16)  # a multiple of 2^-16
        assert abs(-mp.log(mp.mpf(c[j])) - L[j]) < mp.mpf(2) ** -30
        rmax = max(rmax, abs(mlo * c[j] - 1), abs(mhi * c[j] - 1))
    assert rmax <= 0.058
    # e ln2_hi + L_j is exact in float for every exponent e a float (or a scaled denormal) has
    e = np.arange(-149, 129, dtype=np.float64)[:, None]
    s = e * 0.693359375 + L[None, :]
    assert np.array_equal(s.astype(np.float32).astype(np.float64), s)


def edge_points() -> np.ndarray:
    """Each interval edge +-3 floats in every binade of normal positive floats, and 2^20 floats
    on either side of 1 (where the first interval's r = m - 1 and log x ~ x - 1)."""
    exps = (np.arange(1, 255, dtype=np.int64) - 127) << 23
    off = (np.arange(8, dtype=np.int64) << 20)[:, None] + np.arange(-3, 4)[None, :]
    bits = (BASE + off.ravel())[None, :] + exps[:, None]
    bits = bits[(bits > 0x00800000) & (bits < 0x7F800000)]
    near1 = 0x3F800000 + np.arange(-(1 << 20), 1 << 20, dtype=np.int64)
    return _bits2f(np.concatenate([bits.ravel(), near1]).astype(np.uint32))


def max_ulp_at_edges() -> float:
    sys.path.insert(0, os.path.dirname(__file__))
    from test_vec_math import ulp_error

    x = edge_points()
    out = lamina.log(lamina.tensor(x)).numpy()
    return float(ulp_error(out, np.log(x.astype(np.float64))).max())


def test_log_at_table_edges():
    assert max_ulp_at_edges() <= 2.0


def test_log_at_table_edges_avx2():
    cpu = getattr(getattr(lamina, "backends", None), "cpu", None)
    if cpu is None or cpu.get_cpu_capability() != "AVX512":
        pytest.skip("the loaded level is already avx2 or below (the test above covers it)")
    env = dict(os.environ, LAMINA_CPU_CAPABILITY="avx2")
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
            "import test_vec_math_log_table as t; print(t.max_ulp_at_edges())")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                       check=False)
    if r.returncode != 0:
        if "not built" in r.stderr or "higher than" in r.stderr:
            pytest.skip("avx2 level not available")
        raise AssertionError(r.stderr)
    assert float(r.stdout.strip().splitlines()[-1]) <= 2.0
