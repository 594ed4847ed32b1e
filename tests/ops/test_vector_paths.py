"""The hand-vectorised fast paths of issue 13 beyond the elementwise math (test_vec_math.py):
softmax-like lines (cpp/ops/softmax_line.h: two accumulator chains, a tail shorter than a vector),
logsumexp over the last dims (shares that line kernel) and its vectorised backward, the MSE/L1
reductions and the MSE backward (cpp/ops/loss.cpp). Lengths straddle every vector width (4, 8, 16
lanes, two accumulators: 2 * 16 + tail) and special values ride in the rows."""
from __future__ import annotations

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F

from helpers import check_op

torch = pytest.importorskip("torch")

LENGTHS = [1, 7, 16, 31, 33, 64, 100, 1000]


@pytest.mark.parametrize("n", LENGTHS)
def test_logsumexp_last_dim_lengths(n):
    check_op(lambda x: lamina.logsumexp(x, -1), lambda x: torch.logsumexp(x, -1), [(3, n)])
    check_op(lambda x: x.logsumexp((1, 2)), lambda x: x.logsumexp((1, 2)), [(2, 3, n)])


def test_logsumexp_special_rows():
    rows = np.array([[0.0, -np.inf, 1.0] + [-3.0] * 30,
                     [-np.inf] * 33,
                     [np.inf] + [0.0] * 32,
                     [np.nan] + [0.0] * 32,
                     [1000.0, 1000.0] + [-1000.0] * 31], dtype=np.float32)
    for dt in (np.float32, np.float64):
        got = lamina.logsumexp(lamina.from_numpy(rows.astype(dt)), 1).numpy()
        want = torch.logsumexp(torch.from_numpy(rows.astype(dt)), 1).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-6)
    # A tiny tail next to a single maximum at 0 is not rounded away: the line keeps the count of
    # maxima apart, log(1 + s) = log1p(s) ~ e^-60 (log(1 + e^-60) would give 0).
    for dt in (np.float32, np.float64):
        x = np.array([[0.0, -60.0] + [-200.0] * 40], dtype=dt)
        got = float(lamina.logsumexp(lamina.from_numpy(x), 1).numpy()[0])
        assert abs(got - np.exp(-60.0)) < 1e-6 * np.exp(-60.0)


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_lines_lengths(fn, n):
    check_op(lambda x: getattr(F, fn)(x, dim=-1), lambda x: getattr(torch.nn.functional, fn)(x, dim=-1),
             [(4, n)])


def test_softmax_line_extreme_gap_is_exact():
    # exp(x - m) with x - m's rounding error put back: the second output of a (0, -60.000004)
    # row is exp(-60.000004) to float32 accuracy, not exp of the rounded difference.
    x = np.zeros((2, 40), np.float32)
    x[:, 1:] = np.float32(-60.000004)
    x[1, 5] = np.float32(1e-7)
    got = F.softmax(lamina.from_numpy(x), dim=1).numpy().astype(np.float64)
    xd = x.astype(np.float64)
    want = np.exp(xd - xd.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    assert np.max(np.abs(got - want) / want) < 4e-7


@pytest.mark.parametrize("n", [1, 5, 64, 1000, 8192 + 37, 3 * 8192 + 5])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_l1_reductions(n, reduction):
    check_op(lambda x, y: F.mse_loss(x, y, reduction=reduction),
             lambda x, y: torch.nn.functional.mse_loss(x, y, reduction=reduction), [(n,), (n,)],
             fd=n <= 1000)
    check_op(lambda x, y: F.l1_loss(x, y, reduction=reduction),
             lambda x, y: torch.nn.functional.l1_loss(x, y, reduction=reduction), [(n,), (n,)],
             grad=None, fd=False)


def test_mse_accuracy_against_float64():
    # Partial sums of at most 16 float roundings before a double: float32 MSE of 1e6 values
    # agrees with the float64 mean to a few float32 ulps.
    rng = np.random.default_rng(1)
    a = rng.standard_normal(1_000_003).astype(np.float32)
    b = rng.standard_normal(1_000_003).astype(np.float32)
    got = float(F.mse_loss(lamina.from_numpy(a), lamina.from_numpy(b)).item())
    want = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    assert abs(got - want) / want < 3e-7


def test_mse_backward_noncontiguous_and_target_grad():
    x = torch.randn(6, 10, dtype=torch.float64)
    y = torch.randn(10, 6, dtype=torch.float64).T  # non-contiguous target
    lx = lamina.from_numpy(x.numpy().copy()).requires_grad_(True)
    ly = lamina.from_numpy(y.numpy().copy().T.copy()).T.requires_grad_(True)  # same layout
    xt, yt = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    F.mse_loss(lx, ly).backward()
    torch.nn.functional.mse_loss(xt, yt).backward()
    np.testing.assert_allclose(lx.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ly.grad.numpy(), yt.grad.numpy(), rtol=1e-12)
