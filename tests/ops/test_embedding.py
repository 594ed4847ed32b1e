"""F.embedding against torch: lookups of any index shape, repeated ids, padding_idx, errors."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from helpers import check_op


def _tf():
    return pytest.importorskip("torch").nn.functional


@pytest.mark.parametrize("ishape", [(5,), (2, 3), (1,), (2, 1, 4)])
def test_embedding(ishape):
    tf = _tf()
    check_op(lambda i, w: F.embedding(i, w), lambda i, w: tf.embedding(i, w),
             [lambda rng: rng.integers(0, 7, ishape), (7, 3)])


def test_embedding_repeated_ids_and_noncontig_weight():
    tf = _tf()
    check_op(lambda i, w: F.embedding(i, w), lambda i, w: tf.embedding(i, w),
             [lambda rng: np.array([[1, 1, 1], [6, 1, 0]]), (7, 4)], noncontig=True)


@pytest.mark.parametrize("pad", [0, 2, -1])
def test_embedding_padding_idx(pad):
    tf = _tf()
    check_op(lambda i, w: F.embedding(i, w, padding_idx=pad), lambda i, w: tf.embedding(i, w, padding_idx=pad),
             [lambda rng: np.array([0, 2, 4, 2, 4, 1]), (5, 3)], fd=False)  # padding row: no grad by design
    w = lamina.randn(5, 3, requires_grad=True)
    F.embedding(lamina.tensor([pad % 5, pad % 5, 1]), w, padding_idx=pad).backward(lamina.ones(3, 3))
    assert np.all(w.grad.numpy()[pad % 5] == 0)
    np.testing.assert_array_equal(w.grad.numpy()[1], [1, 1, 1])


def test_embedding_large_dim_parallel_safe():
    # Many repeated ids and a wide table: the index-add must not lose updates across threads.
    w = lamina.zeros(3, 40000, requires_grad=True)
    ids = lamina.tensor([0, 1, 0, 0, 2, 0])
    F.embedding(ids, w).backward(lamina.ones(6, 40000))
    np.testing.assert_array_equal(w.grad.numpy()[:, ::9999], [[4] * 5, [1] * 5, [1] * 5])


def test_embedding_errors():
    w = lamina.randn(10, 4)
    with pytest.raises(IndexError, match=r"index 12 is out of range for 10 embeddings \(weight shape \[10, 4\]\)"):
        F.embedding(lamina.tensor([1, 12]), w)
    with pytest.raises(IndexError, match="index -1"):
        F.embedding(lamina.tensor([-1]), w)
    with pytest.raises(TypeError, match="int64"):
        F.embedding(lamina.tensor([1.0]), w)
    with pytest.raises(ValueError, match=r"2-D.*\[10\]"):
        F.embedding(lamina.tensor([1]), lamina.randn(10))
    with pytest.raises(ValueError, match="padding_idx 10"):
        F.embedding(lamina.tensor([1]), w, padding_idx=10)
