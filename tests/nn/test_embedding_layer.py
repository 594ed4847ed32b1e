"""nn.Embedding against torch.nn.Embedding: construction, max_norm / scale_grad_by_freq /
padding_idx in forward and backward, from_pretrained (sharing, freeze), extra_repr, errors."""
import numpy as np
import pytest

import lamina
import lamina.nn as nn


def _torch():
    return pytest.importorskip("torch")


def test_embedding_init_and_padding_row():
    m = nn.Embedding(7, 3, padding_idx=-2)
    assert m.padding_idx == 5 and m.weight.shape == (7, 3) and m.weight.dtype is lamina.float32
    assert m.weight.requires_grad
    np.testing.assert_array_equal(m.weight.detach().numpy()[5], [0, 0, 0])
    assert np.abs(m.weight.detach().numpy()).sum() > 0
    assert not nn.Embedding(3, 2, _freeze=True).weight.requires_grad
    assert nn.Embedding(3, 2, dtype=lamina.float64).weight.dtype is lamina.float64


@pytest.mark.parametrize("kw", [
    {}, {"padding_idx": 2}, {"max_norm": 1.0}, {"max_norm": 0.5, "norm_type": 1.0},
    {"scale_grad_by_freq": True}, {"padding_idx": 0, "max_norm": 2.0, "norm_type": 3.0, "scale_grad_by_freq": True},
])
def test_embedding_layer_matches_torch(kw):
    torch = _torch()
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 4))
    ids = np.array([[0, 2, 2, 5], [1, 2, 0, 0]])
    lm = nn.Embedding(6, 4, _weight=lamina.from_numpy(w.copy()), **kw)
    tm = torch.nn.Embedding(6, 4, _weight=torch.from_numpy(w.copy()), **kw)
    assert repr(lm).replace("lamina", "torch") == repr(tm)
    lo, to = lm(lamina.from_numpy(ids)), tm(torch.from_numpy(ids))
    np.testing.assert_allclose(lo.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(lm.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-12)
    dout = rng.standard_normal(lo.shape)
    lo.backward(lamina.from_numpy(dout))
    to.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(lm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-12)


def test_extra_repr_strings():
    assert nn.Embedding(10, 3).extra_repr() == "10, 3"
    m = nn.Embedding(10, 3, padding_idx=1, max_norm=2.0, norm_type=1.0, scale_grad_by_freq=True)
    assert m.extra_repr() == "10, 3, padding_idx=1, max_norm=2.0, norm_type=1.0, scale_grad_by_freq=True"


@pytest.mark.parametrize("freeze", [True, False])
def test_from_pretrained_matches_torch(freeze):
    torch = _torch()
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    le, te = lamina.from_numpy(w.copy()), torch.from_numpy(w.copy())
    lm = nn.Embedding.from_pretrained(le, freeze=freeze, padding_idx=1)
    tm = torch.nn.Embedding.from_pretrained(te, freeze=freeze, padding_idx=1)
    assert lm.weight.requires_grad == tm.weight.requires_grad == (not freeze)
    assert repr(lm).replace("lamina", "torch") == repr(tm)
    ids = [[1, 3], [0, 1]]
    lo, to = lm(lamina.tensor(ids)), tm(torch.tensor(ids))
    np.testing.assert_array_equal(lo.detach().numpy(), to.detach().numpy())
    np.testing.assert_array_equal(lo.detach().numpy()[0, 0], w[1])  # padding row kept as given, like torch
    assert lo.requires_grad == to.requires_grad == (not freeze)
    if not freeze:
        lo.sum().backward()
        to.sum().backward()
        np.testing.assert_array_equal(lm.weight.grad.numpy(), tm.weight.grad.numpy())
    # Like torch, the weight shares memory with the given tensor.
    le.detach().numpy()[2] = 7.0  # lamina's numpy() shares memory with the tensor
    te[2] = 7.0
    np.testing.assert_array_equal(lm.weight.detach().numpy(), tm.weight.detach().numpy())


def test_from_pretrained_max_norm_renormalises_given_tensor():
    torch = _torch()
    w = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    le, te = lamina.from_numpy(w.copy()), torch.from_numpy(w.copy())
    lm = nn.Embedding.from_pretrained(le, max_norm=1.0)
    tm = torch.nn.Embedding.from_pretrained(te, max_norm=1.0)
    np.testing.assert_allclose(lm(lamina.tensor([0, 0, 1])).numpy(), tm(torch.tensor([0, 0, 1])).numpy(), rtol=1e-12)
    np.testing.assert_allclose(le.numpy(), te.numpy(), rtol=1e-12)
    np.testing.assert_allclose(le.numpy()[2], [6.0, 8.0])  # row 2 was not looked up


def test_embedding_layer_errors():
    with pytest.raises(ValueError, match=r"2-dimensional.*\[6\]"):
        nn.Embedding.from_pretrained(lamina.randn(6))
    with pytest.raises(ValueError, match=r"2-dimensional.*\[2, 3, 4\]"):
        nn.Embedding.from_pretrained(lamina.randn(2, 3, 4))
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.Embedding.from_pretrained(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape of weight \[4, 3\] does not match.*\[5, 3\]"):
        nn.Embedding(5, 3, _weight=lamina.randn(4, 3))
    with pytest.raises(ValueError, match=r"Padding_idx must be within num_embeddings \(5\), got 5"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(NotImplementedError, match="sparse=True"):
        nn.Embedding(5, 3, sparse=True)
    with pytest.raises(NotImplementedError, match="sparse=True"):
        nn.Embedding.from_pretrained(lamina.randn(5, 3), sparse=True)
    m = nn.Embedding(5, 3)
    with pytest.raises(IndexError, match=r"index 5 is out of range for 5 embeddings \(weight shape \[5, 3\]\)"):
        m(lamina.tensor([0, 5]))
