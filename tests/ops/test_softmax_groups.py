"""Short softmax lines run several at a time (cpp/ops/softmax.cpp: for_line_groups, softmax_line.h:
line_exp_sum_group): each row's result must not depend on which group (or thread chunk) it fell in,
special values in one row must not leak into its neighbours, and the rows still match PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("R", [1, 10, 16, 33, 64, 256])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_grouped_rows_equal_single_rows(log, R, dt):
    # 21 rows: groups of 8 (AVX-512) or 4 plus single leftovers; each row alone goes through the
    # one-line path, so bitwise equality checks the grouped kernel's per-row arithmetic.
    rng = np.random.default_rng(R)
    x = (rng.standard_normal((21, R)) * 5).astype(dt)
    if R > 2:
        x[3, 1] = -np.inf
        x[9, :] = -np.inf
        x[10, 0] = np.nan
        x[12, 2] = x[12, 0] = x.max() + 1  # two maxima
    f = F.log_softmax if log else F.softmax
    whole = f(lamina.from_numpy(x), dim=1).numpy()
    for i in range(x.shape[0]):
        alone = f(lamina.from_numpy(x[i:i + 1].copy()), dim=1).numpy()
        np.testing.assert_array_equal(whole[i:i + 1], alone, err_msg=f"row {i}")
    tf = torch.log_softmax if log else torch.softmax
    want = tf(torch.from_numpy(x), 1).numpy()
    tol = 2e-6 if dt == np.float32 else 1e-14
    np.testing.assert_allclose(whole, want, rtol=tol, atol=tol)


def test_grouped_rows_thread_counts_bitwise():
    x = (np.random.default_rng(0).standard_normal((8, 8, 64, 64)) * 3).astype(np.float32)
    lx = lamina.from_numpy(x)
    old = lamina.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            lamina.set_num_threads(n)
            outs.append(F.softmax(lx, dim=-1).numpy())
    finally:
        lamina.set_num_threads(old)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
