"""rnn_sequence / rnn_cell (RNN tanh/ReLU, LSTM, GRU with BPTT in C++) against torch's cells run
step by step (with PyTorch's packed-sequence masking), torch.nn layers on packed input, and float64
finite differences."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from helpers import check_fd, check_op
from lamina.ops.rnn import rnn_cell, rnn_sequence

MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
G = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _torch():
    return pytest.importorskip("torch")


def _u(shape, k):
    return lambda rng: rng.uniform(-k, k, shape)


def specs(mode, T, B, I, H, bias=True, cell=False):
    """Inputs x, hx, (cx), w_ih, w_hh, (b_ih, b_hh) with PyTorch-like weight scale 1/sqrt(H)."""
    k = 1.0 / np.sqrt(H)
    gh = G[mode] * H
    s = [(B, I) if cell else (T, B, I), (B, H)]
    if mode == "lstm":
        s.append((B, H))
    s += [_u((gh, I), k), _u((gh, H), k)]
    if bias:
        s += [_u((gh,), k), _u((gh,), k)]
    return s


def unpack(mode, args, bias):
    """(x, hx, cx, w_ih, w_hh, b_ih, b_hh) from the flat argument list of specs()."""
    args = list(args)
    x, hx = args[0], args[1]
    cx = args[2] if mode == "lstm" else None
    rest = args[3:] if mode == "lstm" else args[2:]
    w_ih, w_hh = rest[0], rest[1]
    b_ih, b_hh = (rest[2], rest[3]) if bias else (None, None)
    return x, hx, cx, w_ih, w_hh, b_ih, b_hh


def torch_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    torch = _torch()
    if mode == "lstm":
        return torch.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)
    cellf = {"rnn_tanh": torch.rnn_tanh_cell, "rnn_relu": torch.rnn_relu_cell, "gru": torch.gru_cell}[mode]
    return cellf(x, h, w_ih, w_hh, b_ih, b_hh), None


def torch_sequence(mode, x, hx, cx, w_ih, w_hh, b_ih, b_hh, lengths=None, reverse=False):
    """Reference: torch's cells step by step; row b updates only while t < lengths[b]."""
    torch = _torch()
    T, B = x.shape[0], x.shape[1]
    lens = torch.tensor([T] * B if lengths is None else list(lengths))
    h, c = hx, cx
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        hn, cn = torch_step(mode, x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        valid = (t < lens).to(x.dtype)[:, None]
        outs[t] = hn * valid
        h = hn * valid + h * (1 - valid)
        if c is not None:
            c = cn * valid + c * (1 - valid)
    out = torch.stack(outs) if T else x.new_zeros((0, B, hx.shape[1]))
    return out, h, c


def lam_fn(mode, bias, lengths=None, reverse=False, which=(0, 1, 2)):
    def f(*args):
        r = rnn_sequence(mode, *unpack(mode, args, bias), lengths=lengths, reverse=reverse)
        return tuple(r[i] for i in which if r[i] is not None)
    return f


def tor_fn(mode, bias, lengths=None, reverse=False, which=(0, 1, 2)):
    def f(*args):
        r = torch_sequence(mode, *unpack(mode, args, bias), lengths=lengths, reverse=reverse)
        return tuple(r[i] for i in which if r[i] is not None)
    return f


GTOL = {"float32": ((1e-5, 1e-4), (1e-4, 2e-4)), "float64": ((1e-10, 1e-10), (1e-8, 1e-8))}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("T,B,I,H", [(1, 1, 3, 4), (7, 3, 5, 6), (50, 5, 4, 7)])
def test_sequence_vs_torch(mode, T, B, I, H):
    check_op(lam_fn(mode, True), tor_fn(mode, True), specs(mode, T, B, I, H), tol=GTOL, fd=False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("T,B,I,H", [(4, 9, 13, 19), (3, 7, 17, 70)])
def test_sequence_vs_torch_blocked_shapes(mode, T, B, I, H):
    """Shapes past the float kernels' block edges: 8 x 8 register transposes with ragged rows and
    columns (w_hh^T, the weight gradients), the step GEMM's K blocks (H = 70 > 64) and column panels
    with vector and scalar tails, row tiles of 6 plus a remainder, and the one weight-gradient GEMM
    [x | hprev | 1]^T @ dg of lstm and rnn (with and without biases)."""
    check_op(lam_fn(mode, True), tor_fn(mode, True), specs(mode, T, B, I, H), tol=GTOL, fd=False)
    check_op(lam_fn(mode, False), tor_fn(mode, False), specs(mode, T, B, I, H, bias=False), tol=GTOL, fd=False)


@pytest.mark.parametrize("mode", MODES)
def test_weight_grads_alone_match_all_grads(mode):
    """dw_ih / dw_hh / biases come from one fused GEMM when both weights need gradients and from
    separate GEMMs otherwise: both routes give the same values (float64)."""
    rng = np.random.default_rng(3)
    args = [lamina.tensor(f(rng) if callable(f) else rng.standard_normal(f)) for f in specs(mode, 5, 4, 9, 11)]
    first_w = 3 if mode == "lstm" else 2  # index of w_ih in the flat argument list

    def grads(need):
        ts = [a.detach().requires_grad_(bool(n)) for a, n in zip(args, need)]
        o, h = lam_fn(mode, True, which=(0, 1))(*ts)
        (o.sum() + (h * h).sum()).backward()
        return [t.grad.numpy() if t.grad is not None else None for t in ts]

    full = grads([True] * len(args))
    for k in range(first_w, len(args)):  # each weight / bias alone
        alone = grads([i == k for i in range(len(args))])
        np.testing.assert_allclose(alone[k], full[k], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_sequence_no_bias_noncontiguous(mode):
    check_op(lam_fn(mode, False), tor_fn(mode, False), specs(mode, 6, 3, 5, 4, bias=False), tol=GTOL,
             fd=False, noncontig=True)


def test_noncontiguous_time_major_view():
    """input as a [T, B, I] view of a batch-first array (strides not time-major)."""
    torch = _torch()
    rng = np.random.default_rng(3)
    xb = rng.standard_normal((3, 8, 5)).astype(np.float32)  # [B, T, I]
    x = lamina.from_numpy(xb).transpose(0, 1)
    assert not x.is_contiguous()
    args = [a.astype(np.float32) for a in
            [rng.standard_normal((3, 6)), rng.standard_normal((3, 6)), rng.uniform(-.4, .4, (24, 5)),
             rng.uniform(-.4, .4, (24, 6)), rng.uniform(-.4, .4, (24,)), rng.uniform(-.4, .4, (24,))]]
    out, hn, cn = rnn_sequence("lstm", x, *[lamina.tensor(a) for a in args])
    tout, thn, tcn = torch_sequence("lstm", torch.from_numpy(xb).transpose(0, 1), *[torch.from_numpy(a) for a in args])
    for a, b in [(out, tout), (hn, thn), (cn, tcn)]:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [5, 1, 7, 3, 7], (7, 7, 7, 7, 7)])
def test_lengths_vs_torch(mode, reverse, lengths):
    check_op(lam_fn(mode, True, lengths, reverse), tor_fn(mode, True, lengths, reverse),
             specs(mode, 7, 5, 3, 4), tol=GTOL, fd=False)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_packed_bidirectional_layer(mode):
    """Forward and reverse directions with lengths equal torch.nn.{LSTM,GRU,RNN}(bidirectional=True)
    on pack_padded_sequence(enforce_sorted=False): values and every gradient."""
    torch = _torch()
    T, B, I, H = 6, 4, 3, 5
    lengths = [4, 6, 1, 3]
    torch.manual_seed(0)
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}[mode]
    layer = cls(I, H, bidirectional=True).double()
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, B, H, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, B, H, dtype=torch.float64, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    out, st = layer(packed, (h0, c0) if mode == "lstm" else h0)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    hn, cn = st if mode == "lstm" else (st, None)
    rng = np.random.default_rng(1)
    dout = torch.from_numpy(rng.standard_normal(out.shape))
    dh = torch.from_numpy(rng.standard_normal(hn.shape))
    loss = (out * dout).sum() + (hn * dh).sum()
    if cn is not None:
        dc = torch.from_numpy(rng.standard_normal(cn.shape))
        loss = loss + (cn * dc).sum()
    loss.backward()

    L = lambda t: lamina.tensor(t.detach().numpy()).requires_grad_(True)  # noqa: E731
    lx = L(x)
    loss_l = 0
    for d, sfx in enumerate(["", "_reverse"]):
        ws = [L(getattr(layer, n + "_l0" + sfx)) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        lh, lc = L(h0[d]), L(c0[d]) if mode == "lstm" else None
        o, h, c = rnn_sequence(mode, lx, lh, lc, *ws, lengths=lamina.tensor(lengths), reverse=bool(d))
        np.testing.assert_allclose(o.detach().numpy(), out[..., d * H:(d + 1) * H].detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(h.detach().numpy(), hn[d].detach().numpy(), atol=1e-12)
        lo = (o * lamina.tensor(dout[..., d * H:(d + 1) * H].numpy())).sum() + (h * lamina.tensor(dh[d].numpy())).sum()
        if c is not None:
            np.testing.assert_allclose(c.detach().numpy(), cn[d].detach().numpy(), atol=1e-12)
            lo = lo + (c * lamina.tensor(dc[d].numpy())).sum()
        lo.backward()
        loss_l = loss_l + float(lo.item())
        for lw, n in zip(ws, ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
            np.testing.assert_allclose(lw.grad.numpy(), getattr(layer, n + "_l0" + sfx).grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(lh.grad.numpy(), h0.grad[d].numpy(), atol=1e-10)
        if lc is not None:
            np.testing.assert_allclose(lc.grad.numpy(), c0.grad[d].numpy(), atol=1e-10)
    np.testing.assert_allclose(lx.grad.numpy(), x.grad.numpy(), atol=1e-10)
    assert abs(loss_l - loss.item()) < 1e-9


@pytest.mark.parametrize("mode", MODES)
def test_grad_only_through_h_n(mode):
    check_op(lam_fn(mode, True, which=(1,)), tor_fn(mode, True, which=(1,)), specs(mode, 9, 3, 4, 5),
             tol=GTOL, fd=False)
    check_op(lam_fn(mode, True, [9, 2, 5], True, which=(1,)), tor_fn(mode, True, [9, 2, 5], True, which=(1,)),
             specs(mode, 9, 3, 4, 5), tol=GTOL, fd=False)


def test_lstm_grad_only_through_c_n_and_partial_inputs():
    check_op(lam_fn("lstm", True, which=(2,)), tor_fn("lstm", True, which=(2,)), specs("lstm", 5, 2, 3, 4),
             tol=GTOL, fd=False)
    # only some inputs need gradients (x and w_hh; hx, cx, w_ih, biases do not)
    check_op(lam_fn("lstm", True), tor_fn("lstm", True), specs("lstm", 5, 2, 3, 4), tol=GTOL, fd=False,
             grad=[True, False, False, False, True, False, False])
    check_op(lam_fn("gru", True), tor_fn("gru", True), specs("gru", 5, 2, 3, 4), tol=GTOL, fd=False,
             grad=[False, True, True, False, False, True])


@pytest.mark.parametrize("mode", MODES)
def test_finite_differences(mode):
    check_fd(lam_fn(mode, True), specs(mode, 3, 2, 2, 3))
    check_fd(lam_fn(mode, True), specs(mode, 2, 3, 9, 10))  # 8 x 8 transpose blocks + ragged edges
    check_fd(lam_fn(mode, False, [3, 1], True), specs(mode, 3, 2, 2, 3, bias=False))


@pytest.mark.parametrize("mode", MODES)
def test_cell_vs_torch(mode):
    def lf(*args):
        h, c = rnn_cell(mode, *unpack(mode, args, True))
        return (h,) if c is None else (h, c)

    def tf(*args):
        h, c = torch_step(mode, *unpack(mode, args, True))
        return (h,) if c is None else (h, c)

    check_op(lf, tf, specs(mode, 1, 3, 4, 5, cell=True), tol=GTOL, fd=False)
    check_fd(lf, specs(mode, 1, 2, 2, 3, cell=True))


def test_cell_no_bias_and_batch_one():
    torch = _torch()
    for mode in MODES:
        def lf(*args, mode=mode):
            h, c = rnn_cell(mode, *unpack(mode, args, False))
            return (h,) if c is None else (h, c)

        def tf(*args, mode=mode):
            h, c = torch_step(mode, *unpack(mode, args, False))
            return (h,) if c is None else (h, c)

        check_op(lf, tf, specs(mode, 1, 1, 3, 2, bias=False, cell=True), tol=GTOL, fd=False)
    assert torch is not None


def test_functional_exports_and_dtypes():
    assert F.rnn_sequence is rnn_sequence and F.rnn_cell is rnn_cell
    assert "rnn_sequence" not in lamina.ops.rnn.__all__
    for dt in ("float32", "float64"):
        x = lamina.tensor(np.ones((2, 1, 3), dt))
        out, hn, cn = rnn_sequence("gru", x, lamina.tensor(np.zeros((1, 2), dt)), None,
                                   lamina.tensor(np.full((6, 3), 0.1, dt)), lamina.tensor(np.full((6, 2), 0.1, dt)),
                                   None, None)
        assert out.dtype.name == dt and hn.dtype.name == dt and cn is None
        assert out.shape == (2, 1, 2) and not out.requires_grad
        np.testing.assert_allclose(out.numpy()[1], hn.numpy())


def test_empty_sequence():
    x = lamina.zeros(0, 2, 3)
    hx, cx = lamina.ones(2, 4), lamina.full((2, 4), 2.0)
    out, hn, cn = rnn_sequence("lstm", x, hx, cx, lamina.zeros(16, 3), lamina.zeros(16, 4), None, None)
    assert out.shape == (0, 2, 4)
    np.testing.assert_array_equal(hn.numpy(), 1.0)
    np.testing.assert_array_equal(cn.numpy(), 2.0)


def _args(mode="lstm", T=5, B=2, I=3, H=4, dtype="float32"):
    g = G[mode]
    z = lambda *s: lamina.tensor(np.zeros(s, dtype))  # noqa: E731
    return [z(T, B, I), z(B, H), z(B, H) if mode == "lstm" else None, z(g * H, I), z(g * H, H), z(g * H), z(g * H)]


def test_errors_shapes():
    a = _args()
    with pytest.raises(ValueError, match=r"lstm: w_ih must be \[4\*hidden, input_size\] = \[16, 3\], got \[16, 2\]"):
        rnn_sequence("lstm", a[0], a[1], a[2], lamina.zeros(16, 2), *a[4:])
    with pytest.raises(ValueError, match=r"lstm: w_hh must be \[4\*hidden, hidden\] = \[16, 4\], got \[12, 4\].*"
                                         r"input \[5, 2, 3\], hx \[2, 4\]"):
        rnn_sequence("lstm", *a[:4], lamina.zeros(12, 4), *a[5:])
    with pytest.raises(ValueError, match=r"gru: b_ih must be \[3\*hidden\] = \[12\], got \[16\]"):
        b = _args("gru")
        rnn_sequence("gru", *b[:5], lamina.zeros(16), b[6])
    with pytest.raises(ValueError, match=r"rnn_tanh: b_hh must be \[hidden\] = \[4\], got \[5\]"):
        b = _args("rnn_tanh")
        rnn_sequence("rnn_tanh", *b[:6], lamina.zeros(5))
    with pytest.raises(ValueError, match=r"lstm: hx must be \[batch, hidden\] with batch = 2, got \[3, 4\]"):
        rnn_sequence("lstm", a[0], lamina.zeros(3, 4), *a[2:])
    with pytest.raises(ValueError, match=r"lstm: cx must be \[batch, hidden\] = \[2, 4\], got \[2, 5\]"):
        rnn_sequence("lstm", a[0], a[1], lamina.zeros(2, 5), *a[3:])
    with pytest.raises(ValueError, match=r"lstm: cx \(the initial cell state\) is required"):
        rnn_sequence("lstm", a[0], a[1], None, *a[3:])
    with pytest.raises(ValueError, match=r"gru: cx must be None"):
        b = _args("gru")
        rnn_sequence("gru", b[0], b[1], lamina.zeros(2, 4), *b[3:])
    with pytest.raises(ValueError,
                       match=r"rnn_sequence lstm: input must be \[seq_len, batch, input_size\], got \[5, 3\]"):
        rnn_sequence("lstm", lamina.zeros(5, 3), *a[1:])
    with pytest.raises(ValueError, match=r"rnn_cell gru: input must be \[batch, input_size\], got \[1, 2, 3\]"):
        b = _args("gru")
        rnn_cell("gru", lamina.zeros(1, 2, 3), *b[1:])
    with pytest.raises(ValueError,
                       match=r"rnn_cell lstm: w_ih must be \[4\*hidden, input_size\] = \[16, 3\], got \[16, 4\]"):
        rnn_cell("lstm", lamina.zeros(2, 3), a[1], a[2], lamina.zeros(16, 4), *a[4:])


def test_errors_mode_and_types():
    a = _args()
    with pytest.raises(ValueError,
                       match=r"rnn_sequence: mode must be 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru', got 'LSTM'"):
        rnn_sequence("LSTM", *a)
    with pytest.raises(ValueError, match=r"rnn_cell: mode must be .* got 'tanh'"):
        rnn_cell("tanh", lamina.zeros(2, 3), *a[1:])
    with pytest.raises(TypeError, match=r"lstm: w_hh dtype float64 differs from input dtype float32"):
        rnn_sequence("lstm", *a[:4], lamina.zeros(16, 4, dtype=lamina.float64), *a[5:])
    with pytest.raises(TypeError, match=r"lstm: hx dtype float64 differs from input dtype float32"):
        rnn_sequence("lstm", a[0], lamina.zeros(2, 4, dtype=lamina.float64), *a[2:])
    with pytest.raises(TypeError, match=r"expected a floating-point input"):
        rnn_sequence("lstm", lamina.zeros(5, 2, 3, dtype=lamina.int64), *a[1:])
    with pytest.raises(TypeError, match=r"rnn_sequence lstm: w_ih must be a Tensor, got ndarray"):
        rnn_sequence("lstm", *a[:3], np.zeros((16, 3)), *a[4:])
    with pytest.raises(TypeError, match=r"rnn_sequence gru: b_ih must be a Tensor or None, got float"):
        b = _args("gru")
        rnn_sequence("gru", *b[:5], 0.0, b[6])


def test_errors_lengths():
    a = _args()
    with pytest.raises(ValueError, match=r"lengths\[1\] = 0 is outside \[1, seq_len = 5\]"):
        rnn_sequence("lstm", *a, lengths=[5, 0])
    with pytest.raises(ValueError, match=r"lengths\[0\] = 6 is outside \[1, seq_len = 5\]"):
        rnn_sequence("lstm", *a, lengths=lamina.tensor([6, 2]))
    with pytest.raises(ValueError, match=r"lengths must have one entry per batch row \(2\), got 3"):
        rnn_sequence("lstm", *a, lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"lengths must be \[batch\] = \[2\], got \[2, 1\]"):
        rnn_sequence("lstm", *a, lengths=lamina.tensor([[1], [2]]))
    with pytest.raises(TypeError, match=r"lengths must be an int64 tensor, got lamina.float32"):
        rnn_sequence("lstm", *a, lengths=lamina.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"lengths\[1\] must be an int, got float"):
        rnn_sequence("lstm", *a, lengths=[1, 2.5])


def test_full_lengths_equal_no_lengths_and_state_frozen():
    """lengths all T is the unmasked run; a row of length 1 keeps h_n from its only step."""
    rng = np.random.default_rng(0)
    mk = lambda *s: lamina.tensor(rng.uniform(-.5, .5, s).astype(np.float32))  # noqa: E731
    x, hx, w_ih, w_hh = mk(4, 2, 3), mk(2, 5), mk(15, 3), mk(15, 5)
    o1, h1, _ = rnn_sequence("gru", x, hx, None, w_ih, w_hh, None, None)
    o2, h2, _ = rnn_sequence("gru", x, hx, None, w_ih, w_hh, None, None, lengths=[4, 4])
    np.testing.assert_array_equal(o1.numpy(), o2.numpy())
    o3, h3, _ = rnn_sequence("gru", x, hx, None, w_ih, w_hh, None, None, lengths=[4, 1])
    np.testing.assert_array_equal(o3.numpy()[1:, 1], 0.0)
    np.testing.assert_array_equal(h3.numpy()[1], o3.numpy()[0, 1])
    np.testing.assert_array_equal(h3.numpy()[0], h1.numpy()[0])


def test_empty_sequence_and_batch_gradients():
    """T = 0: h_n = hx, c_n = cx, their gradients pass straight through, weights get zeros."""
    hx, cx = lamina.ones(2, 4, requires_grad=True), lamina.full((2, 4), 2.0).requires_grad_(True)
    w_ih, w_hh = lamina.ones(16, 3, requires_grad=True), lamina.ones(16, 4, requires_grad=True)
    b = lamina.ones(16, requires_grad=True)
    x = lamina.zeros(0, 2, 3, requires_grad=True)
    out, hn, cn = rnn_sequence("lstm", x, hx, cx, w_ih, w_hh, b, None)
    (hn * 3.0 + cn * 5.0).sum().backward()
    np.testing.assert_array_equal(hx.grad.numpy(), 3.0)
    np.testing.assert_array_equal(cx.grad.numpy(), 5.0)
    np.testing.assert_array_equal(w_ih.grad.numpy(), 0.0)
    np.testing.assert_array_equal(b.grad.numpy(), 0.0)
    assert x.grad.shape == (0, 2, 3)
    # empty batch
    out, hn, _ = rnn_sequence("gru", lamina.zeros(3, 0, 2), lamina.zeros(0, 5), None, lamina.ones(15, 2),
                              lamina.ones(15, 5), None, None)
    assert out.shape == (3, 0, 5) and hn.shape == (0, 5)


def test_two_threads_match_one_thread():
    """A step big enough for the row-parallel kernels gives the same values and gradients."""
    rng = np.random.default_rng(5)
    mk = lambda *s: lamina.tensor(rng.uniform(-.2, .2, s).astype(np.float32))  # noqa: E731
    args = [mk(3, 80, 8), mk(80, 256), mk(80, 256), mk(1024, 8), mk(1024, 256), mk(1024), mk(1024)]

    def run(n):
        old = lamina.get_num_threads()
        lamina.set_num_threads(n)
        try:
            ts = [a.detach().requires_grad_(True) for a in args]
            o, h, c = rnn_sequence("lstm", *ts, lengths=[3, 1] * 40, reverse=True)
            (o.sum() + h.sum() * 2 + c.sum()).backward()
            return [o.detach().numpy(), h.detach().numpy(), c.detach().numpy()] + [t.grad.numpy() for t in ts]
        finally:
            lamina.set_num_threads(old)

    for a, b in zip(run(1), run(2)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)  # GEMM blocking may differ
