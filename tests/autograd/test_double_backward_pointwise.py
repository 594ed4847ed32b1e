"""Double backward (create_graph=True) of the pointwise ops: unary math, clamp, where
(ops/unary.py) and every activation (ops/activation.py): gradgradcheck for every Function and
option, the create_graph gradient equal to the fast C++ one (kinks and ties included), third
order, what the ops save, and second derivatives against torch (a gradient penalty, a
Hessian-vector product)."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina.autograd import grad
from lamina.ops import activation as act_mod
from lamina.ops import unary as unary_mod

from helpers import check_double_backward, same_first_order  # noqa: E402

F64 = lamina.float64
# Away from every kink used below (0, +-0.5, +-1, the step thresholds) by at least 0.05.
X = np.array([[0.3, -1.23, 2.1, 0.71], [-0.37, 1.55, -0.42, 0.87], [1.33, -2.2, 0.61, -0.18]])


def _x(a=X, rg=True):
    return lamina.tensor(np.array(a, dtype=np.float64), dtype=F64, requires_grad=rg)


def _same_first_order(fn, *inputs):
    same_first_order(fn, *inputs, rtol=1e-12, atol=1e-14)


def _check(fn, *inputs):
    check_double_backward(fn, *inputs, rtol=1e-12, atol=1e-14)


UNARY = {
    "neg": lamina.neg, "exp": lamina.exp, "log": lambda t: lamina.log(t.abs() + 0.1),
    "sqrt": lambda t: lamina.sqrt(t.abs() + 0.1), "abs": lamina.abs, "sin": lamina.sin,
    "cos": lamina.cos, "square": lamina.square, "reciprocal": lamina.reciprocal,
    "sign": lambda t: lamina.sign(t) * t,
    "clamp": lambda t: lamina.clamp(t, -1.0, 1.0), "clamp_min": lambda t: lamina.clamp(t, min=0.5),
    "clamp_max": lambda t: lamina.clamp(t, max=-0.5), "clip": lambda t: lamina.clip(t, -0.5, 0.5),
    "clamp_tensor": lambda t: lamina.clamp(t, _x([[-0.5, 0.0, 0.5, 1.0]], False), _x([[1.2]], False)),
    "exp_": lambda t: (t * 1.0).exp_(), "neg_": lambda t: (t * 1.0).neg_(),
    "sqrt_": lambda t: (t.abs() + 0.1).sqrt_(), "reciprocal_": lambda t: (t * 1.0).reciprocal_(),
    "clamp_": lambda t: (t * 1.0).clamp_(-1.0, 1.0),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name):
    _check(UNARY[name], _x())


def test_clamp_tensor_min_scalar_max():
    # clamp(x, tensor, scalar) runs maximum(x, tensor) then minimum(., scalar)
    _same_first_order(lambda t: lamina.clamp(t, _x([[-0.5, 0.0, 0.5, 1.0]], False), 1.2), _x())


def test_where():
    cond = _x(False) > 0.0
    y = _x([[0.4, -0.9, 1.7, 0.2]])
    _check(lambda a, b: lamina.where(cond, a * a, b * b * b), _x(), y)
    _check(lambda a: lamina.where(cond, a.sin(), 2.0), _x())        # scalar other
    _check(lambda b: lamina.where(cond, 0.5, b.exp()), y)           # scalar input, broadcast


ACTS = {
    "identity": F.identity, "sigmoid": lamina.sigmoid, "bipolar_sigmoid": F.bipolar_sigmoid,
    "tanh": lamina.tanh, "relu": F.relu, "leaky_relu": lambda t: F.leaky_relu(t, 0.2),
    "elu": lambda t: F.elu(t, 1.3), "softplus": F.softplus,
    "softplus_beta_threshold": lambda t: F.softplus(t, beta=2.0, threshold=1.5),
    "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
    "step_ste": lambda t: F.step(t, 0.25), "step_sigmoid": lambda t: F.step(t, 0.25, "sigmoid", 2.0),
    "sigmoid_": lambda t: (t * 1.0).sigmoid_(), "tanh_": lambda t: (t * 1.0).tanh_(),
    "relu_": lambda t: F.relu(t * 1.0, inplace=True), "elu_": lambda t: F.elu_(t * 1.0, 0.7),
    "leaky_relu_": lambda t: F.leaky_relu_(t * 1.0, 0.1),
}


@pytest.mark.parametrize("name", list(ACTS))
def test_activation(name):
    _check(ACTS[name], _x())


# Kinks and ties: the create_graph gradient takes the same side as the fast C++ backward.
KINKS = np.array([[0.0, -1.0, 1.0, 0.25, 1.25, -0.75, 0.5, -0.5, 20.0, 10.0, 0.75, 2.0]])


@pytest.mark.parametrize("fn", [
    F.relu, lambda t: F.leaky_relu(t, 0.2), lambda t: F.elu(t, 1.3), lamina.abs, lamina.sign,
    lambda t: F.softplus(t, 2.0, 20.0), lambda t: F.softplus(t, 1.0, 10.0), lambda t: F.step(t, 0.25),
    lambda t: F.step(t, 0.25, "sigmoid", 3.0), lambda t: lamina.clamp(t, -1.0, 1.0),
    lambda t: lamina.clamp(t, min=0.5), lambda t: lamina.clamp(t, max=-0.5), F.gelu,
], ids=["relu", "leaky_relu", "elu", "abs", "sign", "softplus_thr20", "softplus_thr10", "step_ste",
        "step_sigmoid", "clamp", "clamp_min", "clamp_max", "gelu"])
def test_first_order_at_kinks(fn):
    _same_first_order(fn, _x(KINKS))


@pytest.mark.parametrize("fn", [F.gelu, lamina.sigmoid, lamina.tanh, lambda t: F.elu(t, 1.3),
                                lamina.sin, lambda t: F.softplus(t, 2.0)],
                         ids=["gelu", "sigmoid", "tanh", "elu", "sin", "softplus"])
def test_third_order(fn):
    """d^3/dx^3 of sum(f(x)) vs a central difference of the (create_graph) second derivative."""

    def second(xv):
        t = lamina.tensor(xv, dtype=F64, requires_grad=True)
        (g1,) = grad([fn(t).sum()], [t], create_graph=True)
        (g2,) = grad([g1.sum()], [t], create_graph=True)
        return g2, t

    g2, t = second(X)
    (g3,) = grad([g2.sum()], [t])
    h = 1e-5
    fd = (second(X + h)[0].detach().numpy() - second(X - h)[0].detach().numpy()) / (2 * h)
    np.testing.assert_allclose(g3.numpy(), fd, rtol=1e-4, atol=1e-6)


def test_every_function_has_backward_graph():
    """No Function in these files falls back to the 'not implemented' stand-in."""
    fns = [v for m in (unary_mod, act_mod) for v in vars(m).values()
           if isinstance(v, type) and issubclass(v, lamina.autograd.Function) and v.__module__ == m.__name__]
    fns += list(unary_mod._UNARY.values()) + list(act_mod._FN.values())
    assert len(fns) > 20
    for f in fns:
        assert getattr(f, "backward_graph", None) is not None, f.__name__


def test_saved_values_only_what_is_read():
    """exp and sqrt read their output, not their input; neg and identity read nothing: writing the
    input in place after the op is legal (as in PyTorch)."""
    for fn in (lamina.exp, lamina.sqrt, lamina.neg, lamina.reciprocal, F.identity):
        leaf = _x(np.abs(X) + 0.5)
        a = leaf * 1.0
        out = fn(a)
        a.mul_(2.0)
        out.sum().backward()
        assert leaf.grad is not None
    leaf = _x()
    a = leaf * 1.0
    out = lamina.sin(a)  # sin reads its input: the write must be caught
    a.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


# ---- against torch ---------------------------------------------------------------------------

def test_gradient_penalty_vs_torch():
    """||d f(x) / dx||^2 through a pointwise model, differentiated again, vs torch."""
    torch = pytest.importorskip("torch")

    def model(m, x, w):
        h = m.tanh(x * w) + m.sigmoid(x).exp() * 0.5
        h = m.clamp(h, -1.0, 2.0) + m.nn.functional.gelu(h) + m.nn.functional.elu(x, 0.7)
        h = m.nn.functional.softplus(h, 2.0) + m.abs(x) * m.sin(w) + m.where(x > 0, x * x, -x)
        return (m.nn.functional.leaky_relu(h, 0.1) * m.sqrt(w * w + 1.0)).sum()

    w0 = np.random.default_rng(2).standard_normal(X.shape)
    x, w = _x(), _x(w0)
    (gx,) = grad([model(lamina, x, w)], [x], create_graph=True)
    (gx * gx).sum().backward()
    tx = torch.tensor(X, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    (tgx,) = torch.autograd.grad(model(torch, tx, tw), [tx], create_graph=True)
    (tgx * tgx).sum().backward()
    np.testing.assert_allclose(gx.detach().numpy(), tgx.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_hessian_vector_product_vs_torch():
    torch = pytest.importorskip("torch")
    v0 = np.random.default_rng(3).standard_normal(X.shape)

    def f(m, x):
        return (m.sigmoid(x) * m.exp(x * 0.5) + m.nn.functional.gelu(x, approximate="tanh") * m.cos(x)
                + m.reciprocal(x * x + 1.0)).sum()

    x = _x()
    (g,) = grad([f(lamina, x)], [x], create_graph=True)
    (hv,) = grad([g], [x], [lamina.tensor(v0, dtype=F64)])
    tx = torch.tensor(X, requires_grad=True)
    (tg,) = torch.autograd.grad(f(torch, tx), [tx], create_graph=True)
    (thv,) = torch.autograd.grad([tg], [tx], [torch.tensor(v0)])
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-9, atol=1e-12)
