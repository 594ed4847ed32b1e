"""F.dropout: seeded reproducibility, mask statistics, the same mask in forward and backward,
scaling, and the p=0 / p=1 / eval edge cases (torch's RNG differs, so no value comparison)."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from helpers import philox_words


def test_dropout_reproducible_with_seed():
    x = lamina.ones(1000)
    lamina.manual_seed(7)
    a = F.dropout(x, 0.3).numpy().copy()
    b = F.dropout(x, 0.3).numpy().copy()
    lamina.manual_seed(7)
    a2 = F.dropout(x, 0.3).numpy().copy()
    np.testing.assert_array_equal(a, a2)
    assert not np.array_equal(a, b)  # the generator advanced


def test_dropout_independent_of_thread_count():
    x = lamina.ones(300000)
    n = lamina.get_num_threads()
    try:
        lamina.manual_seed(3)
        lamina.set_num_threads(1)
        a = F.dropout(x, 0.5).numpy().copy()
        lamina.manual_seed(3)
        lamina.set_num_threads(2)
        b = F.dropout(x, 0.5).numpy().copy()
    finally:
        lamina.set_num_threads(n)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics_and_scale(p):
    x = lamina.ones(200000, dtype=lamina.float64)
    out = F.dropout(x, p).numpy()
    kept = out != 0
    frac = kept.mean()
    assert abs(frac - (1 - p)) < 4 * np.sqrt(p * (1 - p) / out.size)
    np.testing.assert_allclose(out[kept], 1 / (1 - p))
    assert abs(out.mean() - 1.0) < 0.02  # expectation preserved


def test_dropout_same_mask_forward_backward():
    x = lamina.randn(37, 11, requires_grad=True)
    y = F.dropout(x, 0.4)
    g = lamina.randn(37, 11)
    y.backward(g)
    xv, yv, gv, dx = x.detach().numpy(), y.detach().numpy(), g.numpy(), x.grad.numpy()
    mask = yv != 0
    np.testing.assert_allclose(yv[mask], xv[mask] / 0.6, rtol=1e-6)
    np.testing.assert_allclose(dx, np.where(mask, gv / 0.6, 0), rtol=1e-6)


def test_dropout_noncontiguous_input():
    base = lamina.randn(20, 30, dtype=lamina.float64)
    x = base.t()
    lamina.manual_seed(5)
    a = F.dropout(x, 0.5).numpy()
    lamina.manual_seed(5)
    b = F.dropout(x.contiguous(), 0.5).numpy()
    np.testing.assert_array_equal(a, b)  # mask follows logical (row-major) order
    assert a.shape == (30, 20)


def test_dropout_edge_cases():
    x = lamina.randn(5, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), np.zeros((5, 4)))
    xr = lamina.randn(5, requires_grad=True)
    F.dropout(xr, 1.0).backward(lamina.ones(5))
    np.testing.assert_array_equal(xr.grad.numpy(), np.zeros(5))
    e = F.dropout(lamina.zeros(0, 3), 0.5)
    assert e.shape == (0, 3)


def test_dropout_inplace():
    x = lamina.ones(100)
    lamina.manual_seed(1)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x
    lamina.manual_seed(1)
    ref = F.dropout(lamina.ones(100), 0.5).numpy()
    np.testing.assert_array_equal(x.numpy(), ref)
    leaf = lamina.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.dropout(leaf, 0.5, inplace=True)


def test_dropout_errors():
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        F.dropout(lamina.ones(3), 1.5)
    with pytest.raises(TypeError, match="floating"):
        F.dropout(lamina.tensor([1, 2]), 0.5)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0 - 2.0 ** -20, 1.0])
@pytest.mark.parametrize("dt", [lamina.float32, lamina.float64])
def test_dropout_mask_matches_uniform_threshold(p, dt):
    # The integer threshold of the vectorised kernel gives dropout_keep's mask: kept exactly where
    # the 53-bit uniform of (seed, offset + i) is >= p (checked through the statistics and the
    # backward; -inf/NaN in kept or dropped places stay where the mask puts them).
    x = lamina.randn(1000, 37, dtype=dt)
    x[0, 0] = float("nan")
    x[0, 1] = float("-inf")
    x.requires_grad_()
    y = F.dropout(x, p)
    g = lamina.ones(1000, 37, dtype=dt)
    y.backward(g)
    yv, xv, dx = y.detach().numpy(), x.detach().numpy(), x.grad.numpy()
    kept = dx != 0
    if p < 1:
        np.testing.assert_allclose(yv[kept], xv[kept] / (1 - p), rtol=1e-6)
        np.testing.assert_allclose(dx[kept], 1 / (1 - p))
    assert np.all(yv[~kept] == 0)
    frac = kept.mean()
    assert abs(frac - (1 - p)) <= 5 * np.sqrt(max(p * (1 - p), 1e-12) / kept.size) + 1e-9


def _philox_keep_reference(seed, offset, n, p):
    """Kept where the 53-bit uniform of Philox words 0, 1 of counter offset + i is >= p
    (dropout_keep's rule), from the numpy Philox in helpers."""
    c0, c1 = philox_words(seed, offset, n)
    u = ((c0 << np.uint64(21)) | (c1 >> np.uint64(11))).astype(np.float64) * 2.0 ** -53
    return u >= p


@pytest.mark.parametrize("dt", [lamina.float32, lamina.float64])
@pytest.mark.parametrize("offset", [0, 3, 2**32 - 13])
def test_dropout_mask_matches_numpy_philox(dt, offset):
    # The vector Philox of every CPU level (SSE4.1 / AVX2 / AVX-512, run under
    # LAMINA_CPU_CAPABILITY) against an independent numpy Philox: the same mask bit for bit,
    # including odd offsets, a tail, and a counter whose low word wraps inside the op.
    n, p, seed = 4099, 0.37, 0x1234_5678_9ABC_DEF0
    state = lamina.get_rng_state()
    try:
        lamina.set_rng_state((seed, offset))
        y = F.dropout(lamina.ones(n, dtype=dt), p).numpy()
    finally:
        lamina.set_rng_state(state)
    np.testing.assert_array_equal(y != 0, _philox_keep_reference(seed, offset, n, p))
