"""scaled_dot_product_attention (fused C++ op) vs PyTorch, vs the unfused lamina composition, finite
differences, dropout, fully-masked rows, errors; sinusoidal_positional_encoding vs NumPy."""
import numpy as np
import pytest
from helpers import check_fd, check_op

import lamina
import lamina.nn.functional as F
from lamina.ops.attention import _attention


def _bool_mask(shape, p=0.3, seed=5):
    def make(rng):
        m = np.random.default_rng(seed).random(shape) > p
        m[..., 0] = True  # no fully masked row: those are tested separately
        return m
    return make


# (q, k, v, mask spec or None, is_causal, scale)
CASES = {
    "4d": ((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6), None, False, None),
    "3d_batch1_square": ((1, 5, 4), (1, 5, 4), (1, 5, 3), None, False, None),
    "2d": ((5, 4), (7, 4), (7, 2), None, False, None),
    "scale": ((2, 4, 3), (2, 6, 3), (2, 6, 5), None, False, 0.3),
    "bool_mask_2d_bcast": ((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6), _bool_mask((5, 7)), False, None),
    "bool_mask_4d": ((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6), _bool_mask((2, 1, 5, 7)), False, None),
    "bool_mask_row": ((2, 5, 4), (2, 7, 4), (2, 7, 6), _bool_mask((2, 1, 7)), False, None),
    "float_mask_row": ((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6), (1, 7), False, None),
    "float_mask_3d": ((3, 5, 4), (3, 7, 4), (3, 7, 6), (3, 5, 7), False, None),
    "causal_L<S": ((2, 2, 4, 3), (2, 2, 6, 3), (2, 2, 6, 5), None, True, None),
    "causal_L>S": ((1, 6, 3), (1, 4, 3), (1, 4, 2), None, True, 0.7),
    "bcast_batch": ((2, 1, 5, 4), (1, 3, 7, 4), (3, 7, 6), None, False, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sdpa_vs_torch(name):
    import torch
    qs, ks, vs, ms, causal, scale = CASES[name]
    specs = [qs, ks, vs] + ([ms] if ms is not None else [])

    def lf(q, k, v, m=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal, scale=scale)

    def tf(q, k, v, m=None):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal, scale=scale)

    check_op(lf, tf, specs)  # float masks are differentiable too


def test_sdpa_noncontiguous_and_head_views():
    import torch
    check_op(F.scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention,
             [(2, 3, 6, 4), (2, 3, 5, 4), (2, 3, 5, 4)], noncontig=True, fd=False)
    # [N*H, L, hd] carved out of a [L, N, E] projection: the row stride is N*E (read in place)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2, 8))
    lx = lamina.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    lq = lx.reshape(5, 2, 2, 4).permute(1, 2, 0, 3)
    tq = tx.reshape(5, 2, 2, 4).permute(1, 2, 0, 3)
    lo = F.scaled_dot_product_attention(lq, lq * 0.5, lq)
    to = torch.nn.functional.scaled_dot_product_attention(tq, tq * 0.5, tq)
    np.testing.assert_allclose(lo.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
    lo.sum().backward()
    to.sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def _composition(q, k, v, attn_mask=None, is_causal=False, scale=None):
    """The unfused reference: matmul + softmax + matmul with lamina's own ops."""
    mask = attn_mask
    s = (q @ k.transpose(-2, -1)) * (scale if scale is not None else 1 / np.sqrt(q.shape[-1]))
    L, S = s.shape[-2], s.shape[-1]
    if is_causal:
        mask = lamina.tensor(np.tril(np.ones((L, S), dtype=bool)))
    if mask is not None:
        if mask.dtype is lamina.bool:
            s = lamina.where(mask, s, lamina.full(tuple(mask.shape), float("-inf"), dtype=s.dtype))
        else:
            s = s + mask
    return s.softmax(-1) @ v


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
def test_sdpa_vs_composition(dtype, kind):
    rng = np.random.default_rng(2)
    arrs = [rng.standard_normal(s).astype(dtype) for s in [(3, 2, 6, 5), (3, 2, 9, 5), (3, 2, 9, 4)]]
    mask = None
    if kind == "bool":
        m = rng.random((2, 6, 9)) > 0.4
        m[..., 3] = True
        mask = lamina.tensor(m)
    elif kind == "float":
        mask = lamina.tensor(rng.standard_normal((6, 9)).astype(dtype))
    outs, grads = [], []
    for fn in (F.scaled_dot_product_attention, _composition):
        ts = [lamina.tensor(a, requires_grad=True) for a in arrs]
        o = fn(*ts, attn_mask=mask, is_causal=kind == "causal")
        (o * lamina.tensor(np.linspace(-1, 1, o.numel()).reshape(o.shape).astype(dtype))).sum().backward()
        outs.append(o.detach().numpy())
        grads.append([t.grad.numpy() for t in ts])
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(outs[0], outs[1], **tol)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, **tol)


def test_sdpa_finite_differences_tiny():
    check_fd(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [(1, 2, 3), (1, 4, 3), (1, 4, 2)])
    check_fd(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
             [(2, 3, 2), (2, 3, 2), (2, 3, 3), (3, 3)])
    check_fd(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=2.0),
             [(2, 3, 2), (2, 3, 2), (2, 3, 1)])


def test_sdpa_need_weights_gradient():
    # the weights output is differentiable too (MultiheadAttention returns it)
    def f(q, k, v):
        out, w = _attention(q, k, v, need_weights=True)
        return out.sum() + (w * w).sum()
    check_fd(f, [(2, 3, 4), (2, 5, 4), (2, 5, 3)])
    rng = np.random.default_rng(0)
    q, k, v = (lamina.tensor(rng.standard_normal(s)) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 3)])
    _, w = _attention(q, k, v, need_weights=True)
    ref = (q @ k.transpose(-2, -1) / 2.0).softmax(-1)
    np.testing.assert_allclose(w.numpy(), ref.numpy(), rtol=1e-12)


def test_sdpa_dropout_reproducible_and_consistent():
    rng = np.random.default_rng(3)
    q, k, v = (lamina.tensor(rng.standard_normal(s)) for s in [(2, 2, 5, 4), (2, 2, 6, 4), (2, 2, 6, 3)])
    lamina.manual_seed(7)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4).numpy()
    lamina.manual_seed(7)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4).numpy()
    c = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # out == weights @ v with the dropped weights; grads match the composition with that mask fixed
    ts = [t.detach().requires_grad_(True) for t in (q, k, v)]
    lamina.manual_seed(11)
    out, w = _attention(*ts, dropout_p=0.4, need_weights=True)
    wn = w.detach().numpy()
    probs = (ts[0] @ ts[1].transpose(-2, -1) / 2.0).softmax(-1)
    keep = wn != 0
    assert 0.3 < 1 - keep.mean() < 0.5
    np.testing.assert_allclose(out.detach().numpy(), wn @ v.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wn[keep], probs.detach().numpy()[keep] / 0.6, rtol=1e-12)
    dout = lamina.tensor(rng.standard_normal(out.shape))
    (out * dout).sum().backward()
    rs = [t.detach().requires_grad_(True) for t in (q, k, v)]
    p2 = (rs[0] @ rs[1].transpose(-2, -1) / 2.0).softmax(-1) * lamina.tensor(keep / 0.6)
    ((p2 @ rs[2]) * dout).sum().backward()
    for t, r in zip(ts, rs):
        np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), rtol=1e-10, atol=1e-12)
    # finite differences through the dropout mask: the same seed before every evaluation
    def f(q, k, v):
        lamina.manual_seed(3)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    check_fd(f, [(2, 3, 2), (2, 4, 2), (2, 4, 3)])
    # p = 1 drops everything
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0)


def test_sdpa_dropout_expectation():
    rng = np.random.default_rng(4)
    q, k, v = (lamina.tensor(rng.standard_normal(s)) for s in [(4, 3, 4), (4, 5, 4), (4, 5, 3)])
    ref = F.scaled_dot_product_attention(q, k, v).numpy()
    n = 600
    acc = np.zeros_like(ref)
    for s in range(n):
        lamina.manual_seed(1000 + s)
        acc += F.scaled_dot_product_attention(q, k, v, dropout_p=0.25).numpy()
    np.testing.assert_allclose(acc / n, ref, atol=0.08)


def test_sdpa_fully_masked_rows_match_torch():
    import torch
    rng = np.random.default_rng(5)
    arrs = [rng.standard_normal(s) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 3)]]
    m = np.ones((3, 5), dtype=bool)
    m[1] = False
    fm = np.where(m, 0.0, -np.inf)
    for mask_l, mask_t in ((lamina.tensor(m), torch.tensor(m)), (lamina.tensor(fm), torch.tensor(fm))):
        lt = [lamina.tensor(a, requires_grad=True) for a in arrs]
        tt = [torch.tensor(a, requires_grad=True) for a in arrs]
        lo = F.scaled_dot_product_attention(*lt, attn_mask=mask_l)
        to = torch.nn.functional.scaled_dot_product_attention(*tt, attn_mask=mask_t)
        np.testing.assert_allclose(lo.detach().numpy(), to.detach().numpy(), rtol=1e-12, atol=1e-14)
        assert np.all(lo.detach().numpy()[:, 1] == 0)  # PyTorch's sdpa: zeros, not NaN
        lo.sum().backward()
        to.sum().backward()
        for a, b in zip(lt, tt):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    # the softmax path (MultiheadAttention with need_weights) gives NaN, like torch.softmax
    out, w = _attention(*[lamina.tensor(a) for a in arrs], attn_mask=lamina.tensor(m), need_weights=True,
                        safe_softmax=False)
    assert np.isnan(out.numpy()[:, 1]).all() and np.isnan(w.numpy()[:, 1]).all()
    assert np.isfinite(out.numpy()[:, [0, 2]]).all()


def test_sdpa_empty_and_threads():
    import torch
    for qs, ks in (((2, 0, 4), (2, 3, 4)), ((2, 3, 4), (2, 0, 4)), ((0, 3, 4), (0, 3, 4))):
        q, k = np.ones(qs), np.ones(ks)
        v = np.ones(ks[:-1] + (5,))
        lo = F.scaled_dot_product_attention(lamina.tensor(q), lamina.tensor(k), lamina.tensor(v))
        to = torch.nn.functional.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v))
        assert lo.shape == tuple(to.shape)
        np.testing.assert_array_equal(lo.numpy(), to.numpy())
    # parallel over batch * heads: bit-identical for any thread count
    rng = np.random.default_rng(6)
    q, k, v = (lamina.tensor(rng.standard_normal(s).astype(np.float32)) for s in [(8, 4, 40, 16)] * 3)
    old = lamina.get_num_threads()
    try:
        lamina.set_num_threads(1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
        lamina.set_num_threads(2)
        b = F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    finally:
        lamina.set_num_threads(old)
    np.testing.assert_array_equal(a, b)


def test_sdpa_errors():
    q, k, v = lamina.randn(2, 4, 10, 16), lamina.randn(2, 4, 12, 8), lamina.randn(2, 4, 12, 8)
    sdpa = F.scaled_dot_product_attention
    with pytest.raises(ValueError, match=r"query \[2, 4, 10, 16\] and key \[2, 4, 12, 8\] must have the same last"):
        sdpa(q, k, v)
    with pytest.raises(ValueError, match=r"key \[2, 12, 8\] and value \[2, 11, 8\] must have the same number of keys"):
        sdpa(lamina.randn(2, 3, 8), lamina.randn(2, 12, 8), lamina.randn(2, 11, 8))
    q = lamina.randn(2, 10, 8)
    k = lamina.randn(2, 12, 8)
    with pytest.raises(ValueError, match=r"attn_mask \[10, 12\] and is_causal=True cannot both be set"):
        sdpa(q, k, k, attn_mask=lamina.ones(10, 12, dtype=lamina.bool), is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask \[10, 11\] is not broadcastable to .* \[\.\.\., 10, 12\]"):
        sdpa(q, k, k, attn_mask=lamina.ones(10, 11, dtype=lamina.bool))
    with pytest.raises(ValueError, match=r"batch dimensions of query \[2, 10, 8\], key \[3, 12, 8\]"):
        sdpa(q, lamina.randn(3, 12, 8), lamina.randn(3, 12, 8))
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\[8\]"):
        sdpa(lamina.randn(8), k, k)
    with pytest.raises(TypeError, match="one floating dtype, got float32, float64"):
        sdpa(q, k.double(), k)
    with pytest.raises(TypeError, match="attn_mask must be bool or floating point, got lamina.int64"):
        sdpa(q, k, k, attn_mask=lamina.zeros(10, 12, dtype=lamina.int64))
    with pytest.raises(ValueError, match="dropout_p has to be between 0 and 1, but got 1.5"):
        sdpa(q, k, k, dropout_p=1.5)


def test_sinusoidal_positional_encoding():
    for T, d in ((7, 6), (5, 5), (3, 1), (0, 4)):
        pe = F.sinusoidal_positional_encoding(T, d)
        assert pe.dtype is lamina.float32 and pe.shape == (T, d)
        ref = np.zeros((T, d))
        pos = np.arange(T)[:, None]
        div = np.exp(np.arange(0, d, 2) * (-np.log(10000.0) / d))
        ref[:, 0::2] = np.sin(pos * div)
        ref[:, 1::2] = np.cos(pos * div)[:, : d // 2]
        np.testing.assert_allclose(pe.numpy(), ref, rtol=1e-6, atol=1e-6)
    pe = F.sinusoidal_positional_encoding(50, 8, dtype=lamina.float64)
    assert pe.dtype is lamina.float64
    np.testing.assert_allclose(pe.numpy()[10, 2], np.sin(10 / 10000 ** (2 / 8)), rtol=1e-14)
    np.testing.assert_allclose(pe.numpy()[10, 3], np.cos(10 / 10000 ** (2 / 8)), rtol=1e-14)
    with pytest.raises(ValueError, match="length and d_model must be >= 0, got -1 and 4"):
        F.sinusoidal_positional_encoding(-1, 4)
