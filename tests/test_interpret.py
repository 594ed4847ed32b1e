"""lamina.interpret: saliency against float64 central differences, integrated gradients'
completeness (within 1% at 128 steps on smooth models, exact on linear ones), occlusion against
the closed form of a linear model, and batch-wise results equal to one-sample ones."""
from __future__ import annotations

import lamina
import numpy as np
import pytest
from lamina import nn
from lamina.interpret import integrated_gradients, occlusion, saliency


def _mlp():
    return nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 8), nn.Sigmoid(), nn.Linear(8, 4))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def _f(model, x: np.ndarray, t: int) -> float:
    with lamina.no_grad():
        return float(model(lamina.tensor(x[None])).numpy()[0, t])


@pytest.mark.parametrize("make, shape", [(_mlp, (12,)), (_cnn, (1, 8, 8))])
def test_saliency_matches_finite_differences(make, shape):
    model = make().double()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3,) + shape)
    targets = [0, 2, 1]
    s = saliency(model, x, targets, abs=False)
    assert s.shape == x.shape and s.dtype == np.float64
    eps = 1e-6
    for i, t in enumerate(targets):
        fd = np.zeros(shape)
        for j in np.ndindex(*shape):
            xp, xm = x[i].copy(), x[i].copy()
            xp[j] += eps
            xm[j] -= eps
            fd[j] = (_f(model, xp, t) - _f(model, xm, t)) / (2 * eps)
        np.testing.assert_allclose(s[i], fd, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(saliency(model, x, targets), np.abs(s))


@pytest.mark.parametrize("make, shape", [(_mlp, (12,)), (_cnn, (1, 8, 8))])
@pytest.mark.parametrize("baseline", [None, "random"])
def test_integrated_gradients_completeness(make, shape, baseline):
    model = make()
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4,) + shape).astype(np.float32) * 2
    base = None if baseline is None else rng.normal(size=(4,) + shape).astype(np.float32)
    targets = [0, 1, 2, 0]
    attr, delta = integrated_gradients(model, x, targets, baseline=base, steps=128, return_convergence_delta=True)
    assert attr.shape == x.shape
    b = np.zeros_like(x) if base is None else base
    gap = np.array([_f(model, x[i], t) - _f(model, b[i], t) for i, t in enumerate(targets)])
    total = attr.reshape(4, -1).sum(1)
    np.testing.assert_allclose(total - gap, delta, atol=1e-5)
    # Completeness within 1% of f(x) - f(baseline) (the stated guarantee at 128 steps)
    assert np.all(np.abs(total - gap) <= 0.01 * np.abs(gap) + 1e-5), (total, gap)
    # The midpoint rule converges: 8 steps are visibly worse than 128 on this curved model
    few = integrated_gradients(model, x, targets, baseline=base, steps=2).reshape(4, -1).sum(1)
    assert np.abs(few - gap).max() > np.abs(total - gap).max()


def test_integrated_gradients_exact_on_a_linear_model():
    model = nn.Linear(10, 3).double()
    x = np.random.default_rng(3).normal(size=(5, 10))
    attr = integrated_gradients(model, x, 2, baseline=0.5, steps=3)
    w = model.weight.detach().numpy()[2]
    np.testing.assert_allclose(attr, (x - 0.5) * w, rtol=1e-12)


def test_batched_equals_one_at_a_time():
    model = _cnn()
    x = np.random.default_rng(4).normal(size=(3, 1, 8, 8)).astype(np.float32)
    t = [2, 0, 1]
    ig = integrated_gradients(model, x, t, steps=16, internal_batch_size=7)
    oc = occlusion(model, x, t, window=(2, 2))
    for i in range(3):
        np.testing.assert_allclose(ig[i], integrated_gradients(model, x[i:i + 1], t[i], steps=16)[0], rtol=1e-4,
                                   atol=1e-7)
        np.testing.assert_allclose(oc[i], occlusion(model, x[i:i + 1], t[i], window=(2, 2))[0], rtol=1e-5, atol=1e-7)


def test_occlusion_on_a_linear_model():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).double()
    x = np.random.default_rng(5).normal(size=(2, 1, 4, 4))
    w = model[1].weight.detach().numpy()[1].reshape(4, 4)
    # window 1: each pixel's drop is w_j * (x_j - baseline)
    a1 = occlusion(model, x, 1, window=(1, 1), baseline=0.25)
    np.testing.assert_allclose(a1[:, 0], w * (x[:, 0] - 0.25), rtol=1e-10)
    # non-overlapping 2x2 windows: every pixel gets its block's summed contribution
    a2 = occlusion(model, x, 1, window=(2, 2))
    contrib = w * x[:, 0]
    blocks = contrib.reshape(2, 2, 2, 2, 2).sum((2, 4))
    np.testing.assert_allclose(a2[:, 0], np.repeat(np.repeat(blocks, 2, 1), 2, 2), rtol=1e-10)
    # overlapping windows (stride 1): the mean drop over the windows covering each pixel
    a3 = occlusion(model, x, 1, window=(2, 2), stride=1)
    corner = contrib[:, :2, :2].sum((1, 2))  # pixel (0, 0) is covered by one window only
    np.testing.assert_allclose(a3[:, 0, 0, 0], corner, rtol=1e-10)
    centre = np.mean([contrib[:, r:r + 2, c:c + 2].sum((1, 2)) for r in (0, 1) for c in (0, 1)], 0)
    np.testing.assert_allclose(a3[:, 0, 1, 1], centre, rtol=1e-10)


def test_errors_name_the_problem():
    model = _mlp()
    x = np.zeros((2, 12), np.float32)
    with pytest.raises(ValueError, match="target indices must lie in 0..3"):
        saliency(model, x, 7)
    with pytest.raises(ValueError, match="one class index or 2"):
        saliency(model, x, [0, 1, 2])
    with pytest.raises(ValueError, match="do not fit"):
        occlusion(model, x, 0, window=13)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        integrated_gradients(model, x, 0, steps=0)
