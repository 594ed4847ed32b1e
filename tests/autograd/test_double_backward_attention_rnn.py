"""Double backward (create_graph=True) of fused scaled dot-product attention and the fused RNN/LSTM/GRU
sequence op: gradgradcheck of every mode (masks, causal, dropout, returned weights; lengths,
reverse, cells), a gradient penalty through attention and a double backward through nn.LSTM
compared with PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina.autograd import grad, gradgradcheck
from lamina.ops.attention import _attention
from lamina.ops.rnn import rnn_cell, rnn_sequence


def _t(rng, *shape, scale=1.0):
    return lamina.tensor(rng.standard_normal(shape) * scale, dtype=lamina.float64, requires_grad=True)


def _bool_mask(rng):
    m = rng.uniform(size=(2, 3, 5)) > 0.4
    m[0, 1, :] = False  # a fully masked row: zero output, zero gradients
    return lamina.tensor(m)


ATT_CASES = ["plain", "causal_scale", "float_mask", "bool_mask", "broadcast", "dropout", "weights_dropout",
             "weights_unsafe"]


@pytest.mark.parametrize("case", ATT_CASES)
def test_attention_gradgradcheck(case):
    rng = np.random.default_rng(0)
    q, k, v = _t(rng, 2, 3, 4), _t(rng, 2, 5, 4), _t(rng, 2, 5, 3)
    sdpa = F.scaled_dot_product_attention
    if case == "plain":
        assert gradgradcheck(lambda q, k, v: sdpa(q, k, v), (q, k, v))
    elif case == "causal_scale":
        assert gradgradcheck(lambda q, k, v: sdpa(q, k, v, is_causal=True, scale=0.7), (_t(rng, 2, 5, 4), k, v))
    elif case == "float_mask":
        m = _t(rng, 3, 5)  # broadcast over the batch; differentiable
        assert gradgradcheck(lambda q, k, v, m: sdpa(q, k, v, attn_mask=m), (q, k, v, m))
    elif case == "bool_mask":
        bm = _bool_mask(rng)
        assert gradgradcheck(lambda q, k, v: sdpa(q, k, v, attn_mask=bm), (q, k, v))
    elif case == "broadcast":
        assert gradgradcheck(lambda q, k, v: sdpa(q, k, v), (_t(rng, 2, 1, 3, 4), _t(rng, 3, 5, 4), _t(rng, 1, 3, 5, 2)))
    elif case == "dropout":
        def f(q, k, v):
            lamina.manual_seed(3)  # the same dropout mask on every call
            return sdpa(q, k, v, dropout_p=0.3)
        assert gradgradcheck(f, (q, k, v))
    elif case == "weights_dropout":
        m = _t(rng, 2, 3, 5)

        def f(q, k, v, m):
            lamina.manual_seed(3)
            return _attention(q, k, v, m, dropout_p=0.25, need_weights=True)
        assert gradgradcheck(f, (q, k, v, m))
    else:
        assert gradgradcheck(lambda q, k, v: _attention(q, k, v, need_weights=True, safe_softmax=False), (q, k, v))


def test_attention_dropout_double_backward_reuses_mask():
    """The double backward must see the forward's dropout mask: dropped (query, key) pairs give no
    second-order coupling, so d/dv of (d out/d v) stays the forward's dropped weights."""
    rng = np.random.default_rng(1)
    q, k, v = _t(rng, 1, 4, 3), _t(rng, 1, 6, 3), _t(rng, 1, 6, 2)
    lamina.manual_seed(7)
    out, wts = _attention(q, k, v, dropout_p=0.5, need_weights=True)
    go = _t(rng, 1, 4, 2)
    (gv,) = grad([out], [v], [go], create_graph=True)
    np.testing.assert_allclose(gv.detach().numpy(), np.swapaxes(wts.detach().numpy(), -1, -2) @ go.detach().numpy(),
                               rtol=1e-12)
    (ggo,) = grad([gv.sum()], [go])
    np.testing.assert_allclose(ggo.numpy(), np.broadcast_to(wts.detach().numpy().sum(-1, keepdims=True), (1, 4, 2)),
                               rtol=1e-12)


def test_attention_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    qa, ka, va, ma = (rng.standard_normal(s) for s in ((2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 4), (4, 5)))
    lq, lk, lv, lm = (lamina.tensor(a, requires_grad=True) for a in (qa, ka, va, ma))
    tq, tk, tv, tm = (torch.tensor(a, requires_grad=True) for a in (qa, ka, va, ma))
    lo = F.scaled_dot_product_attention(lq, lk, lv, attn_mask=lm)
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
    lg = grad([(lo * lo).sum()], [lq, lk, lv], create_graph=True)
    tg = torch.autograd.grad((to * to).sum(), (tq, tk, tv), create_graph=True)
    sum(((g * g).sum() for g in lg[1:]), (lg[0] * lg[0]).sum()).backward()
    sum(((g * g).sum() for g in tg[1:]), (tg[0] * tg[0]).sum()).backward()
    for l_, t_, name in ((lq, tq, "q"), (lk, tk, "k"), (lv, tv, "v"), (lm, tm, "mask")):
        np.testing.assert_allclose(l_.grad.numpy(), t_.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)


_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
RNN_CASES = [(m, lengths, rev) for m in _GATES for lengths, rev in ((None, False), ([3, 2], False), ([2, 3], True))]


@pytest.mark.parametrize("mode,lengths,reverse", RNN_CASES)
def test_rnn_sequence_gradgradcheck(mode, lengths, reverse):
    rng = np.random.default_rng(3)
    T, B, I, H, G = 3, 2, 3, 2, _GATES[mode]
    lstm = mode == "lstm"
    ins = [_t(rng, T, B, I, scale=0.5), _t(rng, B, H, scale=0.5)] + ([_t(rng, B, H, scale=0.5)] if lstm else [])
    ins += [_t(rng, G * H, I, scale=0.5), _t(rng, G * H, H, scale=0.5), _t(rng, G * H, scale=0.5),
            _t(rng, G * H, scale=0.5)]

    def f(*a):
        if not lstm:
            a = a[:2] + (None,) + a[2:]
        o, hn, cn = rnn_sequence(mode, *a, lengths=lengths, reverse=reverse)
        return (o, hn) if cn is None else (o, hn, cn)
    assert gradgradcheck(f, tuple(ins))


@pytest.mark.parametrize("mode", list(_GATES))
def test_rnn_cell_gradgradcheck(mode):
    rng = np.random.default_rng(4)
    B, I, H, G = 2, 3, 2, _GATES[mode]
    lstm = mode == "lstm"
    ins = [_t(rng, B, I, scale=0.5), _t(rng, B, H, scale=0.5)] + ([_t(rng, B, H, scale=0.5)] if lstm else [])
    ins += [_t(rng, G * H, I, scale=0.5), _t(rng, G * H, H, scale=0.5)]  # no biases

    def f(*a):
        if not lstm:
            a = a[:2] + (None,) + a[2:]
        h, c = rnn_cell(mode, *a, None, None)
        return h if c is None else (h, c)
    assert gradgradcheck(f, tuple(ins))


def test_lstm_double_backward_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    tl = torch.nn.LSTM(3, 4, batch_first=True).double()
    ll = lamina.nn.LSTM(3, 4, batch_first=True)
    for n, p in tl.named_parameters():
        getattr(ll, n).data = lamina.tensor(p.detach().numpy().copy(), dtype=lamina.float64)
    xa, ra = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    lx, tx = lamina.tensor(xa, requires_grad=True), torch.tensor(xa, requires_grad=True)
    lo, _ = ll(lx)
    to, _ = tl(tx)
    (lg,) = grad([(lo * lamina.tensor(ra)).sum()], [lx], create_graph=True)
    (tg,) = torch.autograd.grad((to * torch.tensor(ra)).sum(), tx, create_graph=True)
    np.testing.assert_allclose(lg.detach().numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    (lg * lg).sum().backward()
    (tg * tg).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    for n, p in tl.named_parameters():
        np.testing.assert_allclose(getattr(ll, n).grad.numpy(), p.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=n)
