"""Views: reshape/view, transpose, permute, basic indexing, expand, squeeze/unsqueeze, flatten and
contiguous(). Views share storage (writes through one are seen in the other); contiguous() copies
only when needed; gradients flow back through every view to the right places.
"""
import numpy as np
import pytest

import lamina


def base(*shape, dtype=np.float32):
    n = int(np.prod(shape))
    a = np.arange(n, dtype=dtype).reshape(shape)
    return lamina.from_numpy(a.copy()), a


def same_storage(a, b):
    return a._c.storage_ptr() == b._c.storage_ptr()


# ---- values and sharing ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 4), (24,), (-1, 8), (2, -1, 3), (1, 24, 1)])
def test_reshape_and_view_of_contiguous(shape):
    t, a = base(2, 3, 4)
    r, v = t.reshape(*shape), t.view(shape)
    ref = a.reshape(shape)
    np.testing.assert_array_equal(r.numpy(), ref)
    np.testing.assert_array_equal(v.numpy(), ref)
    assert r.data_ptr() == t.data_ptr() and v.data_ptr() == t.data_ptr()


def test_reshape_noncontiguous_copies_view_raises():
    t, a = base(3, 4)
    tt = t.transpose(0, 1)
    r = tt.reshape(12)
    np.testing.assert_array_equal(r.numpy(), a.T.reshape(12))
    assert not same_storage(r, t)
    with pytest.raises(ValueError, match=r"view: size \[12\] is not compatible with input of size \[4, 3\].*reshape"):
        tt.view(12)
    # a view that *is* possible on a non-contiguous tensor: split a dim, merge nothing
    s = t[:, ::2]  # [3, 2] strides [4, 2]
    v = s.view(3, 2, 1)
    assert same_storage(v, t)
    np.testing.assert_array_equal(v.numpy(), a[:, ::2].reshape(3, 2, 1))


def test_reshape_bad_shapes_raise_with_shapes():
    t, _ = base(2, 3)
    with pytest.raises(ValueError, match=r"reshape: shape \[4, 2\] is invalid for input of size 6"):
        t.reshape(4, 2)
    with pytest.raises(ValueError, match=r"only one dimension can be inferred.*\[-1, -1\]"):
        t.reshape(-1, -1)
    with pytest.raises(ValueError, match=r"view: shape \[5, -1\] is invalid for input of size 6"):
        t.view(5, -1)


def test_view_write_through_shared_storage():
    t, _ = base(2, 6)
    v = t.view(3, 4)
    v.numpy()[2, 3] = -5  # last element
    assert t.numpy()[1, 5] == -5
    t.numpy()[0, 0] = 42
    assert v.numpy()[0, 0] == 42


@pytest.mark.parametrize("d0,d1", [(0, 1), (0, 2), (-1, -3), (1, 1)])
def test_transpose(d0, d1):
    t, a = base(2, 3, 4)
    r = t.transpose(d0, d1)
    np.testing.assert_array_equal(r.numpy(), np.swapaxes(a, d0, d1))
    assert same_storage(r, t)
    r.numpy()[(0,) * 3] = 99  # element 0 is element 0 of the base
    assert t.numpy()[0, 0, 0] == 99


def test_t_and_T_and_mT():
    t, a = base(3, 5)
    np.testing.assert_array_equal(t.t().numpy(), a.T)
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    t3, a3 = base(2, 3, 4)
    np.testing.assert_array_equal(t3.T.numpy(), a3.T)
    np.testing.assert_array_equal(t3.mT.numpy(), np.swapaxes(a3, -1, -2))
    v, _ = base(4)
    assert v.t() is v
    with pytest.raises(ValueError, match="<= 2 dimensions"):
        t3.t()


@pytest.mark.parametrize("dims", [(2, 0, 1), (0, 1, 2), (-1, 1, 0), (1, 2, 0)])
def test_permute(dims):
    t, a = base(2, 3, 4)
    p = t.permute(*dims)
    np.testing.assert_array_equal(p.numpy(), np.transpose(a, dims))
    assert same_storage(p, t)
    np.testing.assert_array_equal(lamina.permute(t, dims).numpy(), np.transpose(a, dims))


def test_permute_errors():
    t, _ = base(2, 3, 4)
    with pytest.raises(ValueError, match=r"permute: number of dims 2 does not match the tensor's rank 3 \(shape \[2, 3, 4\]\)"):
        t.permute(0, 1)
    with pytest.raises(ValueError, match="repeated dim"):
        t.permute(0, 0, 1)
    with pytest.raises(IndexError, match="permute: dimension out of range"):
        t.permute(0, 1, 3)


KEYS = [
    1, -1, (0, 2), (-2, -1, -4), slice(1, 3), (slice(None), slice(None, None, 2)),
    (slice(0, 2), slice(None), slice(None, None, 2)), (Ellipsis, None), (None, Ellipsis),
    (Ellipsis, 1), (1, Ellipsis, slice(1, None)), (slice(-2, None), None, -1),
    (slice(5, 10),), (slice(1, 1),), (slice(None, None, 3), 2, slice(None, -1, 2)),
    (0, 0, 0), (),
]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
def test_basic_indexing_matches_numpy(key):
    t, a = base(3, 4, 5)
    r = t[key]
    ref = a[key]
    assert r.shape == ref.shape
    np.testing.assert_array_equal(r.numpy(), ref)
    if r.numel():
        assert same_storage(r, t)


def test_indexing_writes_through():
    t, a = base(3, 4, 5)
    v = t[1:, :, ::2]
    v.numpy()[...] = 0
    a[1:, :, ::2] = 0
    np.testing.assert_array_equal(t.numpy(), a)
    t[..., None][2, 3, 4, 0].fill_(-7)
    assert t.numpy()[2, 3, 4] == -7


def test_index_out_of_range_raises_index_error():
    t, _ = base(3, 4)
    with pytest.raises(IndexError, match=r"index 3 is out of bounds for dimension 0 with size 3"):
        t[3]
    with pytest.raises(IndexError, match=r"index -5 is out of bounds for dimension 1 with size 4"):
        t[0, -5]
    with pytest.raises(IndexError, match=r"too many indices for tensor of dimension 2 \(got 3"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        t[..., ...]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        t[::-1]


@pytest.mark.parametrize("shape", [(2, 3, 4), (4, 3, 4), (1, -1, 4), (3, 4), (2, -1, -1), (0, 3, 2)])
def test_expand(shape):
    t, a = base(3, 1)
    e = t.expand(*shape)
    ref = np.broadcast_to(a, [s if s != -1 else d for s, d in zip(shape, (None,) * (len(shape) - 2) + a.shape)])
    np.testing.assert_array_equal(e.numpy(), ref)
    assert same_storage(e, t) and e.stride()[-1] == (0 if shape[-1] != -1 else 1)
    t.numpy()[1, 0] = 50
    assert (e.numpy()[..., 1, :] == 50).all()


def test_expand_errors():
    t, _ = base(3, 2)
    with pytest.raises(ValueError, match=r"expanded size of the tensor \(4\) must match the existing size \(2\).*Target sizes: \[3, 4\]. Tensor sizes: \[3, 2\]"):
        t.expand(3, 4)
    with pytest.raises(ValueError, match=r"number of sizes provided \(1\).*rank \(2\)"):
        t.expand(6)
    with pytest.raises(ValueError, match=r"leading dimension must be non-negative, got \[-1, 3, 2\]"):
        t.expand(-1, 3, 2)


def test_expand_as():
    t, a = base(1, 3)
    o = lamina.zeros(2, 3)
    np.testing.assert_array_equal(t.expand_as(o).numpy(), np.broadcast_to(a, (2, 3)))


def test_squeeze_unsqueeze():
    t, a = base(1, 3, 1, 2)
    np.testing.assert_array_equal(t.squeeze().numpy(), a.squeeze())
    assert t.squeeze().shape == (3, 2)
    assert t.squeeze(0).shape == (3, 1, 2) and t.squeeze(-2).shape == (1, 3, 2)
    assert t.squeeze(1).shape == (1, 3, 1, 2)  # size 3: unchanged
    for d in (0, 2, 4, -1, -5):
        u = t.unsqueeze(d)
        np.testing.assert_array_equal(u.numpy(), np.expand_dims(a, d))
        assert same_storage(u, t)
        assert u.squeeze(d).shape == t.shape
    assert lamina.unsqueeze(t, 0).shape == (1, 1, 3, 1, 2)
    assert lamina.squeeze(t).shape == (3, 2)
    with pytest.raises(IndexError, match=r"unsqueeze: dimension out of range \(expected to be in range of \[-5, 4\], but got 5\)"):
        t.unsqueeze(5)
    with pytest.raises(IndexError, match="squeeze: dimension out of range"):
        t.squeeze(4)
    s = lamina.tensor(2.0)
    assert s.unsqueeze(0).shape == (1,) and s.squeeze().shape == ()


@pytest.mark.parametrize("sd,ed", [(0, -1), (1, 2), (0, 1), (2, 2), (-2, -1)])
def test_flatten(sd, ed):
    t, a = base(2, 3, 4)
    f = t.flatten(sd, ed)
    sh = list(a.shape)
    sd_, ed_ = sd % 3, ed % 3
    ref = a.reshape(sh[:sd_] + [int(np.prod(sh[sd_:ed_ + 1]))] + sh[ed_ + 1:])
    np.testing.assert_array_equal(f.numpy(), ref)
    assert same_storage(f, t)
    np.testing.assert_array_equal(lamina.flatten(t, sd, ed).numpy(), ref)


def test_flatten_edge_cases():
    assert lamina.tensor(3.0).flatten().shape == (1,)
    t, a = base(3, 4)
    ft = t.t().flatten()  # non-contiguous: a copy
    np.testing.assert_array_equal(ft.numpy(), a.T.reshape(-1))
    with pytest.raises(ValueError, match=r"start_dim \(1\) cannot come after end_dim \(0\)"):
        t.flatten(1, 0)
    with pytest.raises(IndexError, match="flatten: dimension out of range"):
        t.flatten(0, 2)


def test_contiguous_copies_only_when_needed():
    t, a = base(3, 4)
    assert t.is_contiguous() and t.contiguous() is t
    assert t.contiguous().data_ptr() == t.data_ptr()
    tt = t.t()
    assert not tt.is_contiguous()
    c = tt.contiguous()
    assert c.is_contiguous() and c.data_ptr() != t.data_ptr() and c.stride() == (3, 1)
    np.testing.assert_array_equal(c.numpy(), a.T)
    t.numpy()[0, 1] = -3  # the copy is independent
    assert c.numpy()[1, 0] == 1
    # size-1 dims with odd strides and row slices are still contiguous
    r = t[1:2]
    assert r.is_contiguous() and r.contiguous().data_ptr() == r.data_ptr()
    u = t[:, 1].unsqueeze(1)  # [3, 1] stride (4, ?)
    assert not u.is_contiguous() or u.shape[0] == 1
    e = lamina.zeros(0, 3).t()
    assert e.contiguous().shape == (3, 0)


def test_clone_is_independent():
    t, a = base(2, 3)
    c = t.clone()
    assert c.data_ptr() != t.data_ptr()
    t.fill_(0)
    np.testing.assert_array_equal(c.numpy(), a)
    ct = t.t().clone()
    assert ct.is_contiguous() and ct.shape == (3, 2)


@pytest.mark.parametrize("dt", [lamina.float64, lamina.int64, lamina.bool])
def test_views_other_dtypes(dt):
    a = (np.arange(24).reshape(2, 3, 4) % 3).astype(dt._np)
    t = lamina.from_numpy(a)
    np.testing.assert_array_equal(t.permute(2, 0, 1)[1:, ::2].contiguous().numpy(),
                                  np.transpose(a, (2, 0, 1))[1:, ::2])


# ---- gradients through views ----------------------------------------------------------------------

def _grad_of(fn, shape, seed=0):
    """x.grad after fn(x).backward(g) with a random g; returns (x_np, g_np, grad_np)."""
    rng = np.random.default_rng(seed)
    xn = rng.standard_normal(shape)
    x = lamina.tensor(xn, requires_grad=True)
    y = fn(x)
    gn = rng.standard_normal(y.shape)
    y.backward(lamina.tensor(gn))
    assert x.grad is not None and x.grad.shape == x.shape and x.grad.dtype is lamina.float64
    return xn, gn, x.grad.numpy()


def test_grad_reshape_view_flatten():
    _, g, dx = _grad_of(lambda x: x.reshape(4, 6), (2, 3, 4))
    np.testing.assert_array_equal(dx, g.reshape(2, 3, 4))
    _, g, dx = _grad_of(lambda x: x.view(-1), (2, 3, 4))
    np.testing.assert_array_equal(dx, g.reshape(2, 3, 4))
    _, g, dx = _grad_of(lambda x: x.flatten(1), (2, 3, 4))
    np.testing.assert_array_equal(dx, g.reshape(2, 3, 4))
    _, g, dx = _grad_of(lambda x: x.t().reshape(-1), (3, 5))  # reshape of a non-contiguous view
    np.testing.assert_array_equal(dx, g.reshape(5, 3).T)


def test_grad_transpose_permute():
    _, g, dx = _grad_of(lambda x: x.transpose(0, 2), (2, 3, 4))
    np.testing.assert_array_equal(dx, np.swapaxes(g, 0, 2))
    _, g, dx = _grad_of(lambda x: x.permute(1, 2, 0), (2, 3, 4))
    np.testing.assert_array_equal(dx, np.transpose(g, (2, 0, 1)))
    _, g, dx = _grad_of(lambda x: x.T, (3, 4))
    np.testing.assert_array_equal(dx, g.T)


@pytest.mark.parametrize("key", [1, -1, (slice(1, 3), slice(None), slice(None, None, 2)),
                                 (Ellipsis, None), (0, slice(None, None, 3), -2)],
                         ids=["int", "neg", "slices", "ellipsis-none", "mixed"])
def test_grad_indexing(key):
    _, g, dx = _grad_of(lambda x: x[key], (3, 4, 5))
    ref = np.zeros((3, 4, 5))
    ref[key] = g
    np.testing.assert_array_equal(dx, ref)


def test_grad_squeeze_unsqueeze_contiguous_clone():
    _, g, dx = _grad_of(lambda x: x.squeeze(), (1, 3, 1, 2))
    np.testing.assert_array_equal(dx, g.reshape(1, 3, 1, 2))
    _, g, dx = _grad_of(lambda x: x.squeeze(2), (1, 3, 1, 2))
    np.testing.assert_array_equal(dx, g.reshape(1, 3, 1, 2))
    _, g, dx = _grad_of(lambda x: x.unsqueeze(-1), (3, 2))
    np.testing.assert_array_equal(dx, g[..., 0])
    _, g, dx = _grad_of(lambda x: x.t().contiguous(), (3, 2))
    np.testing.assert_array_equal(dx, g.T)
    _, g, dx = _grad_of(lambda x: x.clone(), (3, 2))
    np.testing.assert_array_equal(dx, g)


def test_grad_chain_of_views():
    def f(x):
        return x.permute(2, 0, 1)[1:, :, None].reshape(3, -1).t()[::2]
    xn, g, dx = _grad_of(f, (2, 3, 4))
    # the same chain in numpy, with the gradient scattered back by index bookkeeping
    idx = np.arange(24).reshape(2, 3, 4)
    picked = np.transpose(idx, (2, 0, 1))[1:, :, None].reshape(3, -1).T[::2]
    ref = np.zeros(24)
    np.add.at(ref, picked.ravel(), g.ravel())
    np.testing.assert_array_equal(dx, ref.reshape(2, 3, 4))


def test_grad_to_dtype_returns_input_dtype():
    x = lamina.tensor([1.0, 2.0], dtype=lamina.float32, requires_grad=True)
    y = x.to(lamina.float64)
    y.backward(lamina.tensor([0.5, -1.0], dtype=lamina.float64))
    assert x.grad.dtype is lamina.float32
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, -1.0])


def test_grad_expand():
    from lamina.ops import reduce

    if not hasattr(reduce, "sum_to"):
        pytest.skip("lamina.ops.reduce.sum_to (the reduce family) is not available yet")
    _, g, dx = _grad_of(lambda x: x.expand(2, 3, 4), (3, 1))
    np.testing.assert_allclose(dx, g.sum(axis=(0, 2)).reshape(3, 1), rtol=1e-12)


def test_views_of_requires_grad_track_graph():
    x = lamina.ones(2, 3, requires_grad=True)
    v = x[0]
    assert v.requires_grad and v.grad_fn is not None and not v.is_leaf
    with lamina.no_grad():
        w = x[0]
    assert not w.requires_grad and w.grad_fn is None
    d = x.detach()
    assert not d.requires_grad and d.data_ptr() == x.data_ptr()


def test_view_of_expanded_and_permuted_matches_torch():
    """view() succeeds exactly when PyTorch's does, with the same values (small fuzz)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(60):
        nd = int(rng.integers(1, 4))
        shape = [int(s) for s in rng.integers(1, 4, nd)]
        n = int(np.prod(shape))
        t = torch.arange(n, dtype=torch.float32).reshape(shape)
        x = lamina.arange(n, dtype=lamina.float32).reshape(*shape)
        perm = [int(p) for p in rng.permutation(nd)]
        t, x = t.permute(perm), x.permute(*perm)
        if rng.random() < 0.5:
            d = int(rng.integers(0, nd + 1))
            sh = list(t.unsqueeze(d).shape)
            sh[d] = 2
            t, x = t.unsqueeze(d).expand(sh), x.unsqueeze(d).expand(*sh)
        for new in ([t.numel()], [1, t.numel()], [t.numel() // t.shape[-1], t.shape[-1]] if t.ndim else [1],
                    list(t.shape)[::-1]):
            try:
                tv = t.view(new)
            except RuntimeError:
                tv = None
            if tv is None:
                with pytest.raises(ValueError, match="use .reshape"):
                    x.view(*new)
                np.testing.assert_array_equal(x.reshape(*new).numpy(), t.reshape(new).numpy())
            else:
                np.testing.assert_array_equal(x.view(*new).numpy(), tv.numpy())
            checked += 1
    assert checked == 240
