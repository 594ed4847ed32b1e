"""F.rbf and F.conic (conic section function network units) against a torch composition of
primitive ops and finite differences. Inputs stay away from the centres (||x - c|| has a kink at 0)."""
import math

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from helpers import check_fd, check_op


def _torch():
    return pytest.importorskip("torch")


def torch_rbf(x, c, w):
    d2 = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    return (-d2 / (2 * w ** 2)).exp()


def torch_conic(x, w, c, om):
    r = x[:, None, :] - c[None, :, :]
    return (r * w[None]).sum(-1) - om.cos() * (r ** 2).sum(-1).sqrt()


def far(shape, shift):
    # x around +shift, centres around 0: pairwise distances stay well above 0.
    return lambda rng: rng.standard_normal(shape) * 0.5 + shift


def widths(k):
    return lambda rng: rng.uniform(0.8, 2.0, k)


@pytest.mark.parametrize("N,D,K", [(5, 3, 4), (1, 1, 1), (7, 2, 3), (3, 6, 1)])
def test_rbf(N, D, K):
    _torch()
    check_op(F.rbf, torch_rbf, [far((N, D), 1.0), (K, D), widths(K)])


def test_rbf_noncontiguous_and_partial():
    _torch()
    check_op(F.rbf, torch_rbf, [far((6, 3), 1.0), (4, 3), widths(4)], noncontig=True)
    check_op(F.rbf, torch_rbf, [far((6, 3), 1.0), (4, 3), widths(4)], grad=[False, True, True])


def test_rbf_values():
    x = lamina.tensor([[0.0, 0.0], [3.0, 4.0]], dtype=lamina.float64)
    c = lamina.tensor([[0.0, 0.0]], dtype=lamina.float64)
    w = lamina.tensor([2.0], dtype=lamina.float64)
    np.testing.assert_allclose(F.rbf(x, c, w).numpy(), [[1.0], [math.exp(-25 / 8)]])


@pytest.mark.parametrize("N,D,K", [(5, 3, 4), (1, 1, 1), (6, 2, 3)])
def test_conic(N, D, K):
    _torch()
    check_op(F.conic, torch_conic, [far((N, D), 2.0), (K, D), (K, D), lambda rng: rng.uniform(0.2, 3.0, K)])


def test_conic_noncontiguous():
    _torch()
    check_op(F.conic, torch_conic, [far((5, 3), 2.0), (4, 3), (4, 3), lambda rng: rng.uniform(0.2, 3.0, 4)],
             noncontig=True)


def test_conic_special_cases():
    rng = np.random.default_rng(0)
    x = lamina.tensor(rng.standard_normal((4, 3)))
    w = lamina.tensor(rng.standard_normal((2, 3)))
    c = lamina.tensor(rng.standard_normal((2, 3)))
    xn, wn, cn = x.numpy(), w.numpy(), c.numpy()
    # omega = pi/2: the perceptron's hyperplane w.x - w.c
    out = F.conic(x, w, c, lamina.tensor(np.full(2, math.pi / 2))).numpy()
    np.testing.assert_allclose(out, xn @ wn.T - (wn * cn).sum(1), atol=1e-12)
    # w = 0, omega = pi: the distance to the centre (a hypersphere)
    out = F.conic(x, lamina.zeros(2, 3, dtype=lamina.float64), c, lamina.tensor(np.full(2, math.pi)))
    np.testing.assert_allclose(out.numpy(), np.linalg.norm(xn[:, None] - cn[None], axis=-1), atol=1e-12)


def test_fd_without_torch():
    check_fd(F.rbf, [far((3, 2), 1.0), (2, 2), widths(2)])
    check_fd(F.conic, [far((3, 2), 2.0), (2, 2), (2, 2), lambda rng: rng.uniform(0.2, 3.0, 2)])


def test_errors():
    x = lamina.randn(4, 3)
    with pytest.raises(ValueError, match=r"centers must have shape \[K, 3\].*\[4, 3\].*\[2, 2\]"):
        F.rbf(x, lamina.randn(2, 2), lamina.ones(2))
    with pytest.raises(ValueError, match=r"widths must have shape \[2\], got \[3\]"):
        F.rbf(x, lamina.randn(2, 3), lamina.ones(3))
    with pytest.raises(ValueError, match=r"x must be 2-D"):
        F.conic(lamina.randn(3), lamina.randn(2, 3), lamina.randn(2, 3), lamina.ones(2))
    with pytest.raises(ValueError, match=r"weight must have the shape of centers \[2, 3\]"):
        F.conic(x, lamina.randn(2, 4), lamina.randn(2, 3), lamina.ones(2))
    with pytest.raises(TypeError, match="float64"):
        F.rbf(x, lamina.randn(2, 3).double(), lamina.ones(2))


# The vectorised distance kernel: centres in blocks of two vectors (8 / 16 floats), rows in blocks
# of 4; counts around those sizes.
@pytest.mark.parametrize("N,D,K", [(9, 5, 17), (4, 3, 33), (6, 64, 40), (1, 2, 31)])
def test_rbf_vector_blocks(N, D, K):
    _torch()
    check_op(F.rbf, torch_rbf, [far((N, D), 2.0), (K, D), widths(K)], fd=N * K * D < 2000)
