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


# ---- max_norm (in-place renormalisation), scale_grad_by_freq, sparse ------------------------------

def _renorm_case(dt, norm_type, seed=0):
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((9, 5)) * rng.uniform(0.2, 2.0, (9, 1))).astype(dt)
    ids = np.array([[1, 3, 3, 0], [8, 1, 1, 5]])  # repeated ids: each row must be scaled once
    return w, ids


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, float("inf")])
def test_embedding_max_norm_matches_torch(dt, norm_type):
    torch = pytest.importorskip("torch")
    w, ids = _renorm_case(dt, norm_type)
    norms = np.linalg.norm(w.astype(np.float64), ord=norm_type, axis=1)
    max_norm = float(np.median(norms[np.unique(ids)]))  # about half the referenced rows exceed it
    lw = lamina.from_numpy(w.copy()).requires_grad_(True)
    tw = torch.from_numpy(w.copy()).requires_grad_(True)
    lo = F.embedding(lamina.from_numpy(ids), lw, max_norm=max_norm, norm_type=norm_type)
    to = torch.nn.functional.embedding(torch.from_numpy(ids), tw, max_norm=max_norm, norm_type=norm_type)
    tol = dict(rtol=1e-6, atol=1e-6) if dt == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lo.detach().numpy(), to.detach().numpy(), **tol)
    # The weight itself was renormalised in place: referenced rows only, each exactly once.
    np.testing.assert_allclose(lw.detach().numpy(), tw.detach().numpy(), **tol)
    assert (norms[np.unique(ids)] > max_norm).sum() >= 2, "the case must exercise renormalisation"
    untouched = np.setdiff1d(np.arange(9), ids)
    np.testing.assert_array_equal(lw.detach().numpy()[untouched], w[untouched])
    after = np.linalg.norm(lw.detach().numpy().astype(np.float64), ord=norm_type, axis=1)
    assert np.all(after[np.unique(ids)] <= max_norm + 1e-5)
    # The gradient is the plain lookup's (renorm happens outside autograd).
    dout = np.random.default_rng(1).standard_normal(lo.shape).astype(dt)
    lo.backward(lamina.from_numpy(dout))
    to.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), **tol)


def test_embedding_max_norm_noncontig_weight_and_padding():
    torch = pytest.importorskip("torch")
    w, ids = _renorm_case("float64", 2.0, seed=3)
    lw = lamina.from_numpy(np.ascontiguousarray(w.T)).t()  # a transposed view: strided rows
    assert not lw.is_contiguous()
    tw = torch.from_numpy(w.copy())
    lo = F.embedding(lamina.from_numpy(ids), lw, padding_idx=3, max_norm=1.0)
    to = torch.nn.functional.embedding(torch.from_numpy(ids), tw, padding_idx=3, max_norm=1.0)
    np.testing.assert_allclose(lo.numpy(), to.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lw.numpy(), tw.numpy(), rtol=1e-12)


def test_embedding_renorm_parallel_wide_table():
    # Many distinct and repeated rows on a wide table: threads own disjoint rows, none scaled twice.
    rng = np.random.default_rng(0)
    w = rng.standard_normal((300, 2000))
    ids = rng.integers(0, 250, 5000)
    lw = lamina.from_numpy(w.copy())
    F.embedding(lamina.from_numpy(ids), lw, max_norm=10.0)
    ref = w.copy()
    for r in np.unique(ids):
        n = np.linalg.norm(ref[r])
        if n > 10.0:
            ref[r] *= 10.0 / (n + 1e-7)
    np.testing.assert_allclose(lw.numpy(), ref, rtol=1e-12)


def test_embedding_max_norm_row_at_limit_and_zero_rows():
    w = lamina.tensor([[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]])
    out = F.embedding(lamina.tensor([0, 1, 2]), w, max_norm=5.0)
    np.testing.assert_allclose(w.numpy(), [[3, 4], [0, 0], [3, 4]], rtol=1e-6)  # norm == max_norm: kept
    np.testing.assert_allclose(out.numpy(), w.numpy())


@pytest.mark.parametrize("pad", [None, 1])
def test_embedding_scale_grad_by_freq(pad):
    tf = _tf()
    ids = lambda rng: np.array([[1, 1, 1, 4], [0, 4, 2, 1]])  # noqa: E731
    check_op(lambda i, w: F.embedding(i, w, padding_idx=pad, scale_grad_by_freq=True),
             lambda i, w: tf.embedding(i, w, padding_idx=pad, scale_grad_by_freq=True),
             [ids, (6, 3)], fd=False)  # scaled gradients are not true derivatives by design
    w = lamina.zeros(6, 2, requires_grad=True)
    F.embedding(lamina.tensor([1, 1, 1, 4, 4, 2]), w, scale_grad_by_freq=True).backward(lamina.ones(6, 2))
    np.testing.assert_allclose(w.grad.numpy()[:, 0], [0, 1, 1, 0, 1, 0], rtol=1e-6)


def test_embedding_max_norm_and_scale_grad_together():
    torch = pytest.importorskip("torch")
    w, ids = _renorm_case("float64", 2.0, seed=5)
    lw = lamina.from_numpy(w.copy()).requires_grad_(True)
    tw = torch.from_numpy(w.copy()).requires_grad_(True)
    F.embedding(lamina.from_numpy(ids), lw, max_norm=1.0, scale_grad_by_freq=True, padding_idx=0).sum().backward()
    torch.nn.functional.embedding(torch.from_numpy(ids), tw, max_norm=1.0, scale_grad_by_freq=True,
                                  padding_idx=0).sum().backward()
    np.testing.assert_allclose(lw.detach().numpy(), tw.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_embedding_new_option_errors():
    w = lamina.randn(10, 4)
    with pytest.raises(NotImplementedError, match="sparse=True.*dense"):
        F.embedding(lamina.tensor([1]), w, sparse=True)
    with pytest.raises(ValueError, match="max_norm must be >= 0, got -1.0"):
        F.embedding(lamina.tensor([1]), w, max_norm=-1.0)
    with pytest.raises(IndexError, match=r"index 10 is out of range for 10 embeddings"):
        F.embedding(lamina.tensor([10]), w, max_norm=1.0)
    with pytest.raises(TypeError, match="int64"):
        F.embedding(lamina.tensor([1.0]), w, max_norm=1.0)
    before = w.numpy().copy()
    with pytest.raises(IndexError):
        F.embedding(lamina.tensor([0, 10]), w, max_norm=0.1)
    np.testing.assert_array_equal(w.numpy(), before)  # a bad id leaves the weight untouched


def test_embedding_empty_ids_with_options():
    w = lamina.randn(4, 3, requires_grad=True)
    before = w.detach().numpy().copy()
    out = F.embedding(lamina.zeros(0, 2, dtype=lamina.int64), w, max_norm=0.1, scale_grad_by_freq=True)
    assert out.shape == (0, 2, 3)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((4, 3)))
    np.testing.assert_array_equal(w.detach().numpy(), before)
