"""matmul forward/backward against torch and finite differences: 1-D, 2-D, batched with
broadcast batch dims, transposed (non-contiguous) operands, degenerate sizes."""
import numpy as np
import pytest

import lamina
from helpers import check_op


@pytest.mark.parametrize("sa,sb", [
    ((1, 1), (1, 1)),
    ((1, 5), (5, 1)),
    ((1, 7), (7, 4)),
    ((3, 4), (4, 5)),
    ((4,), (4,)),            # dot
    ((4,), (4, 3)),          # vector @ matrix
    ((3, 4), (4,)),          # matrix @ vector
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4, 5)),     # batch folded into rows
    ((3, 4), (2, 4, 5)),     # a broadcast over b's batch
    ((2, 1, 3, 4), (5, 4, 2)),  # batch dims broadcast both ways
    ((1, 3, 4), (2, 4, 2)),
])
def test_matmul_shapes(sa, sb):
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [sa, sb])


@pytest.mark.parametrize("sa,sb", [((3, 5), (5, 4)), ((2, 3, 5), (2, 5, 4)), ((2, 3, 5), (5, 4))])
def test_matmul_noncontiguous(sa, sb):
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [sa, sb], noncontig=True)


def test_matmul_transposed_views():
    check_op(lambda a, b: a.t() @ b.t(), lambda a, b: a.t() @ b.t(), [(4, 3), (5, 4)])
    check_op(lambda a, b: a.transpose(1, 2) @ b, lambda a, b: a.transpose(1, 2) @ b, [(2, 4, 3), (2, 4, 6)])


def test_matmul_tall_thin():
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [(3, 1000, 7), (7, 2)], fd=False)
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [(2, 30, 7), (7, 2)], dtypes=("float64",))


def test_matmul_only_one_grad():
    a = lamina.randn(3, 4, requires_grad=True)
    b = lamina.randn(4, 2)
    (a @ b).backward(lamina.ones(3, 2))
    expect = np.ones((3, 2)) @ b.numpy().T
    np.testing.assert_allclose(a.grad.numpy(), expect, rtol=1e-5, atol=1e-5)
    assert b.grad is None


def test_matmul_empty():
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [(0, 3), (3, 4)], fd=False)
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [(2, 0), (0, 4)], fd=False)


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"\[2, 3\].*\[4, 5\]"):
        lamina.randn(2, 3) @ lamina.randn(4, 5)
    with pytest.raises(ValueError, match="batch"):
        lamina.randn(2, 3, 4) @ lamina.randn(3, 4, 5)
