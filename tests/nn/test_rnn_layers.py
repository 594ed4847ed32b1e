"""nn.RNN / LSTM / GRU, their cells and nn.utils.rnn against PyTorch: values and gradients of every
input, state and parameter (float32 and float64), stacking, both directions, batch_first,
unbatched input, packed sequences, lengths= / mask=, dropout, state_dict keys, gradient clipping,
error messages, and one learning task."""
import re
import time

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn.utils import rnn as U

torch = pytest.importorskip("torch")

TOL = {"float64": (1e-10, 1e-10, 1e-8, 1e-8), "float32": (1e-5, 1e-5, 1e-4, 1e-4)}  # vr, va, gr, ga
DT = {"float64": (lamina.float64, torch.float64), "float32": (lamina.float32, torch.float32)}
CLS = {"rnn_tanh": ("RNN", {"nonlinearity": "tanh"}), "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
       "lstm": ("LSTM", {}), "gru": ("GRU", {})}
CELL = {"rnn_tanh": ("RNNCell", {"nonlinearity": "tanh"}), "rnn_relu": ("RNNCell", {"nonlinearity": "relu"}),
        "lstm": ("LSTMCell", {}), "gru": ("GRUCell", {})}


def make_pair(name, dtype="float64", seed=0, **kw):
    """The same layer in torch and lamina: the lamina one loads the torch state_dict."""
    torch.manual_seed(seed)
    t = getattr(torch.nn, name)(**kw).to(DT[dtype][1])
    m = getattr(nn, name)(**kw, dtype=DT[dtype][0])
    m.load_state_dict({k: lamina.from_numpy(v.detach().numpy().copy()) for k, v in t.state_dict().items()})
    return m, t


def leaves(a, grad=True):
    lt = lamina.from_numpy(a.copy())
    tt = torch.from_numpy(a.copy())
    if grad:
        lt.requires_grad_(True)
        tt.requires_grad_(True)
    return lt, tt


def npy(t):
    return t.detach().numpy() if isinstance(t, lamina.Tensor) else t.detach().cpu().numpy()


def close(a, b, rtol, atol, what):
    a, b = npy(a), npy(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def flat_outputs(out, lstm):
    o, hn = out
    return [o, *hn] if lstm else [o, hn]


def backward_both(lo, to, seed=1):
    """Backward of sum(out_i * dout_i) over all outputs, same random dout for both frameworks."""
    rng = np.random.default_rng(seed)
    ds = [rng.standard_normal(tuple(b.shape)).astype(npy(b).dtype) for b in to]
    lamina.autograd.backward(lo, [lamina.from_numpy(d) for d in ds])
    torch.autograd.backward(to, [torch.from_numpy(d) for d in ds])


def compare_params(m, t, gr, ga):
    tp = dict(t.named_parameters())
    names = [n for n, _ in m.named_parameters()]
    assert names == list(tp), "parameter names/order differ from torch"
    for n, p in m.named_parameters():
        assert p.grad is not None, f"{n} got no gradient"
        close(p.grad, tp[n].grad, gr, ga, f"grad of {n}")


CONFIGS = [  # (num_layers, bidirectional, batch_first, T, B, bias, give_hx)
    (1, False, False, 7, 3, True, True),
    (3, True, True, 5, 2, True, True),
    (3, False, False, 4, 1, True, False),
    (2, True, False, 1, 3, False, True),
    (1, False, True, 60, 2, True, True),
    (1, True, False, 60, 1, True, False),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "L{}{}{}_T{}B{}{}{}".format(
    c[0], "_bi" if c[1] else "", "_bf" if c[2] else "", c[3], c[4], "" if c[5] else "_nobias", "_hx" if c[6] else ""))
@pytest.mark.parametrize("mode", list(CLS))
def test_layer_matches_torch(mode, cfg, dtype):
    L, bi, bf, T, B, bias, give_hx = cfg
    name, extra = CLS[mode]
    I, H = 5, 6
    m, t = make_pair(name, dtype, input_size=I, hidden_size=H, num_layers=L, bidirectional=bi,
                     batch_first=bf, bias=bias, **extra)
    vr, va, gr, ga = TOL[dtype]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I) if bf else (T, B, I)).astype(dtype)
    xl, xt = leaves(x)
    nd = 2 if bi else 1
    lstm = mode == "lstm"
    states = []
    if give_hx:
        states = [leaves(0.5 * rng.standard_normal((L * nd, B, H)).astype(dtype)) for _ in range(2 if lstm else 1)]
        hl = tuple(s[0] for s in states) if lstm else states[0][0]
        ht = tuple(s[1] for s in states) if lstm else states[0][1]
        lo, to = flat_outputs(m(xl, hl), lstm), flat_outputs(t(xt, ht), lstm)
    else:
        lo, to = flat_outputs(m(xl), lstm), flat_outputs(t(xt), lstm)
    assert tuple(lo[0].shape) == ((B, T, nd * H) if bf else (T, B, nd * H))
    for k, (a, b) in enumerate(zip(lo, to)):
        close(a, b, vr, va, f"output {k}")
    backward_both(lo, to)
    close(xl.grad, xt.grad, gr, ga, "grad of input")
    for k, (sl, st) in enumerate(states):
        close(sl.grad, st.grad, gr, ga, f"grad of initial state {k}")
    compare_params(m, t, gr, ga)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", list(CLS))
def test_unbatched_matches_torch(mode, dtype):
    name, extra = CLS[mode]
    m, t = make_pair(name, dtype, input_size=4, hidden_size=3, num_layers=2, bidirectional=True,
                     batch_first=True, **extra)
    vr, va, gr, ga = TOL[dtype]
    rng = np.random.default_rng(2)
    xl, xt = leaves(rng.standard_normal((6, 4)).astype(dtype))
    lstm = mode == "lstm"
    states = [leaves(rng.standard_normal((4, 3)).astype(dtype)) for _ in range(2 if lstm else 1)]
    hl = tuple(s[0] for s in states) if lstm else states[0][0]
    ht = tuple(s[1] for s in states) if lstm else states[0][1]
    lo, to = flat_outputs(m(xl, hl), lstm), flat_outputs(t(xt, ht), lstm)
    assert tuple(lo[0].shape) == (6, 6) and tuple(lo[1].shape) == (4, 3)
    for k, (a, b) in enumerate(zip(lo, to)):
        close(a, b, vr, va, f"output {k}")
    backward_both(lo, to)
    close(xl.grad, xt.grad, gr, ga, "grad of input")
    for sl, st in states:
        close(sl.grad, st.grad, gr, ga, "grad of initial state")
    compare_params(m, t, gr, ga)


def _torch_packed_run(t, xt, lengths, bf, hx_t, T):
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=bf, enforce_sorted=False)
    out, hn = t(packed, hx_t) if hx_t is not None else t(packed)
    padded, lens = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=bf, total_length=T)
    return out, padded, hn, lens


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("how", ["packed", "lengths", "mask"])
@pytest.mark.parametrize("mode", list(CLS))
def test_variable_lengths_match_torch_packed(mode, how, dtype):
    """Unsorted lengths (with a tie, and max < T for lengths=/mask=) against torch's packed path."""
    name, extra = CLS[mode]
    bf = how != "lengths"
    m, t = make_pair(name, dtype, input_size=4, hidden_size=5, num_layers=2, bidirectional=True,
                     batch_first=bf, **extra)
    vr, va, gr, ga = TOL[dtype]
    lengths = [3, 7, 1, 5, 3]
    T = 7 if how == "packed" else 9
    B = len(lengths)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((B, T, 4) if bf else (T, B, 4)).astype(dtype)
    xl, xt = leaves(x)
    lstm = mode == "lstm"
    states = [leaves(rng.standard_normal((4, B, 5)).astype(dtype)) for _ in range(2 if lstm else 1)]
    hl = tuple(s[0] for s in states) if lstm else states[0][0]
    ht = tuple(s[1] for s in states) if lstm else states[0][1]
    t_out, t_padded, t_hn, _ = _torch_packed_run(t, xt, lengths, bf, ht, T)
    if how == "packed":
        pl = U.pack_padded_sequence(xl, lengths, batch_first=bf, enforce_sorted=False)
        l_out, l_hn = m(pl, hl)
        assert isinstance(l_out, U.PackedSequence)
        assert npy(l_out.batch_sizes).tolist() == t_out.batch_sizes.tolist()
        l_padded, l_lens = U.pad_packed_sequence(l_out, batch_first=bf, total_length=T)
        assert npy(l_lens).tolist() == lengths
    elif how == "lengths":
        l_padded, l_hn = m(xl, hl, lengths=lamina.tensor(lengths, dtype=lamina.int64))
    else:
        mask = np.arange(T)[None, :] < np.array(lengths)[:, None]  # [B, T] (batch_first)
        l_padded, l_hn = m(xl, hl, mask=lamina.from_numpy(mask))
    lo = [l_padded, *(l_hn if lstm else [l_hn])]
    to = [t_padded, *(t_hn if lstm else [t_hn])]
    for k, (a, b) in enumerate(zip(lo, to)):
        close(a, b, vr, va, f"output {k}")
    backward_both(lo, to)
    close(xl.grad, xt.grad, gr, ga, "grad of input")
    for sl, st in states:
        close(sl.grad, st.grad, gr, ga, "grad of initial state")
    compare_params(m, t, gr, ga)


def test_packed_output_data_layout_matches_torch():
    m, t = make_pair("GRU", input_size=3, hidden_size=4)
    lengths = [2, 5, 1, 4]
    x = np.random.default_rng(4).standard_normal((5, 4, 3))
    pt = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), torch.tensor(lengths), enforce_sorted=False)
    pl = U.pack_padded_sequence(lamina.from_numpy(x), lengths, enforce_sorted=False)
    ol, _ = m(pl)
    ot, _ = t(pt)
    close(ol.data, ot.data, 1e-10, 1e-10, "packed output data")
    assert npy(ol.sorted_indices).tolist() == ot.sorted_indices.tolist()
    assert npy(ol.unsorted_indices).tolist() == ot.unsorted_indices.tolist()
    # a PackedSequence built from torch's fields runs the same
    pl2 = U.PackedSequence(lamina.from_numpy(pt.data.numpy().copy()), lamina.from_numpy(pt.batch_sizes.numpy()),
                           lamina.from_numpy(pt.sorted_indices.numpy()), lamina.from_numpy(pt.unsorted_indices.numpy()))
    ol2, hl2 = m(pl2)
    close(ol2.data, ot.data, 1e-10, 1e-10, "packed output data (from torch fields)")


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_dropout_eval_matches_torch_and_train_is_seeded(mode):
    name, _ = CLS[mode]
    m, t = make_pair(name, input_size=4, hidden_size=5, num_layers=3, dropout=0.4)
    x = np.random.default_rng(5).standard_normal((6, 2, 4))
    m.eval()
    t.eval()
    lo, _ = m(lamina.from_numpy(x))
    to, _ = t(torch.from_numpy(x))
    close(lo, to, 1e-10, 1e-10, "eval output")
    m.train()
    lamina.manual_seed(123)
    a, _ = m(lamina.from_numpy(x))
    lamina.manual_seed(123)
    b, _ = m(lamina.from_numpy(x))
    c, _ = m(lamina.from_numpy(x))
    np.testing.assert_array_equal(npy(a), npy(b))
    assert not np.allclose(npy(a), npy(lo)), "dropout in train mode did not change the output"
    assert not np.allclose(npy(a), npy(c)), "a new draw gave the same dropout mask"
    # num_layers=1: dropout applies after no layer (torch warns, same output)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        m1 = getattr(nn, name)(4, 5, dropout=0.5)
    m1.train()
    r1, _ = m1(lamina.from_numpy(x.astype(np.float32)))
    m1.eval()
    r2, _ = m1(lamina.from_numpy(x.astype(np.float32)))
    np.testing.assert_array_equal(npy(r1), npy(r2))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", list(CELL))
def test_cells_match_torch(mode, dtype):
    name, extra = CELL[mode]
    vr, va, gr, ga = TOL[dtype]
    m, t = make_pair(name, dtype, input_size=5, hidden_size=4, **extra)
    rng = np.random.default_rng(6)
    lstm = mode == "lstm"
    for batched, give_hx in [(True, True), (False, True), (True, False), (False, False)]:
        shape = (3,) if batched else ()
        xl, xt = leaves(rng.standard_normal(shape + (5,)).astype(dtype))
        states = [leaves(rng.standard_normal(shape + (4,)).astype(dtype)) for _ in range(2 if lstm else 1)] \
            if give_hx else []
        if give_hx:
            hl = tuple(s[0] for s in states) if lstm else states[0][0]
            ht = tuple(s[1] for s in states) if lstm else states[0][1]
            lo, to = m(xl, hl), t(xt, ht)
        else:
            lo, to = m(xl), t(xt)
        lo, to = (list(lo), list(to)) if lstm else ([lo], [to])
        for k, (a, b) in enumerate(zip(lo, to)):
            close(a, b, vr, va, f"cell output {k} (batched={batched})")
        m.zero_grad()
        t.zero_grad()
        backward_both(lo, to)
        close(xl.grad, xt.grad, gr, ga, "cell grad of input")
        for sl, st in states:
            close(sl.grad, st.grad, gr, ga, "cell grad of state")
        compare_params(m, t, gr, ga)


@pytest.mark.parametrize("kw", [dict(), dict(num_layers=3, bidirectional=True), dict(bias=False, num_layers=2)])
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_state_dict_keys_shapes_repr_and_init(name, kw):
    t = getattr(torch.nn, name)(7, 9, **kw)
    m = getattr(nn, name)(7, 9, **kw)
    sd_t, sd_m = t.state_dict(), m.state_dict()
    assert list(sd_m) == list(sd_t)
    for k in sd_t:
        assert tuple(sd_m[k].shape) == tuple(sd_t[k].shape), k
    assert repr(m) == repr(t)
    bound = 1 / 3
    allv = np.concatenate([npy(p).ravel() for p in m.parameters()])
    assert np.all(np.abs(allv) <= bound) and abs(allv.std() - bound / np.sqrt(3)) < 0.02
    assert m.all_weights[0][0] is m.weight_ih_l0
    for cname in ["RNNCell", "LSTMCell", "GRUCell"]:
        assert list(getattr(nn, cname)(7, 9).state_dict()) == list(getattr(torch.nn, cname)(7, 9).state_dict())
        assert repr(getattr(nn, cname)(7, 9, bias=False)) == repr(getattr(torch.nn, cname)(7, 9, bias=False))
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == repr(torch.nn.RNNCell(3, 4, nonlinearity="relu"))
    assert repr(nn.LSTM(64, 128, num_layers=2, batch_first=True)) == "LSTM(64, 128, num_layers=2, batch_first=True)"


def test_clip_grad_norm_after_long_lstm_backward_matches_torch():
    m, t = make_pair("LSTM", input_size=6, hidden_size=12, num_layers=2)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 3, 6))
    lo, _ = m(lamina.from_numpy(x))
    to, _ = t(torch.from_numpy(x))
    backward_both([lo], [to])
    nl = lamina.nn.utils.clip_grad_norm_(m.parameters(), 0.5)
    nt = torch.nn.utils.clip_grad_norm_(t.parameters(), 0.5)
    np.testing.assert_allclose(float(nl), float(nt), rtol=1e-9)
    compare_params(m, t, 1e-8, 1e-10)


def test_gradcheck_bidirectional_gru_with_lengths():
    m = nn.GRU(3, 2, num_layers=2, bidirectional=True, batch_first=True, dtype=lamina.float64)
    x = lamina.randn(3, 4, 3, dtype=lamina.float64, requires_grad=True)
    h = lamina.randn(4, 3, 2, dtype=lamina.float64, requires_grad=True)

    def f(x, h):
        out, hn = m(x, h, lengths=[4, 2, 3])
        return out, hn

    assert lamina.autograd.gradcheck(f, (x, h), eps=1e-6, atol=1e-5, rtol=1e-4)


# ---- nn.utils.rnn ----
def test_pad_sequence_matches_torch():
    rng = np.random.default_rng(8)
    seqs = [rng.standard_normal((n, 2, 3)) for n in (3, 5, 1)]
    for bf in (False, True):
        for side in ("right", "left"):
            ls = [leaves(s)[0] for s in seqs]
            ts = [leaves(s)[1] for s in seqs]
            a = U.pad_sequence(ls, batch_first=bf, padding_value=-2.5, padding_side=side)
            b = torch.nn.utils.rnn.pad_sequence(ts, batch_first=bf, padding_value=-2.5, padding_side=side)
            close(a, b, 0, 0, f"pad_sequence bf={bf} side={side}")
            backward_both([a], [b])
            for x, y in zip(ls, ts):
                close(x.grad, y.grad, 0, 0, "pad_sequence grad")
    with pytest.raises(RuntimeError, match="empty list"):
        U.pad_sequence([])
    with pytest.raises(ValueError, match=re.escape("sequence 1 has shape [2, 4]")):
        U.pad_sequence([lamina.zeros(3, 3), lamina.zeros(2, 4)])


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("bf", [False, True])
def test_pack_pad_roundtrip_matches_torch(bf, enforce_sorted):
    lengths = [6, 4, 4, 1] if enforce_sorted else [4, 6, 1, 3]
    T = 8
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, T, 3) if bf else (T, 4, 3))
    xl, xt = leaves(x)
    pl = U.pack_padded_sequence(xl, lengths, batch_first=bf, enforce_sorted=enforce_sorted)
    pt = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=bf, enforce_sorted=enforce_sorted)
    close(pl.data, pt.data, 0, 0, "packed data")
    assert npy(pl.batch_sizes).tolist() == pt.batch_sizes.tolist()
    assert pl.batch_sizes.dtype == lamina.int64
    if enforce_sorted:
        assert pl.sorted_indices is None and pl.unsorted_indices is None
    else:
        assert npy(pl.sorted_indices).tolist() == pt.sorted_indices.tolist()
        assert npy(pl.unsorted_indices).tolist() == pt.unsorted_indices.tolist()
    data, batch_sizes, _, _ = pl  # unpacks like torch's named tuple
    assert data is pl.data and batch_sizes is pl.batch_sizes
    for kw in [dict(), dict(padding_value=9.0, total_length=10)]:
        a, la = U.pad_packed_sequence(pl, batch_first=bf, **kw)
        b, lb = torch.nn.utils.rnn.pad_packed_sequence(pt, batch_first=bf, **kw)
        close(a, b, 0, 0, f"pad_packed_sequence {kw}")
        assert la.dtype == lamina.int64 and npy(la).tolist() == lb.tolist()
    backward_both([a], [b])
    close(xl.grad, xt.grad, 0, 0, "grad through pack -> pad")
    for u, v in zip(U.unpack_sequence(pl), torch.nn.utils.rnn.unpack_sequence(pt)):
        close(u, v, 0, 0, "unpack_sequence")
    with pytest.raises(ValueError, match="total_length=2 and max sequence length being 6"):
        U.pad_packed_sequence(pl, total_length=2)


def test_pack_sequence_unpad_and_errors():
    rng = np.random.default_rng(10)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 5, 3)]
    pl = U.pack_sequence([lamina.from_numpy(s) for s in seqs], enforce_sorted=False)
    pt = torch.nn.utils.rnn.pack_sequence([torch.from_numpy(s) for s in seqs], enforce_sorted=False)
    close(pl.data, pt.data, 0, 0, "pack_sequence data")
    padded = U.pad_sequence([lamina.from_numpy(s) for s in seqs], batch_first=True)
    for u, s in zip(U.unpad_sequence(padded, [2, 5, 3], batch_first=True), seqs):
        np.testing.assert_array_equal(npy(u), s)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        U.pack_padded_sequence(lamina.zeros(5, 3, 2), [2, 5, 3])
    with pytest.raises(RuntimeError, match="greater than 0"):
        U.pack_padded_sequence(lamina.zeros(5, 3, 2), [5, 3, 0])
    with pytest.raises(RuntimeError, match=re.escape("exceed the sequence length 5 of input shape [5, 3, 2]")):
        U.pack_padded_sequence(lamina.zeros(5, 3, 2), [6, 3, 1])
    with pytest.raises(ValueError, match=re.escape("expected 3 lengths (batch size of input shape [5, 3, 2]), got 2")):
        U.pack_padded_sequence(lamina.zeros(5, 3, 2), [5, 3])


# ---- errors ----
def test_error_messages():
    m = nn.LSTM(64, 128, num_layers=2)
    with pytest.raises(ValueError, match=re.escape("LSTM: expected input of size 64 in the last dimension, "
                                                   "got [35, 32, 63]")):
        m(lamina.zeros(35, 32, 63))
    h = lamina.zeros(1, 32, 128)
    with pytest.raises(ValueError, match=re.escape("LSTM: expected hidden size [2, 32, 128], got [1, 32, 128]")):
        m(lamina.zeros(35, 32, 64), (h, h))
    with pytest.raises(ValueError, match=re.escape("expected cell state size [2, 32, 128], got [1, 32, 128]")):
        m(lamina.zeros(35, 32, 64), (lamina.zeros(2, 32, 128), h))
    with pytest.raises(TypeError, match="LSTM: expected hx to be a tuple"):
        m(lamina.zeros(3, 2, 64), lamina.zeros(2, 2, 128))
    with pytest.raises(ValueError, match=re.escape("got 4-D input of shape [1, 2, 3, 64]")):
        m(lamina.zeros(1, 2, 3, 64))
    with pytest.raises(TypeError, match="LSTM: expected input of dtype lamina.float32 .*got lamina.float64"):
        m(lamina.zeros(3, 2, 64, dtype=lamina.float64))
    g = nn.GRU(4, 3, batch_first=True)
    with pytest.raises(ValueError, match=re.escape("GRU: expected hidden size [1, 2, 3], got [1, 3, 3]")):
        g(lamina.zeros(2, 5, 4), lamina.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="unbatched 2-D input, the hidden state should also be 2-D"):
        g(lamina.zeros(5, 4), lamina.zeros(1, 1, 3))
    bad_mask = lamina.from_numpy(np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]], dtype=bool))
    with pytest.raises(ValueError, match=r"GRU: mask must be a prefix mask .* row 0 is \[1, 1, 0, 1, 0\]"):
        g(lamina.zeros(2, 5, 4), mask=bad_mask)
    with pytest.raises(ValueError, match=re.escape("GRU: expected mask of shape [2, 5] ([B, T] (batch_first=True)), "
                                                   "got [5, 2]")):
        g(lamina.zeros(2, 5, 4), mask=lamina.ones(5, 2, dtype=lamina.bool))
    with pytest.raises(ValueError, match=re.escape("GRU: lengths must lie in [1, 5] (the sequence length), "
                                                   "got [6, 2]")):
        g(lamina.zeros(2, 5, 4), lengths=[6, 2])
    with pytest.raises(ValueError, match="GRU: expected 2 lengths"):
        g(lamina.zeros(2, 5, 4), lengths=[5, 2, 1])
    with pytest.raises(ValueError, match="not both"):
        g(lamina.zeros(2, 5, 4), lengths=[5, 2], mask=lamina.ones(2, 5, dtype=lamina.bool))
    packed = U.pack_padded_sequence(lamina.zeros(2, 5, 4), [5, 2], batch_first=True)
    with pytest.raises(ValueError, match="cannot be combined with a PackedSequence"):
        g(packed, lengths=[5, 2])
    with pytest.raises(NotImplementedError, match="proj_size=4"):
        nn.LSTM(8, 16, proj_size=4)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.RNN(3, 0)
    c = nn.LSTMCell(4, 3)
    with pytest.raises(ValueError, match=re.escape("LSTMCell: expected input of size 4 in the last dimension, "
                                                   "got [2, 5]")):
        c(lamina.zeros(2, 5))
    with pytest.raises(ValueError, match=re.escape("LSTMCell: expected hidden size [2, 3], got [2, 4]")):
        c(lamina.zeros(2, 4), (lamina.zeros(2, 4), lamina.zeros(2, 3)))
    with pytest.raises(ValueError, match="GRUCell: Expected input to be 1D or 2D, got 3D"):
        nn.GRUCell(4, 3)(lamina.zeros(1, 2, 4))

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(64, 128, num_layers=2)

        def forward(self, x):
            return self.rnn(x)

    msg = "rnn (LSTM 64->128, num_layers=2): LSTM: expected input of size 64"
    with pytest.raises(ValueError, match=re.escape(msg)):
        Enc()(lamina.zeros(35, 32, 63))


def test_lstm_learns_copy_first_token():
    """Classify a variable-length random bit sequence by its first bit, read from h_n; padding
    holds noise, so the model must ignore it (lengths=)."""
    lamina.manual_seed(0)
    rng = np.random.default_rng(0)

    def batch(n, T=12):
        x = rng.integers(0, 2, size=(n, T, 1)).astype(np.float32) * 2 - 1
        lens = rng.integers(4, T + 1, size=n)
        pad = np.arange(T)[None, :] >= lens[:, None]
        x[pad] = rng.standard_normal((int(pad.sum()), 1)) * 5
        return lamina.from_numpy(x), lens, lamina.from_numpy((x[:, 0, 0] > 0).astype(np.int64))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(1, 16, batch_first=True)
            self.head = nn.Linear(16, 2)

        def forward(self, x, lens):
            _, (h, _) = self.rnn(x, lengths=lens)
            return self.head(h[0])

    net = Net()
    opt = lamina.optim.Adam(net.parameters(), lr=0.02)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(300):
        x, lens, y = batch(64)
        loss = loss_fn(net(x, lens), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, lens, y = batch(1000)
    with lamina.no_grad():
        acc = float((net(x, lens).argmax(1) == y).float().mean())
    assert acc >= 0.95, f"accuracy {acc:.3f}"
    print(f"trained in {time.perf_counter() - start:.1f} s")  # measured by bench/, not asserted
