"""The autograd engine: recording, accumulation, graph freeing, grad modes, autograd.grad,
custom Functions, hooks, gradcheck and detect_anomaly."""
import numpy as np
import pytest

import lamina
from lamina.autograd import Function


def leaf(a, dtype="float64"):
    return lamina.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def test_leaf_and_graph_flags():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    z = lamina.tensor([1.0, 2.0]) * 3.0
    assert z.grad_fn is None and not z.requires_grad  # nothing recorded without grad inputs


def test_gradients_accumulate_into_leaves():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0, 12.0])


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_broadcast_gradients_reduce_to_input_shapes():
    a = leaf(np.ones((3, 1)))
    b = leaf(np.arange(4.0))
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 6.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 3.0))


def test_diamond_graph_sums_both_paths():
    x = leaf([2.0])
    y = x * x
    z = y * x + y  # x^3 + x^2
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 * 4 + 2 * 2])


def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with lamina.no_grad():
        y = x * 2
        assert not lamina.is_grad_enabled()
        with lamina.enable_grad():
            w = x * 2
    assert y.grad_fn is None and not y.requires_grad
    assert w.grad_fn is not None
    assert lamina.is_grad_enabled()

    @lamina.no_grad()
    def f(t):
        return t * 2

    assert f(x).grad_fn is None
    with lamina.set_grad_enabled(False):
        assert (x * 2).grad_fn is None


def test_detach_shares_memory_without_grad():
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    d.numpy()[0] = 5.0
    assert x.detach().numpy()[0] == 5.0


def test_backward_needs_gradient_for_non_scalar():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(lamina.tensor([1.0, 10.0], dtype=lamina.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])


def test_autograd_grad_returns_without_touching_dot_grad():
    x = leaf([1.0, 2.0])
    y = leaf([3.0, 4.0])
    z = x * y
    gx, gy = lamina.autograd.grad(z, (x, y), grad_outputs=lamina.tensor([1.0, 1.0], dtype=lamina.float64))
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gy.numpy(), [1.0, 2.0])
    assert x.grad is None and y.grad is None
    u = leaf([1.0])
    with pytest.raises(RuntimeError, match="not have been used"):
        lamina.autograd.grad((x * 2).sum(), [x, u])
    gx, gu = lamina.autograd.grad((x * 2).sum(), [x, u], allow_unused=True)
    assert gu is None


def test_grad_of_intermediate_tensor():
    x = leaf([1.0, 2.0])
    h = x * 3
    out = (h * h).sum()
    (gh,) = lamina.autograd.grad(out, h)
    np.testing.assert_allclose(gh.numpy(), 2 * 3 * np.array([1.0, 2.0]))


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, dout):
        (x,) = ctx.saved_tensors
        return dout * 3 * x * x


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, dout):
        (x,) = ctx.saved_tensors
        return dout * 2 * x * x


def test_custom_function_and_gradcheck():
    x = leaf([0.5, -1.5, 2.0])
    y = Cube.apply(x)
    assert y.grad_fn.name == "CubeBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([0.5, -1.5, 2.0]) ** 2)
    assert lamina.autograd.gradcheck(Cube.apply, (leaf([0.3, -0.7]),))


def test_gradcheck_reports_worst_element():
    with pytest.raises(lamina.autograd.GradcheckError, match="worst element"):
        lamina.autograd.gradcheck(WrongCube.apply, (leaf([0.3, -0.7, 2.0]),))


def test_gradcheck_requires_float64():
    with pytest.raises(ValueError, match="float64"):
        lamina.autograd.gradcheck(Cube.apply, (leaf([1.0], dtype="float32"),))


def test_retain_grad_and_hooks():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.retain_grad()
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy())
    np.testing.assert_allclose(seen[0], [8.0, 16.0])
    np.testing.assert_allclose(x.grad.numpy(), [80.0, 160.0])
    handle.remove()


def test_detect_anomaly_names_the_op():
    class Explode(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, dout):
            return dout * float("inf")

    x = leaf([1.0])
    Explode.apply(x).sum().backward()  # not an error by default
    assert np.isinf(x.grad.numpy()).all()
    with lamina.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="ExplodeBackward"):
            Explode.apply(x).sum().backward()


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating-point"):
        lamina.tensor([1, 2]).requires_grad_()
    y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_float32_and_float64_graphs():
    for dt in ("float32", "float64"):
        x = leaf([1.0, 2.0], dtype=dt)
        (x * x).sum().backward()
        assert x.grad.dtype.name == dt
