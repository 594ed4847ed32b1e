"""softmax / log_softmax vs PyTorch (values, gradients, finite differences) on awkward shapes."""
import numpy as np
import pytest
from helpers import check_op

import lamina
import lamina.nn.functional as F


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((4, 7), -1), ((4, 7), 0), ((2, 3, 5), 1), ((1, 1), 1), ((5,), 0),
                                       ((2, 3, 2, 2), -3)])
def test_softmax_family(fn, shape, dim):
    import torch
    check_op(lambda x: getattr(F, fn)(x, dim), lambda x: getattr(torch.nn.functional, fn)(x, dim), [shape])


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_methods_noncontig(fn):
    check_op(lambda x: getattr(x, fn)(1), lambda x: getattr(x, fn)(1), [(6, 5)], noncontig=True)
    check_op(lambda x: getattr(lamina, fn)(x, 0), lambda x: getattr(__import__("torch"), fn)(x, 0), [(3, 4)])


def test_softmax_stability_and_edges():
    x = lamina.tensor([[1000.0, 1000.0, -1000.0]])
    np.testing.assert_allclose(x.softmax(1).numpy(), [[0.5, 0.5, 0.0]], atol=1e-7)
    np.testing.assert_allclose(x.log_softmax(1).numpy()[0, :2], [-np.log(2)] * 2, rtol=1e-6)
    assert F.softmax(lamina.zeros(0, 3), 1).shape == (0, 3)
    np.testing.assert_allclose(F.softmax(lamina.tensor(2.0), 0).item(), 1.0)
    y = lamina.randn(8, 10).softmax(-1)
    np.testing.assert_allclose(y.sum(-1).numpy(), np.ones(8), rtol=1e-6)


def test_softmax_errors():
    x = lamina.randn(2, 3)
    with pytest.raises(IndexError, match="dimension out of range"):
        F.softmax(x, 2)
    with pytest.raises(TypeError, match="floating"):
        F.softmax(lamina.tensor([1, 2]), 0)
    assert F.softmax(lamina.tensor([1, 2]), 0, dtype=lamina.float64).dtype is lamina.float64


def test_float32_exp_accuracy_wide_range():
    # softmax's float32 exp is a vectorised polynomial: check it over a wide range of logits,
    # including -inf entries (masked positions get exactly 0).
    rng = np.random.default_rng(3)
    a = (rng.uniform(-80, 80, (64, 257))).astype(np.float32)
    a[:, 5] = -np.inf
    ref = np.exp(a.astype(np.float64) - a.max(1, keepdims=True))
    ref /= ref.sum(1, keepdims=True)
    got = lamina.from_numpy(a).softmax(1).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-30)  # (a - max) rounds to ~3e-6
    assert (got[:, 5] == 0).all()
    lref = a.astype(np.float64) - np.log(np.exp(a.astype(np.float64) - a.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - a.max(1, keepdims=True)
    np.testing.assert_allclose(lamina.from_numpy(a).log_softmax(1).numpy()[:, 6:], lref[:, 6:], rtol=1e-5)
