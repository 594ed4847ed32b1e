"""F.batch_norm and F.layer_norm against torch (values, gradients, running statistics) and
finite differences."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from helpers import check_op


def _torch():
    return pytest.importorskip("torch")


def pos(shape):
    return lambda rng: rng.uniform(0.5, 1.5, shape)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (3, 2, 4, 3), (1, 3, 7)])
def test_batch_norm_training(shape):
    torch = _torch()
    C = shape[1]

    def lf(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)

    def tf(x, w, b):
        return torch.nn.functional.batch_norm(x, None, None, w, b, training=True)

    check_op(lf, tf, [shape, (C,), (C,)])
    check_op(lf, tf, [shape, (C,), (C,)], noncontig=True, fd=False)


def test_batch_norm_no_affine_and_partial_grads():
    torch = _torch()
    check_op(lambda x: F.batch_norm(x, None, None, training=True),
             lambda x: torch.nn.functional.batch_norm(x, None, None, training=True), [(5, 3, 2)])
    check_op(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
             lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True),
             [(5, 3), (3,), (3,)], grad=[False, True, True])


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)])
def test_batch_norm_eval(shape):
    torch = _torch()
    C = shape[1]

    def lf(x, rm, rv, w, b):
        return F.batch_norm(x, rm, rv, w, b, training=False)

    def tf(x, rm, rv, w, b):
        return torch.nn.functional.batch_norm(x, rm, rv, w, b, training=False)

    check_op(lf, tf, [shape, (C,), pos(C), (C,), (C,)], grad=[True, False, False, True, True])


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_batch_norm_running_stats(dt):
    torch = _torch()
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((6, 3, 4)) * 3 + 2).astype(dt)
    rm, rv = np.zeros(3, dt), np.ones(3, dt)
    lrm, lrv = lamina.tensor(rm), lamina.tensor(rv)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    for _ in range(2):
        lo = F.batch_norm(lamina.tensor(x), lrm, lrv, training=True, momentum=0.2)
        to = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.2)
    np.testing.assert_allclose(lrm.numpy(), trm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lrv.numpy(), trv.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lo.numpy(), to.numpy(), rtol=1e-5, atol=1e-5)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\[1, 3\]"):
        F.batch_norm(lamina.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="evaluation mode"):
        F.batch_norm(lamina.randn(4, 3), None, None, training=False)
    with pytest.raises(ValueError, match=r"weight must have shape \[3\], got \[4\]"):
        F.batch_norm(lamina.randn(4, 3), None, None, lamina.ones(4), training=True)
    with pytest.raises(ValueError, match=r"\(N, C\).*\[3\]"):
        F.batch_norm(lamina.randn(3), None, None, training=True)


@pytest.mark.parametrize("shape,ns", [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((1, 7), (7,)),
                                      ((6,), (6,))])
def test_layer_norm(shape, ns):
    torch = _torch()
    check_op(lambda x, w, b: F.layer_norm(x, ns, w, b), lambda x, w, b: torch.nn.functional.layer_norm(x, ns, w, b),
             [shape, ns, ns])
    check_op(lambda x: F.layer_norm(x, ns), lambda x: torch.nn.functional.layer_norm(x, ns), [shape],
             noncontig=True)


def test_layer_norm_large_mean_float32():
    torch = _torch()
    check_op(lambda x: F.layer_norm(x, 64, eps=1e-5), lambda x: torch.nn.functional.layer_norm(x, (64,), eps=1e-5),
             [lambda rng: rng.standard_normal((3, 64)) + 100.0], dtypes=("float32",), fd=False,
             tol={"float32": ((1e-4, 1e-3), (1e-3, 1e-2))})


def test_layer_norm_errors():
    with pytest.raises(ValueError, match=r"input of shape \[2, 3\] does not end with normalized_shape \[4\]"):
        F.layer_norm(lamina.randn(2, 3), (4,))
    with pytest.raises(ValueError, match=r"weight must have shape \[3\], got \[2\]"):
        F.layer_norm(lamina.randn(2, 3), (3,), lamina.ones(2))


# Vectorised paths (cpp/ops/norm.cpp over vec_sum.h): row lengths around the vector widths (8 / 16
# floats, 4 / 8 doubles), 1-element rows, row counts across the 16-row blocks of the layer_norm
# weight gradient, and per-channel planes that are not a whole number of vectors.
@pytest.mark.parametrize("shape,ns", [((37, 17), (17,)), ((3, 5, 33), (33,)), ((2, 3, 4, 128), (128,)),
                                      ((40, 1), (1,)), ((5, 300), (300,)), ((2, 3, 7), (3, 7))])
def test_layer_norm_vector_shapes(shape, ns):
    torch = _torch()
    check_op(lambda x, w, b: F.layer_norm(x, ns, w, b), lambda x, w, b: torch.nn.functional.layer_norm(x, ns, w, b),
             [shape, ns, ns], fd=shape[-1] < 100)
    check_op(lambda x, w: F.layer_norm(x, ns, w), lambda x, w: torch.nn.functional.layer_norm(x, ns, w),
             [shape, ns], noncontig=True, fd=False)


def test_layer_norm_large_mean_vector_rows():
    torch = _torch()
    check_op(lambda x: F.layer_norm(x, 128), lambda x: torch.nn.functional.layer_norm(x, (128,)),
             [lambda rng: rng.standard_normal((20, 128)) + 1000.0], dtypes=("float32",), fd=False,
             tol={"float32": ((1e-3, 1e-3), (1e-2, 1e-2))})


def test_layer_norm_weight_grad_thread_independent():
    x = lamina.randn(100, 48)
    g = lamina.randn(100, 48)
    n = lamina.get_num_threads()
    grads = []
    try:
        for t in (1, 2):
            lamina.set_num_threads(t)
            w = lamina.ones(48, requires_grad=True)
            F.layer_norm(x, (48,), w).backward(g)
            grads.append(w.grad.numpy().copy())
    finally:
        lamina.set_num_threads(n)
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("shape", [(3, 5, 17), (2, 4, 16, 16), (5, 3, 1), (2, 3, 5, 7)])
def test_batch_norm_vector_shapes(shape):
    torch = _torch()
    C = shape[1]
    check_op(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
             lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True),
             [shape, (C,), (C,)], fd=np.prod(shape) < 400)


def test_batch_norm_large_mean_float32():
    torch = _torch()
    check_op(lambda x: F.batch_norm(x, None, None, training=True),
             lambda x: torch.nn.functional.batch_norm(x, None, None, training=True),
             [lambda rng: rng.standard_normal((8, 3, 40)) + 1000.0], dtypes=("float32",), fd=False,
             tol={"float32": ((1e-3, 1e-3), (1e-2, 1e-2))})
