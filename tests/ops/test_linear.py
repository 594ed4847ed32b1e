"""F.linear (fused GEMM + bias) against torch and finite differences."""
import pytest

import lamina
import lamina.nn.functional as F
from helpers import check_op


def _tf():
    return pytest.importorskip("torch").nn.functional


@pytest.mark.parametrize("xs", [(1, 4), (5, 4), (2, 3, 4), (4,), (2, 1, 3, 4)])
def test_linear_bias(xs):
    tf = _tf()
    check_op(F.linear, tf.linear, [xs, (3, 4), (3,)])


@pytest.mark.parametrize("xs", [(5, 4), (2, 3, 4)])
def test_linear_no_bias(xs):
    tf = _tf()
    check_op(lambda x, w: F.linear(x, w), lambda x, w: tf.linear(x, w), [xs, (3, 4)])


def test_linear_noncontiguous():
    tf = _tf()
    check_op(F.linear, tf.linear, [(6, 5), (3, 5), (3,)], noncontig=True)


def test_linear_partial_grads():
    tf = _tf()
    check_op(F.linear, tf.linear, [(5, 4), (3, 4), (3,)], grad=[False, True, False])
    check_op(F.linear, tf.linear, [(5, 4), (3, 4), (3,)], grad=[True, False, True])


def test_linear_one_by_one_and_empty():
    tf = _tf()
    check_op(F.linear, tf.linear, [(1, 1), (1, 1), (1,)])
    check_op(F.linear, tf.linear, [(0, 4), (3, 4), (3,)], fd=False)


def test_linear_errors():
    with pytest.raises(ValueError, match=r"\[5, 4\].*\[3, 6\]"):
        F.linear(lamina.randn(5, 4), lamina.randn(3, 6))
    with pytest.raises(ValueError, match=r"bias must have shape \[3\]"):
        F.linear(lamina.randn(5, 4), lamina.randn(3, 4), lamina.randn(4))
    with pytest.raises(TypeError, match="float64"):
        F.linear(lamina.randn(5, 4), lamina.randn(3, 4).double())
