"""MultiheadAttention, PositionalEncoding, TransformerEncoderLayer and TransformerEncoder vs PyTorch
with torch's state_dicts loaded (outputs, attention weights, gradients of inputs and parameters)."""
import numpy as np
import pytest

import lamina
import lamina.nn as nn

torch = pytest.importorskip("torch")

TOL = {"float64": dict(rtol=1e-9, atol=1e-10), "float32": dict(rtol=2e-4, atol=2e-5)}
GTOL = {"float64": dict(rtol=1e-8, atol=1e-9), "float32": dict(rtol=1e-3, atol=1e-4)}
TDT = {"float64": torch.float64, "float32": torch.float32}
LDT = {"float64": lamina.float64, "float32": lamina.float32}


def load_from_torch(lm, tm):
    lm.load_state_dict({k: lamina.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})
    return lm


def pair(arr, dt, grad=True):
    a = np.asarray(arr).astype(dt)
    return lamina.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def close(a, b, tol):
    an = a.detach().numpy() if isinstance(a, lamina.Tensor) else a
    np.testing.assert_allclose(an, b.detach().numpy(), **tol)


def backward_both(lo, to, rng, dt):
    """Backpropagate the same random cotangent through lamina's and torch's outputs."""
    d = rng.standard_normal(lo.shape).astype(dt)
    (lo * lamina.tensor(d)).sum().backward()
    (to * torch.tensor(d)).sum().backward()


def param_grads_close(lm, tm, dt):
    tp = dict(tm.named_parameters())
    for pn, p in lm.named_parameters():
        close(p.grad, tp[pn].grad, GTOL[dt])


def _mha_pair(E, H, dt, **kw):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(E, H, **kw).to(TDT[dt])
    with torch.no_grad():  # non-zero biases so every parameter matters
        for name, p in tm.named_parameters():
            if "bias" in name:
                p.copy_(torch.randn_like(p) * 0.1)
    lm = load_from_torch(nn.MultiheadAttention(E, H, dtype=LDT[dt], **kw), tm)
    return lm, tm


MHA_CASES = {
    "self": dict(kw={}, cross=False, kpm=None, mask=None, weights=True, avg=True),
    "self_bf_kpm_bool": dict(kw=dict(batch_first=True), cross=False, kpm="bool", mask=None, weights=True, avg=False),
    "cross_kdim_vdim": dict(kw=dict(kdim=5, vdim=3), cross=True, kpm=None, mask="bool2d", weights=True, avg=True),
    "cross_float_masks": dict(kw={}, cross=True, kpm="float", mask="float3d", weights=False, avg=True),
    "self_bf_both_bool": dict(kw=dict(batch_first=True), cross=False, kpm="bool", mask="bool2d", weights=True,
                              avg=True),
    "no_bias": dict(kw=dict(bias=False), cross=False, kpm=None, mask="float3d", weights=True, avg=False),
}


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("name", list(MHA_CASES))
def test_mha_vs_torch(name, dt):
    c = MHA_CASES[name]
    E, H, N, L, S = 8, 2, 3, 5, 6 if c["cross"] else 5
    lm, tm = _mha_pair(E, H, dt, **c["kw"])
    bf = c["kw"].get("batch_first", False)
    rng = np.random.default_rng(1)
    kd, vd = c["kw"].get("kdim", E), c["kw"].get("vdim", E)
    shp = (lambda T, d: (N, T, d)) if bf else (lambda T, d: (T, N, d))
    lq, tq = pair(rng.standard_normal(shp(L, E)), dt)
    if c["cross"]:
        lk, tk = pair(rng.standard_normal(shp(S, kd)), dt)
        lv, tv = pair(rng.standard_normal(shp(S, vd)), dt)
    else:
        lk, tk, lv, tv = lq, tq, lq, tq
    kw_l, kw_t = {}, {}
    if c["kpm"] == "bool":
        m = np.zeros((N, S), dtype=bool)
        m[0, -2:] = True
        m[2, 1] = True
        kw_l["key_padding_mask"], kw_t["key_padding_mask"] = lamina.tensor(m), torch.tensor(m)
    elif c["kpm"] == "float":
        m = rng.standard_normal((N, S)).astype(dt)
        kw_l["key_padding_mask"], kw_t["key_padding_mask"] = lamina.tensor(m), torch.tensor(m)
    if c["mask"] == "bool2d":
        m = np.triu(np.ones((L, S), dtype=bool), 1)
        kw_l["attn_mask"], kw_t["attn_mask"] = lamina.tensor(m), torch.tensor(m)
    elif c["mask"] == "float3d":
        m = rng.standard_normal((N * H, L, S)).astype(dt)
        kw_l["attn_mask"], kw_t["attn_mask"] = lamina.tensor(m), torch.tensor(m)
    lo, lw = lm(lq, lk, lv, need_weights=c["weights"], average_attn_weights=c["avg"], **kw_l)
    to, tw = tm(tq, tk, tv, need_weights=c["weights"], average_attn_weights=c["avg"], **kw_t)
    close(lo, to, TOL[dt])
    if c["weights"]:
        assert lw.shape == tuple(tw.shape)
        close(lw, tw, TOL[dt])
    else:
        assert lw is None and tw is None
    d = rng.standard_normal(lo.shape).astype(dt)
    loss_l = (lo * lamina.tensor(d)).sum() + ((lw * lw).sum() if lw is not None else 0)
    loss_t = (to * torch.tensor(d)).sum() + ((tw * tw).sum() if tw is not None else 0)
    loss_l.backward()
    loss_t.backward()
    for a, b in ((lq, tq), (lk, tk), (lv, tv)):
        close(a.grad, b.grad, GTOL[dt])
    tp = dict(tm.named_parameters())
    for pn, p in lm.named_parameters():
        close(p.grad, tp[pn].grad, GTOL[dt])


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("bf", [False, True])
@pytest.mark.parametrize("masks", ["none", "kpm_bool", "attn_float3d_kpm_float"])
def test_mha_packed_self_attention_vs_torch(dt, bf, masks, monkeypatch):
    """Self-attention with need_weights=False runs PackedSelfAttention (q, k, v as head views of the
    packed in-projection, output and dqkv written through head views): output and the gradients of
    the input and every parameter against torch, masks and both layouts included."""
    from lamina.ops import attention

    calls = []
    apply = attention.PackedSelfAttention.apply
    monkeypatch.setattr(attention.PackedSelfAttention, "apply", lambda *a: calls.append(1) or apply(*a))
    E, H, N, L = 12, 3, 4, 7
    lm, tm = _mha_pair(E, H, dt, batch_first=bf)
    rng = np.random.default_rng(4)
    lx, tx = pair(rng.standard_normal((N, L, E) if bf else (L, N, E)), dt)
    kw_l, kw_t = {}, {}
    if masks != "none":
        m = np.zeros((N, L), dtype=bool)
        m[1, -3:] = True
        m = m if masks == "kpm_bool" else rng.standard_normal((N, L)).astype(dt)
        kw_l["key_padding_mask"], kw_t["key_padding_mask"] = lamina.tensor(m), torch.tensor(m)
    if masks == "attn_float3d_kpm_float":
        m = rng.standard_normal((N * H, L, L)).astype(dt)
        kw_l["attn_mask"], kw_t["attn_mask"] = lamina.tensor(m), torch.tensor(m)
    lo, lw = lm(lx, lx, lx, need_weights=False, **kw_l)
    to, _ = tm(tx, tx, tx, need_weights=False, **kw_t)
    assert lw is None and calls
    close(lo, to, TOL[dt])
    backward_both(lo, to, rng, dt)
    close(lx.grad, tx.grad, GTOL[dt])
    param_grads_close(lm, tm, dt)


def test_mha_packed_self_attention_unbatched_and_double_backward():
    """The packed path unbatched, and with create_graph=True (its backward_graph) against torch:
    the gradient of |d out / d x . v|^2 with respect to the parameters (float64)."""
    lm, tm = _mha_pair(6, 2, "float64")
    rng = np.random.default_rng(6)
    lx, tx = pair(rng.standard_normal((5, 6)), "float64")
    lo, _ = lm(lx, lx, lx, need_weights=False)
    to, _ = tm(tx, tx, tx, need_weights=True)  # torch's softmax path (its flash kernel has no double backward)
    assert lo.shape == (5, 6)
    close(lo, to, TOL["float64"])
    d = rng.standard_normal((5, 6))
    (lg,) = lamina.autograd.grad((lo * lamina.tensor(d)).sum(), [lx], create_graph=True)
    (tg,) = torch.autograd.grad((to * torch.tensor(d)).sum(), [tx], create_graph=True)
    close(lg, tg, GTOL["float64"])
    (lg * lg).sum().backward()
    (tg * tg).sum().backward()
    tp = dict(tm.named_parameters())
    for pn, p in lm.named_parameters():
        if tp[pn].grad is None:  # out_proj.bias: d out / d x does not depend on it
            assert p.grad is None or not p.grad.numpy().any()
        else:
            close(p.grad, tp[pn].grad, GTOL["float64"])


def test_mha_unbatched_and_eval_no_grad():
    lm, tm = _mha_pair(6, 3, "float64")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6))
    kpm = np.array([False, False, True, False])
    lo, lw = lm(*[lamina.tensor(x)] * 3, key_padding_mask=lamina.tensor(kpm), average_attn_weights=False)
    to, tw = tm(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(kpm), average_attn_weights=False)
    assert lo.shape == (4, 6) and lw.shape == (3, 4, 4)
    close(lo, to, TOL["float64"])
    close(lw, tw, TOL["float64"])
    xb = rng.standard_normal((4, 2, 6))
    lm.eval()
    tm.eval()
    with lamina.no_grad(), torch.no_grad():
        lo, _ = lm(*[lamina.tensor(xb)] * 3, need_weights=False)
        to, _ = tm(*[torch.tensor(xb)] * 3, need_weights=False)
    close(lo, to, TOL["float64"])


def test_mha_fully_masked_rows_like_torch():
    lm, tm = _mha_pair(4, 2, "float64")
    x = np.random.default_rng(3).standard_normal((3, 2, 4))
    kpm = np.zeros((2, 3), dtype=bool)
    kpm[0] = True  # batch item 0 sees no key
    for need in (True, False):
        lo, _ = lm(*[lamina.tensor(x)] * 3, key_padding_mask=lamina.tensor(kpm), need_weights=need)
        to, _ = tm(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(kpm), need_weights=need)
        np.testing.assert_allclose(lo.detach().numpy(), to.detach().numpy(), rtol=1e-9, atol=1e-10)
        assert np.isnan(lo.detach().numpy()[:, 0]).all() == need  # NaN on the softmax path only


def test_mha_init_and_dropout():
    m = nn.MultiheadAttention(16, 4)
    assert [n for n, _ in m.named_parameters()] == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                                    "out_proj.bias"]
    w = m.in_proj_weight.detach().numpy()
    bound = np.sqrt(6 / (16 + 48))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.all(m.in_proj_bias.detach().numpy() == 0) and np.all(m.out_proj.bias.detach().numpy() == 0)
    m2 = nn.MultiheadAttention(16, 4, kdim=3, vdim=5, bias=False)
    assert {n: tuple(p.shape) for n, p in m2.named_parameters()} == {
        "q_proj_weight": (16, 16), "k_proj_weight": (16, 3), "v_proj_weight": (16, 5), "out_proj.weight": (16, 16)}
    # dropout on the attention weights: train differs between seeds, eval is deterministic
    m = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = lamina.randn(5, 2, 8)
    lamina.manual_seed(1)
    a, wa = m(x, x, x)
    lamina.manual_seed(1)
    b, _ = m(x, x, x)
    c, _ = m(x, x, x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())
    m.eval()
    np.testing.assert_array_equal(m(x, x, x)[0].detach().numpy(), m(x, x, x)[0].detach().numpy())


def test_mha_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(4\)"):
        nn.MultiheadAttention(10, 4)
    with pytest.raises(NotImplementedError, match="add_bias_kv and add_zero_attn are not supported"):
        nn.MultiheadAttention(8, 2, add_bias_kv=True)
    m = nn.MultiheadAttention(8, 2)
    x = lamina.randn(5, 3, 8)
    with pytest.raises(ValueError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2\): expected query, key and "
                                         r"value with last dimensions 8, 8 and 8, got \[5, 3, 7\]"):
        m(lamina.randn(5, 3, 7), x, x)
    with pytest.raises(ValueError, match=r"must all be 3-D \(batched\) or 2-D \(unbatched\), got \[3, 8\]"):
        m(lamina.randn(3, 8), x, x)
    with pytest.raises(RuntimeError, match=r"the shape of the 2D attn_mask is \[4, 5\], but should be \[5, 5\]"):
        m(x, x, x, attn_mask=lamina.zeros(4, 5))
    with pytest.raises(RuntimeError, match=r"expected key_padding_mask of shape \[3, 5\], got \[5, 3\]"):
        m(x, x, x, key_padding_mask=lamina.zeros(5, 3, dtype=lamina.bool))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)


def test_positional_encoding():
    pe = nn.PositionalEncoding(6, max_len=20)
    x = np.random.default_rng(4).standard_normal((7, 2, 6)).astype(np.float32)
    pos = np.arange(7)[:, None]
    div = np.exp(np.arange(0, 6, 2) * (-np.log(10000.0) / 6))
    table = np.zeros((7, 6))
    table[:, 0::2], table[:, 1::2] = np.sin(pos * div), np.cos(pos * div)
    np.testing.assert_allclose(pe(lamina.tensor(x)).numpy(), x + table[:, None], rtol=1e-6, atol=1e-6)
    pe_bf = nn.PositionalEncoding(6, max_len=20, batch_first=True, dtype=lamina.float64)
    xb = x.transpose(1, 0, 2).astype(np.float64)
    out = pe_bf(lamina.tensor(xb))
    assert out.dtype is lamina.float64
    np.testing.assert_allclose(out.numpy(), xb + table[None], rtol=1e-12)
    np.testing.assert_allclose(pe(lamina.tensor(x[:, 0])).numpy(), x[:, 0] + table, rtol=1e-6, atol=1e-6)
    assert "pe" not in pe.state_dict()
    t = lamina.tensor(x, requires_grad=True)
    pe(t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones_like(x))
    odd = nn.PositionalEncoding(5, max_len=4)
    assert odd.pe.shape == (4, 5)
    np.testing.assert_allclose(odd.pe.numpy()[3, 4], np.sin(3 / 10000 ** (4 / 5)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"PositionalEncoding\(d_model=6, max_len=20\): input \[21, 1, 6\] has "
                                         r"sequence length 21 > max_len 20"):
        pe(lamina.randn(21, 1, 6))
    with pytest.raises(ValueError, match=r"expected input \[T, N, 6\].*got \[3, 2, 5\]"):
        pe(lamina.randn(3, 2, 5))


ENC_CASES = {
    "post_relu": dict(norm_first=False, activation="relu", batch_first=False),
    "pre_gelu_bf": dict(norm_first=True, activation="gelu", batch_first=True),
    "post_gelu_module_bf": dict(norm_first=False, activation="GELU", batch_first=True),
}


def _enc_pair(dt, c, layers=None, **extra):
    torch.manual_seed(1)
    ta = torch.nn.GELU() if c["activation"] == "GELU" else c["activation"]
    la = nn.GELU() if c["activation"] == "GELU" else c["activation"]
    kw = dict(dim_feedforward=12, dropout=0.1, norm_first=c["norm_first"], batch_first=c["batch_first"], **extra)
    tl = torch.nn.TransformerEncoderLayer(8, 2, activation=ta, **kw).to(TDT[dt])
    ll = nn.TransformerEncoderLayer(8, 2, activation=la, dtype=LDT[dt], **kw)
    if layers is None:
        return load_from_torch(ll, tl), tl
    tm = torch.nn.TransformerEncoder(tl, layers, norm=torch.nn.LayerNorm(8).to(TDT[dt]), enable_nested_tensor=False)
    lm = nn.TransformerEncoder(ll, layers, norm=nn.LayerNorm(8, dtype=LDT[dt]))
    with torch.no_grad():
        for p in tm.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # the copies differ, so layer order is checked
    return load_from_torch(lm, tm), tm


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("name", list(ENC_CASES))
def test_encoder_layer_vs_torch_eval(name, dt):
    c = ENC_CASES[name]
    lm, tm = _enc_pair(dt, c)
    lm.eval()
    tm.eval()
    N, T = 3, 5
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, T, 8) if c["batch_first"] else (T, N, 8))
    causal = np.triu(np.full((T, T), -np.inf), 1).astype(dt)
    kpm = np.zeros((N, T), dtype=bool)
    kpm[1, -2:] = True
    for masks_l, masks_t in (({}, {}),
                             (dict(src_mask=lamina.tensor(causal), is_causal=True),
                              dict(src_mask=torch.tensor(causal), is_causal=True)),
                             (dict(src_key_padding_mask=lamina.tensor(kpm)),
                              dict(src_key_padding_mask=torch.tensor(kpm)))):
        lx, tx = pair(x, dt)
        lo, to = lm(lx, **masks_l), tm(tx, **masks_t)
        close(lo, to, TOL[dt])
        backward_both(lo, to, rng, dt)
        close(lx.grad, tx.grad, GTOL[dt])
    param_grads_close(lm, tm, dt)


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_encoder_stack_vs_torch(dt):
    c = ENC_CASES["pre_gelu_bf"]
    lm, tm = _enc_pair(dt, c, layers=2)
    assert list(lm.state_dict()) == list(tm.state_dict())
    lm.eval()
    tm.eval()
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6, 8))
    kpm = np.zeros((2, 6), dtype=bool)
    kpm[0, 4:] = True
    lx, tx = pair(x, dt)
    lo = lm(lx, src_key_padding_mask=lamina.tensor(kpm))
    to = tm(tx, src_key_padding_mask=torch.tensor(kpm))
    close(lo, to, TOL[dt])
    lo.sum().backward()
    to.sum().backward()
    close(lx.grad, tx.grad, GTOL[dt])
    with torch.no_grad(), lamina.no_grad():  # torch's inference fast path
        close(lm(lamina.tensor(x.astype(dt))), tm(torch.tensor(x.astype(dt))), TOL[dt])


def test_encoder_train_mode_dropout_and_copies():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.2)
    enc = nn.TransformerEncoder(layer, 3)
    ps = [m.self_attn.in_proj_weight for m in enc.layers]
    assert ps[0] is not ps[1] and ps[0] is not layer.self_attn.in_proj_weight
    np.testing.assert_array_equal(ps[0].detach().numpy(), ps[2].detach().numpy())
    x = lamina.randn(4, 2, 8)
    lamina.manual_seed(3)
    a = enc(x)
    lamina.manual_seed(3)
    b = enc(x)
    c = enc(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())
    a.sum().backward()
    assert all(p.grad is not None for p in enc.parameters())
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
