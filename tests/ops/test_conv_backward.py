"""conv2d backward paths chosen by shape (cpp/ops/conv2d.cpp, conv2d_weight_grad.cpp), checked
against PyTorch in float32 and float64, with finite differences in float64 where the path also
serves float64, and 1 vs 2 threads bit-identical.

- The float32 stride-1 data grad on the channels-blocked kernel (conv2d_cblocked.cpp): taken where
  the forward's rule would take that geometry (e.g. 'same'-padded k3/k5 layers with whole channel
  blocks at AVX2 and AVX-512, CIFAR's second conv among them); LAMINA_CONV2D_CBLOCKED=1 forces it
  for every one-group float32 data grad, so the awkward shapes below run it at every level.
- The direct weight grad (no column matrix) and its bias grad summed from the same dy rows.
"""
import lamina
import lamina.nn.functional as F
import numpy as np
import pytest
from helpers import check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _grads(x, w, b, dy, kw, threads):
    old = lamina.get_num_threads()
    try:
        lamina.set_num_threads(threads)
        xt = lamina.tensor(x, requires_grad=True)
        wt = lamina.tensor(w, requires_grad=True)
        bt = lamina.tensor(b, requires_grad=True) if b is not None else None
        F.conv2d(xt, wt, bt, **kw).backward(lamina.tensor(dy))
        return xt.grad.numpy(), wt.grad.numpy(), (bt.grad.numpy() if b is not None else None)
    finally:
        lamina.set_num_threads(old)


def _torch_grads(x, w, b, dy, kw):
    xt = torch.from_numpy(x).double().requires_grad_()
    wt = torch.from_numpy(w).double().requires_grad_()
    bt = torch.from_numpy(b).double().requires_grad_() if b is not None else None
    TF.conv2d(xt, wt, bt, **kw).backward(torch.from_numpy(dy).double())
    return xt.grad.numpy(), wt.grad.numpy(), (bt.grad.numpy() if b is not None else None)


def _check_threads_and_torch(xs, ws, bias, kw, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) * 0.1).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32) if bias else None
    out_shape = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), **kw).shape
    dy = rng.standard_normal(tuple(out_shape)).astype(np.float32)
    g1, g2 = _grads(x, w, b, dy, kw, 1), _grads(x, w, b, dy, kw, 2)
    ref = _torch_grads(x, w, b, dy, kw)
    for a, c, r in zip(g1, g2, ref):
        if r is None:
            continue
        np.testing.assert_array_equal(a, c)
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-3)


# Data grads the rule sends to the channels-blocked kernel at AVX2 / AVX-512 (conv2d_direct.cpp at
# the baseline level): bench row d, an 8x8 one with 128 -> 64 channels, k5 p2.
RULE_CASES = [
    ((4, 32, 16, 16), (64, 32, 3, 3), True, {"padding": 1}),
    ((3, 64, 8, 8), (128, 64, 3, 3), False, {"padding": 1}),
    ((2, 48, 13, 11), (64, 48, 3, 3), True, {"padding": 1}),   # odd sizes, 3 x 16 channels
    ((2, 32, 9, 12), (64, 32, 5, 5), True, {"padding": 2}),    # k5 p2
]


@pytest.mark.parametrize("xs,ws,bias,kw", RULE_CASES)
def test_conv2d_data_grad_rule(monkeypatch, xs, ws, bias, kw):
    monkeypatch.delenv("LAMINA_CONV2D_CBLOCKED", raising=False)
    _check_threads_and_torch(xs, ws, bias, kw)


# Awkward stride-1 data grads forced onto the channels-blocked kernel: dx channels off the vector
# width (a partial block), one channel, dilation, padding 0 (dx pads by k-1), asymmetric padding
# and kernels, rows shorter than a register block, 1-wide images.
FORCED_CASES = [
    ((2, 20, 7, 9), (64, 20, 3, 3), True, {"padding": 1}),
    ((1, 1, 6, 5), (16, 1, 3, 3), False, {"padding": 1}),
    ((2, 17, 9, 10), (33, 17, 3, 3), True, {"padding": 2, "dilation": 2}),
    ((3, 8, 6, 7), (24, 8, 3, 3), False, {}),
    ((1, 35, 10, 21), (16, 35, 2, 5), True, {"padding": (1, 2)}),
    ((2, 16, 5, 1), (32, 16, 3, 1), False, {"padding": (1, 0)}),
    ((2, 40, 3, 2), (70, 40, 3, 3), True, {"padding": 1}),
]


@pytest.mark.parametrize("xs,ws,bias,kw", FORCED_CASES)
def test_conv2d_data_grad_cblocked_forced(monkeypatch, xs, ws, bias, kw):
    monkeypatch.setenv("LAMINA_CONV2D_CBLOCKED", "1")
    _check_threads_and_torch(xs, ws, bias, kw, seed=1)
    # float32 and float64 against torch (float64 keeps conv2d_direct.cpp), with finite differences
    check_op(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), [xs, ws],
             fd=xs[0] * xs[1] * xs[2] * xs[3] <= 300)


def test_conv2d_data_grad_cblocked_off_matches_on(monkeypatch):
    """The override's two settings give the same data grad (to float32 rounding) on a rule layer."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 32, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((64, 32, 3, 3)) * 0.1).astype(np.float32)
    dy = rng.standard_normal((2, 64, 16, 16)).astype(np.float32)
    outs = []
    for v in ("0", "1"):
        monkeypatch.setenv("LAMINA_CONV2D_CBLOCKED", v)
        outs.append(_grads(x, w, None, dy, {"padding": 1}, 1)[0])
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-4)


# Strided data grads (im2col + GEMM, then col2im): col2im's stride-2 rows are added as vectors at
# AVX2 / AVX-512 (full spans, then an AVX-512 masked or AVX2 scalar tail), so rows of 1 to 40
# output columns cover every tail; stride 3 and float64 keep the scalar loop. Images of >= 512
# output positions are a chunk of their own (the last two; bench f's shape scaled down).
STRIDED_CASES = [
    ((2, 3, 5, 3), (4, 3, 3, 3), True, {"stride": 2, "padding": 1}),            # rows of 2
    ((1, 4, 9, 17), (5, 4, 3, 3), False, {"stride": 2, "padding": 1}),           # 9 wide: 8 + 1
    ((2, 3, 11, 34), (6, 3, 3, 3), True, {"stride": 2}),                         # 16 wide
    ((1, 2, 7, 35), (3, 2, 3, 3), True, {"stride": 2, "padding": 1}),            # 18 wide
    ((1, 2, 6, 80), (3, 2, 4, 4), False, {"stride": 2, "padding": 2, "dilation": 2}),  # 40 wide
    ((2, 3, 8, 30), (4, 3, 3, 3), True, {"stride": 3, "padding": 1}),            # stride 3
    ((2, 8, 58, 58), (16, 8, 3, 3), True, {"stride": 2, "padding": 1}),          # 841 positions
    ((3, 16, 120, 60), (8, 16, 3, 3), False, {"stride": 2, "padding": 1}),       # 1800 positions
]


@pytest.mark.parametrize("xs,ws,bias,kw", STRIDED_CASES)
def test_conv2d_data_grad_strided(xs, ws, bias, kw):
    _check_threads_and_torch(xs, ws, bias, kw, seed=3)
    if xs[0] * xs[1] * xs[2] * xs[3] <= 400:
        check_op(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), [xs, ws])
    else:  # float64 through the same path against torch
        rng = np.random.default_rng(4)
        x = rng.standard_normal(xs)
        w = rng.standard_normal(ws)
        dy = rng.standard_normal(tuple(TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), **kw).shape))
        got = _grads(x, w, None, dy, kw, 1)
        ref = _torch_grads(x, w, None, dy, kw)
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-10, atol=1e-10)
