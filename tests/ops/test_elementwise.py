"""Elementwise ops against PyTorch (values, gradients) and float64 finite differences: broadcasting
in every direction, non-contiguous and empty inputs, type promotion, comparisons, where, in-place
semantics and error messages."""
import numpy as np
import pytest
from helpers import check_op

import lamina
from lamina.ops import compare as Cmp

torch = pytest.importorskip("torch")

pos = lambda shape: (lambda rng: rng.uniform(0.5, 2.0, shape))  # noqa: E731
away = lambda shape: (lambda rng: rng.choice([-1, 1], shape) * rng.uniform(0.3, 2.0, shape))  # noqa: E731

BCAST = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((4,), (2, 3, 4)), ((), (2, 3)),
         ((2, 3), ()), ((1,), (5,)), ((2, 1, 3), (4, 1))]


@pytest.mark.parametrize("sa,sb", BCAST)
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_binary_broadcast(name, sa, sb):
    lf, tf = getattr(lamina, name), getattr(torch, name)
    specs = [sa, pos(sb) if name == "div" else sb]
    check_op(lf, tf, specs)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
def test_binary_noncontig(name):
    lf, tf = getattr(lamina, name), getattr(torch, name)
    check_op(lf, tf, [pos((3, 5)), pos((3, 5))], noncontig=True)
    check_op(lf, tf, [pos((4, 3)), pos((3,))], noncontig=True)


def test_add_sub_alpha():
    check_op(lambda a, b: lamina.add(a, b, alpha=2.5), lambda a, b: torch.add(a, b, alpha=2.5), [(3, 4), (4,)])
    check_op(lambda a, b: lamina.sub(a, b, alpha=-0.5), lambda a, b: torch.sub(a, b, alpha=-0.5), [(2, 1), (1, 3)])
    check_op(lambda a, b: a.add(b, alpha=3), lambda a, b: a.add(b, alpha=3), [(5,), (5,)])


def test_pow_forms():
    check_op(lambda a, b: a ** b, lambda a, b: a ** b, [pos((3, 4)), (3, 1)])
    for e in (2, 3, 0.5, -1, 1.7, 1, 0):
        check_op(lambda a: a ** e, lambda a: a ** e, [pos((3, 4))])
    check_op(lambda a: 2.0 ** a, lambda a: 2.0 ** a, [(3, 4)])
    check_op(lambda a: lamina.pow(1.5, a), lambda a: torch.pow(1.5, a), [(5,)])
    # PyTorch's conventions at base 0 / exponent 0
    check_op(lambda a, b: a ** b, lambda a, b: a ** b, [np.array([0.0, 2.0, 0.0]), np.array([2.0, 0.0, 3.0])], fd=False)


def test_scalar_operators_and_reflected():
    ops = [lambda a: a + 2, lambda a: 2 + a, lambda a: a - 1.5, lambda a: 1.5 - a, lambda a: a * 3,
           lambda a: 3 * a, lambda a: a / 4, lambda a: 4 / a, lambda a: -a, lambda a: abs(a) + 0,
           lambda a: 2 ** a, lambda a: a ** 2, lambda a: +a * 1]
    for f in ops:
        check_op(f, f, [away((3, 4))])
    check_op(lambda a: lamina.rsub(a, 2, alpha=3), lambda a: torch.rsub(a, 2, alpha=3), [(4,)])


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "sin", "cos", "square", "reciprocal",
                                  "neg", "sign"])
def test_unary(name):
    lf, tf = getattr(lamina, name), getattr(torch, name)
    spec = pos if name in ("log", "sqrt", "reciprocal") else away
    check_op(lf, tf, [spec((3, 5))])
    check_op(lf, tf, [spec((4, 3))], noncontig=True, fd=False)
    check_op(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), [spec((2, 3))], fd=False)


def test_unary_int_promotion():
    i = lamina.tensor([1, 2, 3])
    ti = torch.tensor([1, 2, 3])
    for name in ("exp", "log", "sqrt", "sin", "reciprocal"):
        r, t = getattr(lamina, name)(i), getattr(torch, name)(ti)
        assert r.dtype is lamina.float32 and t.dtype == torch.float32
        np.testing.assert_allclose(r.numpy(), t.numpy(), rtol=1e-6)
    for name in ("abs", "neg", "square", "sign"):
        r, t = getattr(lamina, name)(-i), getattr(torch, name)(-ti)
        assert r.dtype is lamina.int64
        np.testing.assert_array_equal(r.numpy(), t.numpy())


def test_clamp():
    check_op(lambda x: lamina.clamp(x, -0.5, 0.5), lambda x: torch.clamp(x, -0.5, 0.5),
             [lambda rng: rng.choice([-1.2, -0.2, 0.1, 0.9], (4, 5)) + rng.uniform(-0.05, 0.05, (4, 5))])
    check_op(lambda x: x.clamp(min=0.1), lambda x: x.clamp(min=0.1), [away((3, 4))])
    check_op(lambda x: x.clip(max=0.1), lambda x: x.clip(max=0.1), [away((3, 4))])
    # tensor bounds broadcast
    check_op(lambda x, lo: lamina.clamp(x, min=lo), lambda x, lo: torch.clamp(x, min=lo),
             [(3, 4), (4,)], fd=False)
    # min > max gives max
    x = lamina.tensor([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(lamina.clamp(x, 1.0, 0.5).numpy(), [0.5, 0.5, 0.5])
    assert lamina.clamp(lamina.tensor([1, 5]), 0, 3).dtype is lamina.int64
    assert lamina.clamp(lamina.tensor([1, 5]), 0.5).dtype is lamina.float32
    with pytest.raises(ValueError, match="min.*max"):
        lamina.clamp(x)


def test_where():
    cond = lambda rng: rng.random((3, 4)) > 0.5  # noqa: E731
    check_op(lambda c, x, y: lamina.where(c, x, y), lambda c, x, y: torch.where(c, x, y), [cond, (3, 4), (3, 4)])
    check_op(lambda c, x, y: lamina.where(c, x, y), lambda c, x, y: torch.where(c, x, y), [cond, (4,), (3, 1)])
    check_op(lambda c, x: lamina.where(c, x, 0.5), lambda c, x: torch.where(c, x, 0.5), [cond, (1, 4)])
    check_op(lambda c, y: lamina.where(c, 2, y), lambda c, y: torch.where(c, 2, y), [cond, (3, 4)])
    check_op(lambda c, x, y: x.where(c, y), lambda c, x, y: x.where(c, y), [cond, (3, 4), (3, 4)], fd=False)
    b = lamina.tensor([True, False])
    assert lamina.where(b, lamina.tensor([1, 2]), 1.5).dtype is lamina.float32
    assert lamina.where(b, 1, 2).dtype is lamina.int64
    with pytest.raises(TypeError, match="bool condition"):
        lamina.where(lamina.tensor([1.0, 0.0]), lamina.tensor([1.0, 2.0]), 0.0)


@pytest.mark.parametrize("name,op", [("eq", "__eq__"), ("ne", "__ne__"), ("lt", "__lt__"), ("le", "__le__"),
                                     ("gt", "__gt__"), ("ge", "__ge__")])
def test_comparisons(name, op):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, (3, 4)).astype(np.float32)
    b = rng.integers(0, 3, (4,)).astype(np.float32)
    la, lb, ta, tb = lamina.tensor(a), lamina.tensor(b), torch.tensor(a), torch.tensor(b)
    for lr, tr in [(getattr(lamina, name)(la, lb), getattr(torch, name)(ta, tb)),
                   (getattr(la, op)(lb), getattr(ta, op)(tb)),
                   (getattr(la, op)(1), getattr(ta, op)(1)),
                   (getattr(la, op)(1.5), getattr(ta, op)(1.5)),
                   (getattr(lamina.tensor([0, 1, 2]), op)(1.0), getattr(torch.tensor([0, 1, 2]), op)(1.0))]:
        assert lr.dtype is lamina.bool_
        assert not lr.requires_grad
        np.testing.assert_array_equal(lr.numpy(), tr.numpy())
    x = lamina.tensor(a, requires_grad=True)
    assert not getattr(x, op)(0.5).requires_grad


def test_reflected_comparison_and_logical():
    x = lamina.tensor([0.0, 1.0, 2.0])
    np.testing.assert_array_equal((1.0 < x).numpy(), [False, False, True])
    np.testing.assert_array_equal((2 >= x).numpy(), [True, True, True])
    m = x > 0.5
    np.testing.assert_array_equal((~m).numpy(), [True, False, False])
    np.testing.assert_array_equal(lamina.logical_not(m).numpy(), [True, False, False])
    np.testing.assert_array_equal((m & (x < 1.5)).numpy(), [False, True, False])
    np.testing.assert_array_equal((m | (x < 0.5)).numpy(), [True, True, True])
    assert (x == None) is False  # noqa: E711  (falls back to identity, like torch)


def test_isnan_isfinite_all_finite():
    x = lamina.tensor([1.0, float("nan"), float("inf"), -float("inf"), 0.0])
    np.testing.assert_array_equal(lamina.isnan(x).numpy(), [False, True, False, False, False])
    np.testing.assert_array_equal(lamina.isfinite(x).numpy(), [True, False, False, False, True])
    assert not Cmp.all_finite(x)
    assert not Cmp.all_finite(lamina.tensor([1.0, float("inf")], dtype=lamina.float64))
    assert Cmp.all_finite(lamina.ones(1000))
    assert Cmp.all_finite(lamina.tensor([1, 2]))
    assert Cmp.all_finite(lamina.zeros(0))
    arr = np.ones(100000, np.float32)
    arr[77777] = np.nan
    big = lamina.tensor(arr)
    assert not Cmp.all_finite(big)


def test_promotion():
    i, f, b = lamina.tensor([1, 2]), lamina.tensor([1.0, 2.0]), lamina.tensor([True, False])
    d0 = lamina.tensor(1.5, dtype=lamina.float64)
    ti, tf, tb, td0 = torch.tensor([1, 2]), torch.tensor([1.0, 2.0]), torch.tensor([True, False]), torch.tensor(1.5, dtype=torch.float64)
    cases = [(i + 1.5, ti + 1.5), (i * 2, ti * 2), (i / i, ti / ti), (i / 2, ti / 2), (i ** 2, ti ** 2),
             (i ** 2.0, ti ** 2.0), (2 ** i, 2 ** ti), (2.0 ** i, 2.0 ** ti), (b * 2, tb * 2), (b + 1.5, tb + 1.5),
             (i + d0, ti + td0), (f + d0, tf + td0), (i + f, ti + tf), (f * 2, tf * 2),
             (f.double() + f, tf.double() + tf), (lamina.maximum(i, f), torch.maximum(ti, tf)), (i - 3, ti - 3)]
    for k, (l, t) in enumerate(cases):
        assert l.dtype.name == str(t.dtype).replace("torch.", ""), f"case {k}: {l.dtype} vs {t.dtype}"
        np.testing.assert_allclose(l.numpy(), t.numpy(), err_msg=f"case {k}")
    lamina.set_default_dtype(lamina.float64)
    try:
        assert (i / 2).dtype is lamina.float64
        assert (i * 0.5).dtype is lamina.float64
        assert lamina.exp(i).dtype is lamina.float64
    finally:
        lamina.set_default_dtype(lamina.float32)
    with pytest.raises(RuntimeError, match="negative integer powers"):
        i ** -1


def test_mixed_dtype_grads():
    a = lamina.tensor([1.0, 2.0], requires_grad=True)
    b = lamina.tensor([[3.0], [4.0]], dtype=lamina.float64, requires_grad=True)
    out = a * b
    assert out.dtype is lamina.float64
    out.backward(lamina.ones(2, 2, dtype=lamina.float64))
    assert a.grad.dtype is lamina.float32 and b.grad.dtype is lamina.float64
    np.testing.assert_allclose(a.grad.numpy(), [7.0, 7.0])
    np.testing.assert_allclose(b.grad.numpy(), [[3.0], [3.0]])
    # int operand: only the float side gets a gradient
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    (x * lamina.tensor([3, 4])).backward(lamina.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_empty():
    for sa, sb in [((0,), (0,)), ((0, 3), (3,)), ((2, 0), (2, 1))]:
        check_op(lamina.add, torch.add, [sa, sb], fd=False)
        check_op(lamina.mul, torch.mul, [sa, sb], fd=False)
    check_op(lamina.exp, torch.exp, [(0, 4)], fd=False)
    check_op(lambda x: x.clamp(0, 1), lambda x: x.clamp(0, 1), [(0,)], fd=False)
    assert (lamina.zeros(0, 3) > 1).shape == (0, 3)


def test_broadcast_error_names_shapes():
    with pytest.raises(ValueError, match=r"\[2, 3\].*\[4\]|\[4\].*\[2, 3\]"):
        lamina.ones(2, 3) + lamina.ones(4)
    with pytest.raises(ValueError, match=r"\[3\].*\[2\]"):
        lamina.ones(3) * lamina.ones(2)
    with pytest.raises(ValueError, match=r"\[3\]"):
        lamina.ones(3) == lamina.ones(2)
    with pytest.raises(TypeError):
        lamina.ones(3) + "a"
    with pytest.raises(TypeError):
        lamina.add(lamina.ones(3), [1, 2, 3])


def test_inplace_no_grad_writes_through_views():
    x = lamina.arange(12).reshape(3, 4).double()
    row = x[1]
    x += 1
    x.mul_(2)
    x.sub_(lamina.ones(4, dtype=lamina.float64), alpha=2)
    x /= 2
    np.testing.assert_allclose(row.numpy(), np.arange(4, 8) * 1.0)
    y = lamina.tensor([-2.0, 0.5, 3.0])
    v = y[:]
    y.clamp_(-1, 1)
    np.testing.assert_allclose(v.numpy(), [-1.0, 0.5, 1.0])
    y.exp_()
    np.testing.assert_allclose(v.numpy(), np.exp([-1.0, 0.5, 1.0]), rtol=1e-6)
    # in place on a view writes into the base
    z = lamina.zeros(2, 3)
    z[:, 1].add_(5)
    np.testing.assert_allclose(z.numpy(), [[0, 5, 0], [0, 5, 0]])
    # requires_grad tensors under no_grad: written in place (optimizer-style update)
    w = lamina.ones(3, requires_grad=True)
    with lamina.no_grad():
        w -= 0.5 * lamina.ones(3)
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 0.5, 0.5])
    assert w.is_leaf and w.requires_grad
    # self-overlapping operand is read before it is written
    s = lamina.tensor([1.0, 2.0, 3.0, 4.0])
    s[1:].add_(s[:-1])
    np.testing.assert_allclose(s.numpy(), [1.0, 3.0, 5.0, 7.0])


def test_inplace_leaf_error_and_graph_rebind():
    w = lamina.ones(3, requires_grad=True)
    for f in (lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.clamp_(0, 1), lambda t: t.exp_()):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            f(w)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w += 1
    # non-leaf: out of place, self rebound, gradient flows correctly
    a = lamina.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = a * 2
    h2 = h
    h *= a          # h = 2a^2
    h.add_(a, alpha=3)  # h = 2a^2 + 3a
    assert h is h2 and h.grad_fn is not None
    h.backward(lamina.ones(3))
    ta = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    th = ta * 2
    th *= ta
    th.add_(ta, alpha=3)
    th.backward(torch.ones(3))
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy())
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())
    # a plain tensor updated in place with a grad-requiring operand joins the graph
    b = lamina.zeros(3)
    b += a
    assert b.requires_grad


def test_inplace_errors():
    i = lamina.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(lamina.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"output with shape \[2\] doesn't match the broadcast shape \[3, 2\]"):
        lamina.ones(2).add_(lamina.ones(3, 2))
    with pytest.raises(RuntimeError, match="single memory location"):
        lamina.ones(1).expand(3).add_(1)
    i.add_(2)
    np.testing.assert_array_equal(i.numpy(), [3, 4])
    assert i.dtype is lamina.int64


def test_maximum_ties_share_gradient():
    check_op(lamina.maximum, torch.maximum, [np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])], fd=False)
    check_op(lamina.minimum, torch.minimum, [np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])], fd=False)
    n = lamina.maximum(lamina.tensor([float("nan"), 1.0]), lamina.tensor([0.0, float("nan")]))
    assert np.isnan(n.numpy()).all()


def test_large_parallel_paths():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((300, 400)), rng.standard_normal((400,))
    la, lb = lamina.tensor(a), lamina.tensor(b)
    np.testing.assert_allclose((la * lb + la).numpy(), (a * b + a).astype(np.float32), rtol=1e-5)
    np.testing.assert_allclose(lamina.exp(la).numpy(), np.exp(a).astype(np.float32), rtol=1e-5)
    lt = lamina.tensor(a.T.copy()).t()  # non-contiguous, big
    np.testing.assert_allclose((lt - 1.0).numpy(), (a - 1.0).astype(np.float32), rtol=1e-5)
    # gradient of a broadcast operand sums over the broadcast rows
    lb.requires_grad_(True)
    (la * lb).backward(lamina.ones(300, 400))
    np.testing.assert_allclose(lb.grad.numpy(), a.sum(0), rtol=1e-4, atol=1e-3)
