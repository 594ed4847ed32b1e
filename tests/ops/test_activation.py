"""Activations against PyTorch (values, gradients), float64 finite differences, numerical
stability at large |x|, the step surrogates, and in-place forms."""
import numpy as np
import pytest
from helpers import check_op

import lamina
import lamina.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

away = lambda shape: (lambda rng: rng.choice([-1, 1], shape) * rng.uniform(0.2, 3.0, shape))  # noqa: E731

CASES = [
    ("sigmoid", lambda x: F.sigmoid(x), torch.sigmoid),
    ("tanh", lambda x: F.tanh(x), torch.tanh),
    ("relu", lambda x: F.relu(x), TF.relu),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    ("leaky_relu_default", lambda x: F.leaky_relu(x), TF.leaky_relu),
    ("elu", lambda x: F.elu(x, alpha=1.3), lambda x: TF.elu(x, alpha=1.3)),
    ("softplus", lambda x: F.softplus(x), TF.softplus),
    ("softplus_beta", lambda x: F.softplus(x, beta=2.0, threshold=3.0), lambda x: TF.softplus(x, beta=2.0, threshold=3.0)),
    ("gelu", lambda x: F.gelu(x), TF.gelu),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    ("identity", lambda x: F.identity(x), lambda x: x * 1),
    ("bipolar_sigmoid", lambda x: F.bipolar_sigmoid(x), lambda x: 2 * torch.sigmoid(x) - 1),
    ("method_sigmoid", lambda x: x.sigmoid(), lambda x: x.sigmoid()),
    ("method_tanh", lambda x: x.tanh(), lambda x: x.tanh()),
    ("method_relu", lambda x: x.relu(), lambda x: x.relu()),
    ("lamina_sigmoid", lambda x: lamina.sigmoid(x), torch.sigmoid),
]


@pytest.mark.parametrize("name,lf,tf", CASES, ids=[c[0] for c in CASES])
def test_activation(name, lf, tf):
    check_op(lf, tf, [away((4, 5))])
    check_op(lf, tf, [away((3, 4))], noncontig=True, fd=False)
    check_op(lf, tf, [away((1,))], fd=False)
    check_op(lf, tf, [(0, 3)], fd=False)


def test_stability_large_inputs():
    x = np.array([-1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0])
    for dt in ("float32", "float64"):
        lx = lamina.tensor(x.astype(dt), requires_grad=True)
        tx = torch.tensor(x.astype(dt), requires_grad=True)
        for lf, tf in [(F.sigmoid, torch.sigmoid), (F.softplus, TF.softplus), (F.tanh, torch.tanh),
                       (F.elu, TF.elu), (F.gelu, TF.gelu), (F.bipolar_sigmoid, lambda t: 2 * torch.sigmoid(t) - 1)]:
            lo, to = lf(lx), tf(tx)
            assert np.isfinite(lo.detach().numpy()).all()
            np.testing.assert_allclose(lo.detach().numpy(), to.detach().numpy(), rtol=1e-6, atol=1e-6)
            (lg,) = lamina.autograd.grad(lo, [lx], lamina.ones(len(x), dtype=lx.dtype))
            (tg,) = torch.autograd.grad(to, [tx], torch.ones(len(x), dtype=tx.dtype))
            assert np.isfinite(lg.numpy()).all()
            np.testing.assert_allclose(lg.numpy(), tg.numpy(), rtol=1e-5, atol=1e-6)


def test_step_forward_and_surrogates():
    x = lamina.tensor([-2.0, -0.5, 0.0, 0.3, 1.0, 1.5, 3.0], requires_grad=True)
    y = F.step(x, threshold=0.3)
    np.testing.assert_array_equal(y.detach().numpy(), [0, 0, 0, 1, 1, 1, 1])
    y.backward(lamina.ones(7))
    # straight-through: 1 where |x - 0.3| <= 1
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 1, 0, 0])
    x.grad = None
    F.step(x, threshold=0.3, surrogate="sigmoid", beta=2.0).backward(lamina.ones(7))
    s = 1 / (1 + np.exp(-2.0 * (x.detach().numpy() - 0.3)))
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * s * (1 - s), rtol=1e-5)
    # against torch: the sigmoid surrogate is the gradient of sigmoid(beta * (x - t))
    check_op(lambda v: F.step(v, 0.5, "sigmoid", 3.0) * 0 + F.step(v, 0.5, "sigmoid", 3.0),
             lambda v: torch.heaviside(v.detach() - 0.5, torch.tensor(1.0, dtype=v.dtype)) +
             (torch.sigmoid(3.0 * (v - 0.5)) - torch.sigmoid(3.0 * (v - 0.5)).detach()),
             [lambda rng: rng.uniform(0.6, 2.0, (3, 4)) * rng.choice([-1, 1], (3, 4)) + 0.5], fd=False)
    with pytest.raises(ValueError, match="surrogate"):
        F.step(x, surrogate="nope")


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(lamina.ones(2), approximate="fast")


def test_int_inputs():
    i = lamina.tensor([-1, 2])
    assert lamina.sigmoid(i).dtype is lamina.float32
    np.testing.assert_allclose(lamina.tanh(i).numpy(), np.tanh([-1.0, 2.0]), rtol=1e-6)
    r = F.relu(i)
    assert r.dtype is lamina.int64
    np.testing.assert_array_equal(r.numpy(), [0, 2])
    with pytest.raises(TypeError, match="floating-point"):
        F.elu(i)


def test_inplace():
    x = lamina.tensor([-1.0, 0.5, 2.0])
    v = x[:]
    assert F.relu(x, inplace=True) is x
    np.testing.assert_allclose(v.numpy(), [0.0, 0.5, 2.0])
    x.sigmoid_()
    np.testing.assert_allclose(v.numpy(), 1 / (1 + np.exp(-np.array([0.0, 0.5, 2.0]))), rtol=1e-6)
    y = lamina.tensor([-1.0, 2.0])
    F.leaky_relu_(y, 0.1)
    np.testing.assert_allclose(y.numpy(), [-0.1, 2.0], rtol=1e-6)
    F.elu(y, inplace=True)
    lamina.tanh_(y)
    np.testing.assert_allclose(y.numpy(), np.tanh([np.expm1(-0.1), 2.0]), rtol=1e-6)
    w = lamina.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.relu(w, inplace=True)
    # non-leaf in the graph: rebound, gradient correct
    a = lamina.tensor([-1.0, 2.0], requires_grad=True)
    h = a * 3
    F.relu_(h)
    h.backward(lamina.ones(2))
    np.testing.assert_allclose(h.detach().numpy(), [0.0, 6.0])
    np.testing.assert_allclose(a.grad.numpy(), [0.0, 3.0])



@pytest.mark.parametrize("name, args", [("ReLU", ()), ("LeakyReLU", (0.2,)), ("ELU", (1.3,))])
def test_inplace_modules_match_torch(name, args):
    """nn.ReLU / LeakyReLU / ELU(inplace=True) overwrite their input and backpropagate as PyTorch's."""
    rng = np.random.default_rng(3)
    x0, w0 = rng.standard_normal((4, 5)), rng.standard_normal((5, 5))
    lx, lw = lamina.tensor(x0, requires_grad=True), lamina.tensor(w0, requires_grad=True)
    tx, tw = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    lm, tm = getattr(lamina.nn, name)(*args, inplace=True), getattr(torch.nn, name)(*args, inplace=True)
    lh, th = lx @ lw, tx @ tw
    lo, to = lm(lh), tm(th)
    assert lo is lh and "inplace=True" in repr(lm)
    np.testing.assert_allclose(lh.detach().numpy(), th.detach().numpy(), rtol=1e-12)
    (lo * lo).sum().backward()
    (to * to).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-10)
    out_of_place = getattr(lamina.nn, name)(*args)
    h = lamina.tensor(x0)
    assert out_of_place(h) is not h and np.array_equal(h.numpy(), x0)

def test_exports():
    for n in ("sigmoid", "tanh", "relu", "exp", "log", "clamp", "where", "maximum"):
        assert callable(getattr(lamina, n))
    for n in ("step", "bipolar_sigmoid", "identity", "linear_activation", "gelu", "softplus", "elu", "leaky_relu"):
        assert callable(getattr(F, n))
