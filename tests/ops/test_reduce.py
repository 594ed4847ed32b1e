"""Reductions vs PyTorch (values and gradients, float32/float64) and finite differences:
sum/mean/prod/max/min/amax/amin/argmax/argmin/var/std/logsumexp/any/all and sum_to."""
import numpy as np
import pytest
from helpers import check_op

import lamina
from lamina.ops.reduce import sum_to


def distinct(shape):
    """Values with no ties and gaps wide enough for finite differences."""
    n = int(np.prod(shape))
    return lambda rng: (rng.permutation(n).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape))


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (-1, True), ((0, 2), False),
                                         ((-1, -3), True), (1, True), ((), False)])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean(op, dim, keepdim):
    def lf(x):
        return getattr(lamina, op)(x) if dim is None else getattr(lamina, op)(x, dim, keepdim)

    def tf(x):
        import torch
        return getattr(torch, op)(x) if dim is None else getattr(torch, op)(x, dim, keepdim)

    check_op(lf, tf, [(3, 1, 5)])
    check_op(lf, tf, [(2, 4, 3)], noncontig=True)


def test_sum_methods_and_shapes():
    check_op(lambda x: x.sum(1), lambda x: x.sum(1), [(7, 300, 3)])          # inner > 1, columns
    check_op(lambda x: x.sum(0), lambda x: x.sum(0), [(33, 1000)])           # bias-gradient shape
    check_op(lambda x: x.mean((0, 2)), lambda x: x.mean((0, 2)), [(4, 3, 5, 2)])  # permuted plan
    check_op(lambda x: x.sum(), lambda x: x.sum(), [()])                      # 0-d
    check_op(lambda x: x.sum(0), lambda x: x.sum(0), [()])
    check_op(lambda x: x.sum(-1, keepdim=True), lambda x: x.sum(-1, keepdim=True), [(1,)])


def test_large_sum_accuracy():
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(3_000_000) + 1.0).astype(np.float32)
    ref = a.astype(np.float64).sum()
    got = lamina.from_numpy(a).sum().item()
    assert abs(got - ref) / abs(ref) < 1e-6
    b = rng.standard_normal((500, 4000)).astype(np.float32)
    np.testing.assert_allclose(lamina.from_numpy(b).sum(1).numpy(), b.astype(np.float64).sum(1), rtol=1e-5,
                               atol=1e-3)
    np.testing.assert_allclose(lamina.from_numpy(b).sum(0).numpy(), b.astype(np.float64).sum(0), rtol=1e-5,
                               atol=1e-3)


def test_sum_dtypes_and_empty():
    x = lamina.tensor([[1, 2], [3, 4]])
    s = x.sum(0)
    assert s.dtype is lamina.int64 and s.tolist() == [4, 6]
    b = lamina.tensor([True, False, True])
    assert b.sum().dtype is lamina.int64 and b.sum().item() == 2
    assert lamina.sum(x, dtype=lamina.float64).dtype is lamina.float64
    e = lamina.zeros(0, 3)
    assert e.sum().item() == 0.0
    assert np.isnan(e.mean().item())
    np.testing.assert_array_equal(e.sum(0).numpy(), np.zeros(3, np.float32))
    assert e.sum(1).shape == (0,)
    with pytest.raises(TypeError, match="mean"):
        x.mean()


def test_dim_errors():
    x = lamina.randn(2, 3)
    with pytest.raises(IndexError, match=r"dimension out of range.*\[-2, 1\].*got 2"):
        x.sum(2)
    with pytest.raises(ValueError, match="appears multiple times"):
        x.sum((1, -1))
    with pytest.raises(TypeError, match="dim must be"):
        x.sum(1.5)
    with pytest.raises(IndexError, match="non-zero size"):
        lamina.zeros(0, 3).max(0)


def test_sum_to():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 4))
    t = lamina.from_numpy(a)
    np.testing.assert_allclose(sum_to(t, (3, 1)).numpy(), a.sum(0).sum(1, keepdims=True))
    np.testing.assert_allclose(sum_to(t, (1, 3, 4)).numpy(), a.sum(0, keepdims=True))
    np.testing.assert_allclose(sum_to(t, ()).numpy(), a.sum())
    assert sum_to(t, (2, 3, 4)) is t
    with pytest.raises(ValueError, match=r"sum_to.*\[2, 3, 4\].*\[5\]"):
        sum_to(t, (5,))
    with pytest.raises(ValueError, match="sum_to"):
        sum_to(t, (1, 2, 3, 4))
    # broadcasting in the autograd engine goes through sum_to
    x = lamina.randn(3, 1, requires_grad=True)
    y = lamina.randn(1, 4, requires_grad=True)
    (x + y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 1), 4.0))
    np.testing.assert_allclose(y.grad.numpy(), np.full((1, 4), 3.0))


def test_prod():
    check_op(lambda x: x.prod(), lambda x: x.prod(), [(2, 3)])
    check_op(lambda x: x.prod(1, keepdim=True), lambda x: x.prod(1, keepdim=True), [(3, 4, 2)])
    z = np.array([[1.0, 0.0, 3.0], [0.0, 0.0, 2.0], [1.5, 2.0, -1.0]])
    check_op(lambda x: x.prod(1), lambda x: x.prod(1), [z])  # zeros: exact gradient
    assert lamina.tensor([2, 3, 4]).prod().item() == 24


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_dim(op):
    for dim, keepdim in [(0, False), (-1, True), (1, False)]:
        check_op(lambda x: getattr(x, op)(dim, keepdim), lambda x: getattr(x, op)(dim, keepdim),
                 [distinct((3, 4, 5))])
    check_op(lambda x: getattr(x, op)(1), lambda x: getattr(x, op)(1), [distinct((4, 6))], noncontig=True)
    check_op(lambda x: getattr(x, op)(), lambda x: getattr(x, op)(), [distinct((4, 5))])
    r = getattr(lamina.tensor([[1.0, 5.0, 5.0], [2.0, 2.0, 0.0]]), op)(1)
    assert r.indices.dtype is lamina.int64
    assert r.indices.tolist() == ([1, 0] if op == "max" else [0, 2])  # ties: the first index
    v, i = r
    assert v is r.values and i is r.indices


def test_max_tie_gradient_and_nan():
    x = lamina.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    x.max(1).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0]]
    y = lamina.tensor([1.0, 3.0, 3.0], requires_grad=True)
    y.max().backward()                     # full max / amax: shared evenly, like torch
    assert y.grad.tolist() == [0.0, 0.5, 0.5]
    assert np.isnan(lamina.tensor([1.0, float("nan"), 2.0]).max().item())


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin(op):
    for dim in [(), 1, (0, 2), -1]:
        check_op(lambda x: getattr(lamina, op)(x, dim), lambda x: getattr(__import__("torch"), op)(x, dim),
                 [distinct((3, 4, 2))])
    check_op(lambda x: getattr(x, op)(0, keepdim=True), lambda x: getattr(x, op)(0, keepdim=True),
             [distinct((5, 3))], noncontig=True)


def test_argmax_argmin():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(2).standard_normal((4, 5, 6)).astype(np.float32)
    for fn in ("argmax", "argmin"):
        assert getattr(lamina.from_numpy(a), fn)().item() == getattr(torch.from_numpy(a), fn)().item()
        for dim, kd in [(0, False), (-1, True), (1, False)]:
            got = getattr(lamina.from_numpy(a), fn)(dim, kd)
            exp = getattr(torch.from_numpy(a), fn)(dim, kd)
            assert got.dtype is lamina.int64 and not got.requires_grad
            np.testing.assert_array_equal(got.numpy(), exp.numpy())
    assert lamina.tensor([3.0, 7.0, 7.0]).argmax().item() == 1


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std(op):
    for dim, kw in [(None, {}), (1, {}), ((0, 2), {"keepdim": True}), (-1, {"unbiased": False}),
                    (0, {"correction": 0}), (1, {"correction": 2})]:
        if dim is None:
            lf, tf = (lambda x: getattr(x, op)()), (lambda x: getattr(x, op)())
        else:
            lf = lambda x, d=dim, k=kw: getattr(x, op)(d, **k)  # noqa: E731
            tf = lambda x, d=dim, k=kw: getattr(x, op)(d, **k)  # noqa: E731
        check_op(lf, tf, [(4, 5, 3)])
    check_op(lambda x: getattr(lamina, op)(x, 0), lambda x: getattr(__import__("torch"), op)(x, 0), [(6, 4)],
             noncontig=True)
    assert np.isnan(getattr(lamina.tensor([1.0]), op)().item())  # N - 1 = 0


def test_var_large_offset_accuracy():
    a = (np.random.default_rng(0).standard_normal(10000) + 1e4).astype(np.float32)
    np.testing.assert_allclose(lamina.from_numpy(a).var().item(), a.astype(np.float64).var(ddof=1), rtol=1e-4)


def test_logsumexp():
    check_op(lambda x: lamina.logsumexp(x, 1), lambda x: __import__("torch").logsumexp(x, 1), [(3, 7)])
    check_op(lambda x: x.logsumexp((0, 2), keepdim=True), lambda x: x.logsumexp((0, 2), keepdim=True),
             [(3, 4, 5)], noncontig=True)
    big = lamina.tensor([1000.0, 1000.0])
    np.testing.assert_allclose(big.logsumexp(0).item(), 1000.0 + np.log(2.0), rtol=1e-6)
    ninf = lamina.tensor([float("-inf"), float("-inf")])
    assert ninf.logsumexp(0).item() == float("-inf")


def test_any_all():
    b = np.array([[True, False, False], [True, True, True]])
    t = lamina.from_numpy(b)
    assert t.any().item() is True and t.all().item() is False
    np.testing.assert_array_equal(t.all(1).numpy(), b.all(1))
    np.testing.assert_array_equal(t.any(0, keepdim=True).numpy(), b.any(0, keepdims=True))
    f = lamina.tensor([0.0, 2.0])
    assert f.any().item() is True and f.all().item() is False
    assert lamina.zeros(0).all().item() is True and lamina.zeros(0).any().item() is False
    assert lamina.all(t, 1).dtype is lamina.bool


# Vectorised sum paths (vec_sum.h rows, col_sums_vec columns): lengths around the vector widths,
# more than 16 rows per column block, ragged column tails, float32 and float64, non-contiguous.
@pytest.mark.parametrize("shape,dim", [((37, 1000), 1), ((1000, 37), 0), ((3, 517, 70), 1), ((5, 17), 1),
                                       ((33, 9), 0), ((2, 40, 129), 1), ((64, 1), 0), ((1, 300), 1)])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean_vector_shapes(op, shape, dim):
    def lf(x):
        return getattr(x, op)(dim)

    check_op(lf, lf, [shape], fd=False)
    check_op(lf, lf, [shape], fd=False, noncontig=True)


def test_sum_columns_accuracy_float32():
    rng = np.random.default_rng(1)
    b = (rng.standard_normal((3000, 67)) + 100.0).astype(np.float32)
    np.testing.assert_allclose(lamina.from_numpy(b).sum(0).numpy(), b.astype(np.float64).sum(0), rtol=2e-7)
    np.testing.assert_allclose(lamina.from_numpy(b).mean(1).numpy(), b.astype(np.float64).mean(1), rtol=2e-7)


@pytest.mark.parametrize("n", [7, 9 * 8 + 3, 63 * 8 + 7, 127 * 8, 128 * 8 + 5, 127 * 16 + 15, 128 * 16,
                               129 * 16 + 1, 300 * 16 + 13])
def test_sum_lines_accuracy_float32(n):
    # vec_sum.h's line sums (8 or 4 vector accumulators, each flushed to double after 16 vectors)
    # for line lengths that end the accumulator blocks at every tail step, near the float64 sum.
    rng = np.random.default_rng(n)
    b = (rng.standard_normal((3, n)) + 100.0).astype(np.float32)
    np.testing.assert_allclose(lamina.from_numpy(b).sum(1).numpy(), b.astype(np.float64).sum(1), rtol=2e-7)
    np.testing.assert_allclose(lamina.from_numpy(b).mean(1).numpy(), b.astype(np.float64).mean(1), rtol=2e-7)
