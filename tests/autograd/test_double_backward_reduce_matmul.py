"""Double backward (create_graph=True) of the reductions (ops/reduce.py), softmax/log_softmax,
matmul, linear, rbf and conic: gradgradcheck for every Function and mode, the create_graph
gradient equal to the fast C++ one (ties and zeros included), third order, what the ops save, and
second derivatives against torch (a gradient penalty through a small model, a Hessian-vector
product)."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina.autograd import grad, gradgradcheck
from lamina.ops import linear as linear_mod
from lamina.ops import matmul as matmul_mod
from lamina.ops import rbf as rbf_mod
from lamina.ops import reduce as reduce_mod
from lamina.ops import softmax as softmax_mod

from helpers import check_double_backward, same_first_order  # noqa: E402

F64 = lamina.float64


def _t(shape, seed=0, rg=True, lo=None):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) if lo is None else rng.uniform(lo, lo + 1.0, shape) * rng.choice([-1, 1], shape)
    return lamina.tensor(a, dtype=F64, requires_grad=rg)


def _same_first_order(fn, *inputs):
    same_first_order(fn, *inputs, rtol=1e-11, atol=1e-13)


def _check(fn, *inputs):
    check_double_backward(fn, *inputs, rtol=1e-11, atol=1e-13)


# ---- reductions ------------------------------------------------------------------------------

REDUCE = {
    "sum": lambda t: t.sum(), "sum_dims": lambda t: t.sum((0, 2)), "sum_keepdim": lambda t: t.sum(-1, keepdim=True),
    "mean": lambda t: t.mean(1), "mean_all": lambda t: t.mean(),
    "sum_to": lambda t: reduce_mod.sum_to(t * t, (3, 1)),
    "prod": lambda t: t.prod(1), "prod_all": lambda t: t.prod(), "prod_keepdim": lambda t: t.prod(-1, keepdim=True),
    "max_dim": lambda t: t.max(1)[0], "min_dim_keepdim": lambda t: t.min(-1, keepdim=True)[0],
    "max_all": lambda t: t.max(), "amax": lambda t: t.amax((0, 2)), "amin": lambda t: t.amin(1),
    "var": lambda t: t.var(1), "var_all_biased": lambda t: t.var(correction=0),
    "std": lambda t: t.std((0, 2), keepdim=True), "std_all": lambda t: t.std(),
    "logsumexp": lambda t: t.logsumexp(1), "logsumexp_all": lambda t: t.logsumexp(),
    "logsumexp_keepdim": lambda t: t.logsumexp((0, 1), keepdim=True),
}


@pytest.mark.parametrize("name", list(REDUCE))
def test_reduce(name):
    _check(REDUCE[name], _t((2, 3, 4), lo=0.3))


ZEROS = [[0.0, 1.2, -0.7], [0.5, 0.0, 0.0], [1.1, 0.9, -1.3]]


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_with_zeros(dim):
    x = lamina.tensor(ZEROS, dtype=F64, requires_grad=True)
    _check(lambda t: t.prod() if dim is None else t.prod(dim), x)


def test_ties_as_fast_path():
    """max(dim) sends the gradient to the first index of a tie, amax shares it: the create_graph
    gradient does the same."""
    x = lamina.tensor([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5]], dtype=F64, requires_grad=True)
    for fn in (lambda t: t.max(1)[0], lambda t: t.min(1)[0], lambda t: t.amax(1), lambda t: t.amin(),
               lambda t: t.max()):
        _same_first_order(fn, x)
        assert gradgradcheck(fn, (lamina.tensor([[1.0, 3.0, 2.0, -2.0]], dtype=F64, requires_grad=True),))


# ---- softmax -----------------------------------------------------------------------------------

@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax(log, dim):
    fn = F.log_softmax if log else F.softmax
    _check(lambda t: fn(t, dim), _t((2, 3, 4)))


# ---- matmul / linear ---------------------------------------------------------------------------

MM_SHAPES = [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 2)),
             ((2, 1, 3, 4), (3, 4, 5)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,))]


@pytest.mark.parametrize("sa,sb", MM_SHAPES, ids=[f"{a}@{b}" for a, b in MM_SHAPES])
def test_matmul(sa, sb):
    _check(lamina.matmul, _t(sa, 0), _t(sb, 1))
    _check(lamina.matmul, _t(sa, 0), _t(sb, 1, rg=False))
    _check(lamina.matmul, _t(sa, 0, rg=False), _t(sb, 1))


@pytest.mark.parametrize("xs", [(3, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(xs, bias):
    b = _t((5,), 2) if bias else None
    _check(lambda x, w: F.linear(x, w, b), _t(xs, 0), _t((5, 4), 1))
    _check(lambda x: F.linear(x, _t((5, 4), 1, rg=False), b), _t(xs, 0))
    _check(lambda w: F.linear(_t(xs, 0, rg=False), w, None), _t((5, 4), 1))


# ---- rbf / conic -------------------------------------------------------------------------------

def test_rbf():
    w = lamina.tensor([0.8, 1.3], dtype=F64, requires_grad=True)
    _check(F.rbf, _t((3, 4), 0), _t((2, 4), 1), w)
    _check(lambda x: F.rbf(x, _t((2, 4), 1, rg=False), w.detach()), _t((3, 4), 0))


def test_conic():
    _check(F.conic, _t((3, 4), 0), _t((2, 4), 1), _t((2, 4), 2), _t((2,), 3))
    _check(lambda c, om: F.conic(_t((3, 4), 0, rg=False), _t((2, 4), 1, rg=False), c, om), _t((2, 4), 2), _t((2,), 3))


def test_conic_at_center_is_finite():
    """x == c: the distance has no gradient there (taken as 0, as the C++); second order stays finite."""
    x = lamina.tensor([[0.5, -0.2], [1.0, 2.0]], dtype=F64, requires_grad=True)
    c = lamina.tensor([[0.5, -0.2]], dtype=F64, requires_grad=True)
    w = _t((1, 2), 3)
    om = lamina.tensor([0.7], dtype=F64, requires_grad=True)
    _same_first_order(F.conic, x, w, c, om)
    gx, gc = grad([F.conic(x, w, c, om).sum()], [x, c], create_graph=True)
    (gx.sum() + gc.sum()).backward()
    for t in (x, c, om):
        assert np.isfinite(t.grad.numpy()).all()


# ---- every order, every Function ---------------------------------------------------------------

def test_third_order():
    """d/dx of a second derivative (softmax, logsumexp, matmul, std) vs central differences."""
    a0 = np.random.default_rng(4).standard_normal((3, 4))

    def second(av):
        a = lamina.tensor(av, dtype=F64, requires_grad=True)
        y = (F.softmax(a @ a.mT, 1) * a.logsumexp(1, keepdim=True)).sum() + a.std(0).sum()
        (g1,) = grad([y], [a], create_graph=True)
        (g2,) = grad([(g1 * g1).sum()], [a], create_graph=True)
        return g2, a

    g2, a = second(a0)
    (g3,) = grad([g2.sum()], [a])
    h, fd = 1e-5, np.zeros(a0.shape)
    for i in np.ndindex(a0.shape):
        e = np.zeros(a0.shape)
        e[i] = h
        fd[i] = (second(a0 + e)[0].detach().numpy().sum() - second(a0 - e)[0].detach().numpy().sum()) / (2 * h)
    np.testing.assert_allclose(g3.numpy(), fd, rtol=1e-4, atol=1e-6)


def test_every_function_has_backward_graph():
    mods = (reduce_mod, softmax_mod, matmul_mod, linear_mod, rbf_mod)
    fns = [v for m in mods for v in vars(m).values()
           if isinstance(v, type) and issubclass(v, lamina.autograd.Function) and v.__module__ == m.__name__]
    assert len(fns) >= 12
    for f in fns:
        assert getattr(f, "backward_graph", None) is not None, f.__name__


def test_saved_values_only_what_is_read():
    """matmul/linear keep an operand only when the other's gradient reads it; var does not keep its
    output: a later in-place write to what is not read is legal (as in PyTorch)."""
    w = _t((5, 4), 1)
    x = _t((3, 4), 0, rg=False) * 1.0
    out = F.linear(x, w)            # dW reads x
    x2 = _t((3, 4), 0, rg=False) * 1.0
    out2 = x2 @ w.mT                # d(w.mT) reads x2
    leaf = _t((3, 4), 2)
    a = leaf * 1.0
    out3 = a @ _t((4, 2), 3, rg=False)  # only da is needed: a is not kept
    a.mul_(2.0)
    v = leaf.var(1)
    v.mul_(2.0)
    (out3.sum() + v.sum()).backward()
    assert leaf.grad is not None
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
    x2.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out2.sum().backward()


# ---- against torch ---------------------------------------------------------------------------

def _model(m, x, w1, b1, w2, c, s):
    F_ = m.nn.functional
    h = F_.linear(x, w1, b1).tanh()
    h = F_.softmax(h @ w2, -1) + F_.log_softmax(h, 1) * 0.1
    h = h * h.logsumexp(1, keepdim=True) + h.std(1, keepdim=True) + h.prod(1, keepdim=True)
    k = (-(h.unsqueeze(1)[..., :2] - c.unsqueeze(0)).pow(2).sum(-1) / (2 * s * s)).exp()  # RBF
    return (k.sum(1) * h.amax(1) + h.mean((0, 1)) + h.var(0).sum()).sum()


def _params(seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * 0.5 for s in ((5, 4), (3, 4), (3,), (3, 3), (2, 2), (2,))]


def _rbf_model(x, w1, b1, w2, c, s):
    """_model for lamina, with the RBF term through lamina's fused rbf op."""
    h = F.linear(x, w1, b1).tanh()
    h = F.softmax(h @ w2, -1) + F.log_softmax(h, 1) * 0.1
    h = h * h.logsumexp(1, keepdim=True) + h.std(1, keepdim=True) + h.prod(1, keepdim=True)
    k = F.rbf(h[:, :2], c, s)
    return (k.sum(1) * h.amax(1) + h.mean((0, 1)) + h.var(0).sum()).sum()


def test_gradient_penalty_vs_torch():
    torch = pytest.importorskip("torch")
    p = _params(5)
    lx, *lp = [lamina.tensor(a, dtype=F64, requires_grad=True) for a in p]
    tx, *tp = [torch.tensor(a, requires_grad=True) for a in p]
    (gx,) = grad([_rbf_model(lx, *lp)], [lx], create_graph=True)
    (gx * gx).sum().backward()
    (tgx,) = torch.autograd.grad(_model(torch, tx, *tp), [tx], create_graph=True)
    (tgx * tgx).sum().backward()
    np.testing.assert_allclose(gx.detach().numpy(), tgx.detach().numpy(), rtol=1e-9, atol=1e-12)
    for a, b in zip([lx] + lp, [tx] + tp):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-11)


def test_hessian_vector_product_vs_torch():
    torch = pytest.importorskip("torch")
    p = _params(6)
    v = [np.random.default_rng(7 + i).standard_normal(a.shape) for i, a in enumerate(p)]
    lp = [lamina.tensor(a, dtype=F64, requires_grad=True) for a in p]
    tp = [torch.tensor(a, requires_grad=True) for a in p]
    lg = grad([_rbf_model(*lp)], lp, create_graph=True)
    lhv = grad(list(lg), lp, [lamina.tensor(a, dtype=F64) for a in v])
    tg = torch.autograd.grad(_model(torch, *tp), tp, create_graph=True)
    thv = torch.autograd.grad(tg, tp, [torch.tensor(a) for a in v])
    for a, b in zip(lhv, thv):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-11)
