"""Double backward (create_graph=True) of the conv and pooling ops: gradgradcheck of every mode, and
second derivatives through a small CNN compared with PyTorch (gradient penalty, Hessian-vector
product)."""
from __future__ import annotations

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina.autograd import grad, gradgradcheck


def _t(rng, *shape, scale=1.0, requires_grad=True):
    return lamina.tensor(rng.standard_normal(shape) * scale, dtype=lamina.float64, requires_grad=requires_grad)


def _distinct(rng, *shape):
    """Values spaced by >= 0.08, so max-pool windows have no near ties (no kinks for finite differences)."""
    n = int(np.prod(shape))
    a = rng.permutation(n).reshape(shape) * 0.1 + rng.uniform(-0.01, 0.01, shape)
    return lamina.tensor(a - a.mean(), dtype=lamina.float64, requires_grad=True)


CONV_CASES = [
    ("conv2d stride/pad/dilation/groups", F.conv2d, (2, 4, 5, 6), (6, 2, 3, 2), 6,
     dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    ("conv2d unbatched 1x1", F.conv2d, (3, 4, 5), (2, 3, 1, 1), 2, {}),
    ("conv2d same", F.conv2d, (1, 2, 5, 4), (3, 2, 2, 3), 3, dict(padding="same")),
    ("conv1d", F.conv1d, (2, 3, 7), (4, 3, 3), 4, dict(stride=2, padding=1)),
    ("conv1d same dilated", F.conv1d, (2, 3, 7), (4, 3, 2), None, dict(padding="same", dilation=2)),
    ("conv_transpose2d", F.conv_transpose2d, (2, 4, 3, 4), (4, 3, 3, 2), 6,
     dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("conv_transpose2d dilated", F.conv_transpose2d, (1, 2, 3, 3), (2, 2, 2, 2), None, dict(dilation=2)),
    ("conv_transpose1d", F.conv_transpose1d, (2, 3, 5), (3, 2, 3), 2, dict(stride=2, output_padding=1)),
]


@pytest.mark.parametrize("name,fn,xs,ws,nb,kw", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_gradgradcheck(name, fn, xs, ws, nb, kw):
    rng = np.random.default_rng(0)
    x, w = _t(rng, *xs), _t(rng, *ws)
    if nb is None:
        assert gradgradcheck(lambda x, w: fn(x, w, None, **kw), (x, w))
    else:
        b = _t(rng, nb)
        assert gradgradcheck(lambda x, w, b: fn(x, w, b, **kw), (x, w, b))


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, False), (False, False, True),
                                   (False, True, True)])
def test_conv_gradgradcheck_partial_needs(needs):
    """Only some of x, w, b require grad: the double backward still has every term it needs."""
    rng = np.random.default_rng(1)
    x, w, b = _t(rng, 2, 2, 4, 5), _t(rng, 3, 2, 2, 2), _t(rng, 3)
    for t, n in zip((x, w, b), needs):
        t.requires_grad = n
    assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=1), (x, w, b))
    assert gradgradcheck(lambda x, w, b: F.conv_transpose2d(x, w.transpose(0, 1), b, stride=2), (x, w, b))


POOL_CASES = [
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True), (2, 3, 5, 7)),
    ("max_pool2d 2x2 fast path", lambda x: F.max_pool2d(x, 2), (2, 3, 4, 6)),
    ("max_pool2d indices unbatched", lambda x: F.max_pool2d(x, 2, return_indices=True)[0], (3, 4, 6)),
    ("max_pool1d", lambda x: F.max_pool1d(x, 3, stride=2, padding=1), (2, 3, 9)),
    ("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (2, 3)), (2, 3, 5, 7)),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     (2, 3, 5, 7)),
    ("avg_pool2d divisor", lambda x: F.avg_pool2d(x, (2, 3), divisor_override=4), (1, 2, 5, 7)),
    ("avg_pool1d", lambda x: F.avg_pool1d(x, 3, stride=2, padding=1), (2, 3, 9)),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), (3, 5, 7)),
]


@pytest.mark.parametrize("name,fn,shape", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_gradgradcheck(name, fn, shape):
    x = _distinct(np.random.default_rng(2), *shape)
    # square the output: the double backward then also reaches x through dout
    assert gradgradcheck(lambda x: fn(x) * fn(x), (x,))


def test_pool_third_order():
    """Pool backward Functions are themselves differentiable: a third derivative exists."""
    x = _distinct(np.random.default_rng(3), 1, 1, 4, 4)
    for fn in (lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x, 2), lambda x: F.max_pool2d(x, 3, 1)):
        y = fn(x * x * x).sum()
        (g,) = grad([y], [x], create_graph=True)
        (g2,) = grad([g.sum()], [x], create_graph=True)
        (g3,) = grad([g2.sum()], [x])
        # y = sum_i c_i x_i^3 (c_i: the pool's fixed weight on x_i): g = 3 c x^2, g3 = 6 c
        xv = x.detach().numpy()
        c = g.detach().numpy() / (3 * xv * xv)
        np.testing.assert_allclose(g3.numpy(), 6.0 * c, rtol=1e-10, atol=1e-12)


def test_avg_pool_input_written_in_place_after_forward():
    """avg/max pooling keep only the input's shape: writing the input in place later is allowed."""
    a = lamina.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    for fn in (lambda x: F.avg_pool2d(x, 2), lambda x: F.max_pool2d(x, 3, 1), lambda x: F.adaptive_avg_pool2d(x, 1)):
        x = a * 1.0
        y = fn(x)
        x.add_(1.0)
        y.sum().backward()
        assert a.grad is not None
        a.grad = None


def _cnn_params(rng):
    return dict(w1=rng.standard_normal((4, 2, 3, 3)) * 0.4, b1=rng.standard_normal(4) * 0.1,
                w2=rng.standard_normal((4, 3, 2, 2)) * 0.4, b2=rng.standard_normal(3) * 0.1,
                w3=rng.standard_normal((2, 3, 3)) * 0.4)


def _cnn(mod, F_, p, x):
    """conv2d -> tanh -> max_pool -> conv_transpose2d -> x*x -> avg_pool -> adaptive_avg_pool -> conv1d."""
    h = F_.conv2d(x, p["w1"], p["b1"], stride=1, padding=1)
    h = mod.tanh(h)
    h = F_.max_pool2d(h, 2)
    h = F_.conv_transpose2d(h, p["w2"], p["b2"], stride=2)
    h = h * h
    h = F_.avg_pool2d(h, 3, stride=1, padding=1, count_include_pad=False)
    h = F_.adaptive_avg_pool2d(h, (1, 5))
    return F_.conv1d(h.reshape(h.shape[0], 3, 5), p["w3"], None)


def test_gradient_penalty_cnn_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    xa = rng.standard_normal((2, 2, 6, 6))
    pa = _cnn_params(rng)
    # lamina
    lp = {k: lamina.tensor(v, requires_grad=True) for k, v in pa.items()}
    lx = lamina.tensor(xa, requires_grad=True)
    out = _cnn(lamina, F, lp, lx)
    (gx,) = grad([out.sum()], [lx], create_graph=True)
    pen = (gx * gx).sum()
    pen.backward()
    # torch
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in pa.items()}
    tx = torch.tensor(xa, requires_grad=True)
    tout = _cnn(torch, torch.nn.functional, tp, tx)
    (tgx,) = torch.autograd.grad(tout.sum(), tx, create_graph=True)
    tpen = (tgx * tgx).sum()
    tpen.backward()
    np.testing.assert_allclose(pen.item(), tpen.item(), rtol=1e-10)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    for k in pa:
        np.testing.assert_allclose(lp[k].grad.numpy(), tp[k].grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=k)


def test_hessian_vector_product_conv_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    xa, wa, va = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((4, 3, 3, 3))

    def loss(mod, F_, x, w):
        y = F_.conv2d(x, w, None, stride=2, padding=1)
        return (mod.tanh(F_.avg_pool2d(y, 2, ceil_mode=True)) ** 2).sum()

    lx, lw = lamina.tensor(xa), lamina.tensor(wa, requires_grad=True)
    (g,) = grad([loss(lamina, F, lx, lw)], [lw], create_graph=True)
    (hv,) = grad([(g * lamina.tensor(va)).sum()], [lw])
    tx, tw = torch.tensor(xa), torch.tensor(wa, requires_grad=True)
    (tg,) = torch.autograd.grad(loss(torch, torch.nn.functional, tx, tw), tw, create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(va)).sum(), tw)
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-8, atol=1e-10)
