"""lamina.nn.utils.clip_grad_norm_ / clip_grad_value_ / get_total_norm against torch.nn.utils, in
float32 and float64, over several gradients (some None, one non-contiguous, one large enough to
take the parallel path), every norm type, and the non-finite cases."""
import math

import numpy as np
import pytest

import lamina
from lamina.nn.utils import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (7,), (), (2, 0), (5, 2)]


def make(dtype, scale=1.0, shapes=SHAPES, none_at=(1,)):
    rng = np.random.default_rng(0)
    lam, tor = [], []
    for i, s in enumerate(shapes):
        w = rng.standard_normal(s).astype(dtype)
        lp, tp = lamina.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
        if i not in none_at:
            g = np.asarray(scale * rng.standard_normal(s), dtype=dtype)
            lp.grad, tp.grad = lamina.tensor(g), torch.tensor(g)
        lam.append(lp)
        tor.append(tp)
    return lam, tor


def assert_grads(lam, tor, tol):
    for lp, tp in zip(lam, tor):
        if tp.grad is None:
            assert lp.grad is None
        else:
            np.testing.assert_allclose(lp.grad.numpy(), tp.grad.numpy(), rtol=tol, atol=tol)


TOL = {"float32": 1e-6, "float64": 1e-12}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipping, and a no-op (coefficient clamped to 1)
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    # torch has no inf norm of an empty tensor (no identity); lamina takes it as 0
    lam, tor = make(dtype, shapes=SHAPES if norm_type != math.inf else SHAPES[:3] + SHAPES[4:])
    n_l = clip_grad_norm_(lam, max_norm, norm_type=norm_type)
    n_t = torch.nn.utils.clip_grad_norm_(tor, max_norm, norm_type=norm_type, foreach=False)
    assert n_l.shape == () and n_l.dtype is getattr(lamina, dtype)
    np.testing.assert_allclose(n_l.item(), n_t.item(), rtol=TOL[dtype] * 10)
    assert_grads(lam, tor, TOL[dtype])
    if max_norm < n_t.item():
        assert abs(get_total_norm([p.grad for p in lam if p.grad is not None], norm_type).item()
                   - max_norm) < 1e-4


def test_clip_grad_norm_single_tensor_and_large():
    # one big tensor (parallel blocks) passed directly rather than in a list
    w = np.random.default_rng(1).standard_normal((300, 257)).astype(np.float32)
    lp, tp = lamina.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    lp.grad, tp.grad = lamina.tensor(w * 3), torch.tensor(w * 3)
    n_l = clip_grad_norm_(lp, 10.0)
    n_t = torch.nn.utils.clip_grad_norm_(tp, 10.0)
    np.testing.assert_allclose(n_l.item(), n_t.item(), rtol=1e-6)
    np.testing.assert_allclose(lp.grad.numpy(), tp.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_norm_noncontiguous_grad():
    g = np.arange(12.0).reshape(4, 3)
    p = lamina.tensor(np.zeros((3, 4)), requires_grad=True)
    p.grad = lamina.tensor(g).transpose(0, 1)
    assert not p.grad.is_contiguous()
    n = clip_grad_norm_([p], 1.0)
    np.testing.assert_allclose(n.item(), np.linalg.norm(g))
    np.testing.assert_allclose(p.grad.numpy(), g.T / (np.linalg.norm(g) + 1e-6), rtol=1e-12)


def test_clip_grad_norm_no_grads():
    p = lamina.tensor([1.0], requires_grad=True)
    n = clip_grad_norm_([p], 1.0)
    assert n.item() == 0.0 and p.grad is None


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_clip_grad_norm_nonfinite(bad):
    lam, tor = make("float64")
    g = np.array([[bad, 1.0, 0.5, -2.0]] * 3)
    lam[0].grad, tor[0].grad = lamina.tensor(g), torch.tensor(g)
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite"):
        clip_grad_norm_(lam, 1.0, error_if_nonfinite=True)
    # without the check the non-finite norm spreads into the gradients, as in torch
    n_l = clip_grad_norm_(lam, 1.0)
    n_t = torch.nn.utils.clip_grad_norm_(tor, 1.0, foreach=False)
    np.testing.assert_equal(n_l.item(), n_t.item())
    for lp, tp in zip(lam, tor):
        if tp.grad is not None:
            np.testing.assert_array_equal(lp.grad.numpy(), tp.grad.numpy())


def test_clip_grads_with_norm_and_total_norm():
    lam, tor = make("float32")
    total = get_total_norm([p.grad for p in lam if p.grad is not None])
    t_total = torch.nn.utils.get_total_norm([p.grad for p in tor if p.grad is not None])
    np.testing.assert_allclose(total.item(), t_total.item(), rtol=1e-6)
    clip_grads_with_norm_(lam, 0.7, total)
    torch.nn.utils.clip_grads_with_norm_(tor, 0.7, t_total)
    assert_grads(lam, tor, 1e-6)
    with pytest.raises(ValueError, match="norm_type must be positive or inf, got -1.0"):
        get_total_norm([lam[0].grad], -1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip", [0.3, 5.0])
def test_clip_grad_value_matches_torch(dtype, clip):
    lam, tor = make(dtype, scale=2.0)
    assert clip_grad_value_(lam, clip) is None
    torch.nn.utils.clip_grad_value_(tor, clip, foreach=False)
    assert_grads(lam, tor, 0)
    assert max(np.abs(p.grad.numpy()).max(initial=0) for p in lam if p.grad is not None) <= clip


def test_clip_grad_value_single_tensor_noncontiguous_and_nan():
    g = np.array([[-3.0, 0.1], [np.nan, 2.5], [1.0, -0.2]])
    p = lamina.tensor(np.zeros((2, 3)), requires_grad=True)
    p.grad = lamina.tensor(g).transpose(0, 1)
    clip_grad_value_(p, 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -1.0, 1.0).T)  # NaN stays NaN
