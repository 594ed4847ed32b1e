"""A leaf's gradient destination (``AccumulateGrad.dest``, engine.take_grad_destination): an op may
write a leaf's whole gradient, scaled, into memory someone offers (DistributedDataParallel's
shared-memory window), and the engine adopts that memory as ``.grad``. It must be taken only where
nobody can tell the difference: each refusal below would otherwise give a wrong gradient."""
import lamina
import lamina.nn.functional as F
import numpy as np
import pytest
from lamina import _C
from lamina.autograd.function import _edge


def _offer(t, scale=0.5):
    """Offers a zeroed buffer shaped like ``t`` as its gradient destination; returns (buffer, calls)."""
    buf = np.zeros(tuple(t.shape), t.detach().numpy().dtype)
    calls = []

    def dest():
        calls.append(1)
        return _C.from_numpy(buf), scale

    _edge(t)[0].dest = dest
    return buf, calls


def _data(dtype=np.float64, rows=7):
    rng = np.random.default_rng(0)
    x = lamina.from_numpy(rng.standard_normal((rows, 5)).astype(dtype))
    w = lamina.from_numpy(rng.standard_normal((3, 5)).astype(dtype)).requires_grad_()
    b = lamina.from_numpy(rng.standard_normal(3).astype(dtype)).requires_grad_()
    dy = lamina.from_numpy(rng.standard_normal((rows, 3)).astype(dtype))
    return x, w, b, dy


def _reference(x, w, b, dy):
    dw = dy.numpy().T @ x.numpy()  # x, dy: no grad
    db = dy.numpy().sum(0)
    return dw, db


def test_linear_writes_the_scaled_gradient_into_the_destination_and_it_becomes_grad():
    x, w, b, dy = _data()
    buf, calls = _offer(w, 0.5)
    (F.linear(x, w, b) * dy).sum().backward()
    dw, db = _reference(x, w, b, dy)
    assert calls == [1]
    assert w.grad._c.data_ptr() == buf.ctypes.data  # adopted, no copy
    np.testing.assert_allclose(buf, 0.5 * dw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), db, rtol=1e-12, atol=1e-12)  # no destination: unscaled


def test_bias_destination_alone():
    x, w, b, dy = _data()
    buf, calls = _offer(b, 0.25)
    (F.linear(x, w, b) * dy).sum().backward()
    dw, db = _reference(x, w, b, dy)
    assert calls == [1] and b.grad._c.data_ptr() == buf.ctypes.data
    np.testing.assert_allclose(buf, 0.25 * db, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), dw, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,out,inp", [(1, 3, 5), (7, 3, 5), (700, 40, 64), (300, 256, 784)])
def test_power_of_two_scale_gives_the_bits_of_scaling_afterwards(dtype, rows, out, inp):
    # 700 and 300 rows: the dW GEMM (K = rows) in more than one K block, the f32 kernel's sizes
    rng = np.random.default_rng(1)
    x, dy = (lamina.from_numpy(rng.standard_normal(s).astype(dtype)) for s in ((rows, inp), (rows, out)))
    w = lamina.from_numpy(rng.standard_normal((out, inp)).astype(dtype))
    dx0, dw0, db0 = _C.linear_backward(dy._c, x._c, w._c, True, True, True)
    ow, ob = lamina.zeros(out, inp, dtype=w.dtype), lamina.zeros(out, dtype=w.dtype)
    dx, dw, db = _C.linear_backward(dy._c, x._c, w._c, True, True, True, ow._c, ob._c, 0.5, 0.5)
    assert dw.data_ptr() == ow._c.data_ptr() and db.data_ptr() == ob._c.data_ptr()
    np.testing.assert_array_equal(dx.numpy(), dx0.numpy())
    np.testing.assert_array_equal(ow.numpy(), dw0.numpy() * dtype(0.5))
    np.testing.assert_array_equal(ob.numpy(), db0.numpy() * dtype(0.5))


def test_linear_backward_rejects_a_wrong_destination():
    x, w, _, dy = _data()
    with pytest.raises(ValueError, match="weight gradient destination of shape"):
        _C.linear_backward(dy._c, x._c, w._c, False, True, False, lamina.zeros(5, 3, dtype=w.dtype)._c)
    with pytest.raises(TypeError, match="destination dtype"):
        _C.linear_backward(dy._c, x._c, w._c, False, True, False, lamina.zeros(3, 5)._c)
    with pytest.raises(RuntimeError, match="contiguous"):
        _C.linear_backward(dy._c, x._c, w._c, False, True, False, lamina.zeros(5, 3, dtype=w.dtype).T._c)
    with pytest.raises(ValueError, match="bias gradient destination of shape"):
        _C.linear_backward(dy._c, x._c, w._c, False, False, True, None, lamina.zeros(4, dtype=w.dtype)._c)


def _check_refused(run, expect_dw_factor=1.0):
    """``run(x, w, b, dy)`` does a backward with a destination offered for w: it must not be taken."""
    x, w, b, dy = _data()
    buf, calls = _offer(w)
    got = run(x, w, b, dy)
    assert calls == [], "the destination was taken"
    assert not buf.any()
    dw, _ = _reference(x, w, b, dy)
    np.testing.assert_allclose(got, expect_dw_factor * dw, rtol=1e-12, atol=1e-12)


def test_refused_when_grad_exists():
    def run(x, w, b, dy):
        w.grad = lamina.ones(3, 5, dtype=w.dtype)
        (F.linear(x, w, b) * dy).sum().backward()
        return w.grad.numpy() - 1.0
    _check_refused(run)


def test_refused_for_autograd_grad():
    _check_refused(lambda x, w, b, dy: lamina.autograd.grad((F.linear(x, w, b) * dy).sum(), [w])[0].numpy())


def test_refused_for_create_graph():
    def run(x, w, b, dy):
        (F.linear(x, w, b) * dy).sum().backward(create_graph=True)
        return w.grad.detach().numpy()
    _check_refused(run)


def test_refused_with_a_tensor_hook():
    def run(x, w, b, dy):
        seen = []
        w.register_hook(lambda g: seen.append(g.numpy().copy()))
        (F.linear(x, w, b) * dy).sum().backward()
        np.testing.assert_array_equal(seen[0], w.grad.numpy())
        return w.grad.numpy()
    _check_refused(run)


@pytest.mark.parametrize("order", ["linear_last", "linear_first"])
def test_refused_when_another_op_also_gives_the_leaf_a_gradient(order):
    # tied use: the engine sums two gradients, so neither may be written scaled into the destination
    def run(x, w, b, dy):
        y = (F.linear(x, w, b) * dy).sum()
        extra = (w * 2.0).sum()
        (y + extra if order == "linear_last" else extra + y).backward()
        return w.grad.numpy() - 2.0
    _check_refused(run)


def test_refused_for_a_weight_used_twice():
    x, w, b, dy = _data()
    buf, calls = _offer(w)
    ((F.linear(x, w, b) + F.linear(x, w, b)) * dy).sum().backward()
    dw, _ = _reference(x, w, b, dy)
    assert calls == [] and not buf.any()
    np.testing.assert_allclose(w.grad.numpy(), 2 * dw, rtol=1e-12, atol=1e-12)


def test_declined_destination_leaves_the_ordinary_path():
    x, w, b, dy = _data()
    _edge(w)[0].dest = lambda: None
    (F.linear(x, w, b) * dy).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), _reference(x, w, b, dy)[0], rtol=1e-12, atol=1e-12)


def test_in_place_accumulation_keeps_the_grad_tensor():
    x, w, b, dy = _data()
    (F.linear(x, w, b) * dy).sum().backward()
    g, ptr, ver = w.grad, w.grad._c.data_ptr(), w.grad._c._version
    (F.linear(x, w, b) * dy).sum().backward()
    assert w.grad is g and g._c.data_ptr() == ptr and g._c._version > ver
    np.testing.assert_allclose(g.numpy(), 2 * _reference(x, w, b, dy)[0], rtol=1e-12, atol=1e-12)
