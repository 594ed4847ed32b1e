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


@pytest.mark.parametrize("C", [1, 2, 10, 16, 17, 40])
def test_cross_entropy_grouped_rows_equal_single_rows(C):
    # cross_entropy's [N, C] forward computes the log-sum-exps several rows at a time
    # (cpp/ops/loss.cpp lse_rows_unit; C <= 16: cpp/ops/lse_small.h, rows in vector lanes);
    # 19 rows leave single leftovers / a padded block after the groups.
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((19, C)) * 4).astype(np.float32)
    x[5, 0] = -np.inf
    t = rng.integers(0, C, 19)
    t[7] = -100  # ignored
    t[5] = min(1, C - 1)  # (row 5 has a -inf logit at class 0)
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


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("C", [3, 10, 16])
def test_cross_entropy_small_classes_special_rows(dt, C):
    # lse_small.h: a NaN, a -inf, an all -inf row, tied maxima, a large gap and huge logits each
    # stay in their own lane (block neighbours unaffected) and match PyTorch (NaN where it is).
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((37, C)) * 3).astype(dt)
    x[2, 1] = np.nan
    x[4, 0] = -np.inf
    x[6, :] = -np.inf
    x[8, 0] = x[8, 2] = 7.0  # two maxima
    x[10, 0] = 60.0  # the others' exp(x - m) below 1e-20: the TwoSum correction's case
    x[12, :] += 1e4
    x[14, :] -= 1e6
    t = rng.integers(0, C, 37)
    t[4] = 1
    want = torch.nn.functional.cross_entropy(torch.from_numpy(x), torch.from_numpy(t), reduction="none").numpy()
    got = F.cross_entropy(lamina.from_numpy(x), lamina.from_numpy(t), reduction="none").numpy()
    # float64: x[t] - lse of a row near 1e6 keeps ~1e-10 absolute (lse is one double)
    rtol, atol = (2e-6, 2e-6) if dt == np.float32 else (1e-13, 1e-9)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def test_cross_entropy_small_classes_thread_counts_bitwise():
    x = (np.random.default_rng(1).standard_normal((4099, 10)) * 2).astype(np.float32)
    t = np.random.default_rng(2).integers(0, 10, 4099)
    old = lamina.get_num_threads()
    outs = []
    try:
        for n in (1, 2, 3):
            lamina.set_num_threads(n)
            lx = lamina.from_numpy(x).requires_grad_()
            loss = F.cross_entropy(lx, lamina.from_numpy(t), reduction="none")
            loss.sum().backward()
            outs.append((loss.detach().numpy(), lx.grad.numpy()))
    finally:
        lamina.set_num_threads(old)
    for loss, grad in outs[1:]:
        np.testing.assert_array_equal(loss, outs[0][0])
        np.testing.assert_array_equal(grad, outs[0][1])
