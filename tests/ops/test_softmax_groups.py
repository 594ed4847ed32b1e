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


@pytest.mark.parametrize("C", [2, 10, 40])
def test_cross_entropy_grouped_rows_equal_single_rows(C):
    # cross_entropy's [N, C] forward computes the log-sum-exps several rows at a time
    # (cpp/ops/loss.cpp lse_rows_unit); 19 rows leave single leftovers after the groups.
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((19, C)) * 4).astype(np.float32)
    x[5, 0] = -np.inf
    t = rng.integers(0, C, 19)
    t[7] = -100  # ignored
    t[5] = 1  # (row 5 has a -inf logit at class 0)
    whole = F.cross_entropy(lamina.from_numpy(x), lamina.from_numpy(t), reduction="none").numpy()
    for i in range(19):
        alone = F.cross_entropy(lamina.from_numpy(x[i:i + 1].copy()), lamina.from_numpy(t[i:i + 1].copy()),
                                reduction="none").numpy()
        np.testing.assert_array_equal(whole[i:i + 1], alone, err_msg=f"row {i}")
    lx = lamina.from_numpy(x).requires_grad_()
    loss = F.cross_entropy(lx, lamina.from_numpy(t))
    loss.backward()
    tx = torch.from_numpy(x).requires_grad_()
    tl = torch.nn.functional.cross_entropy(tx, torch.from_numpy(t))
    tl.backward()
    np.testing.assert_allclose(loss.detach().numpy(), tl.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-7)
