"""conv1d / conv2d / conv_transpose1d / conv_transpose2d against PyTorch (values and dX, dW, db)
and float64 finite differences; every argument error with its output-size arithmetic."""
import re

import lamina
import lamina.nn.functional as F
import numpy as np
import pytest
from helpers import check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _conv_case(lfn, tfn, xs, ws, bias, kw, noncontig=False, fd=True):
    specs = [xs, ws] + ([(ws[0] if lfn is F.conv2d or lfn is F.conv1d else ws[1] * kw.get("groups", 1),)]
                        if bias else [])
    if bias:
        check_op(lambda x, w, b: lfn(x, w, b, **kw), lambda x, w, b: tfn(x, w, b, **kw), specs,
                 noncontig=noncontig, fd=fd)
    else:
        check_op(lambda x, w: lfn(x, w, **kw), lambda x, w: tfn(x, w, **kw), specs, noncontig=noncontig, fd=fd)


CONV2D_CASES = [
    # (input, weight, bias, kwargs)
    ((2, 3, 7, 7), (4, 3, 3, 3), True, {}),
    ((2, 3, 9, 8), (4, 3, 2, 2), True, {"stride": 3}),                      # stride > kernel
    ((1, 2, 5, 6), (3, 2, 3, 3), True, {"padding": 1}),                     # batch 1, padding
    ((2, 3, 7, 9), (4, 3, 3, 2), True, {"stride": (2, 1), "padding": (1, 0)}),  # non-square
    ((1, 2, 9, 9), (3, 2, 3, 3), False, {"dilation": 2, "padding": 2}),     # dilation
    ((1, 2, 8, 7), (2, 2, 2, 3), True, {"dilation": (2, 1), "stride": (1, 2)}),
    ((2, 4, 6, 5), (6, 2, 3, 3), True, {"groups": 2}),                      # groups
    ((2, 4, 6, 6), (4, 1, 3, 3), True, {"groups": 4, "padding": 1}),        # depthwise
    ((1, 3, 5, 5), (6, 1, 3, 3), False, {"groups": 3}),                     # depth multiplier
    ((2, 5, 4, 3), (3, 5, 1, 1), True, {}),                                 # 1x1, skips im2col
    ((2, 5, 5, 5), (3, 5, 1, 1), False, {"stride": 2}),                     # 1x1 strided
    ((1, 2, 6, 8), (2, 2, 1, 3), True, {"padding": (0, 1)}),                # non-square kernel
    ((1, 1, 4, 4), (2, 1, 2, 2), True, {"padding": 3}),                     # padding > kernel
    ((3, 3, 5, 5), (4, 3, 5, 5), True, {}),                                 # kernel == input
    ((1, 2, 1, 9), (2, 2, 1, 3), True, {"stride": 2}),                      # height 1
]


@pytest.mark.parametrize("xs,ws,bias,kw", CONV2D_CASES)
def test_conv2d(xs, ws, bias, kw):
    _conv_case(F.conv2d, TF.conv2d, xs, ws, bias, kw)


# Most forwards take the direct kernel (conv2d_direct.cpp): register blocks of 6-12 (AVX-512) or
# 4-6 (AVX2) output channels by 2-4 vectors of output positions, over either the padded image's
# rows laid end to end ("wide", stride 1) or KW column-shifted copies of it ("shifted", any stride);
# a cost rule picks the layout, the block and direct vs im2col + GEMM per shape. These cover
# channel counts off the block sizes, several position blocks with a ragged last one, wide padding
# columns, dilation, groups, strides, 1x1 read in place (the last image copied when the ragged
# block would read past the input), and a larger C*KH*KW (several passes over the taps). A
# stride-1 data grad is the same kernel on the flipped weights (padding d*(k-1) - p), so dx of
# these shapes checks it too; no finite differences.
DIRECT_CASES = [
    ((3, 6, 12, 12), (16, 6, 5, 5), True, {}),                              # LeNet's second conv
    ((2, 5, 13, 11), (17, 5, 3, 3), True, {"padding": 1}),                  # 17 = 2 blocks + 1
    ((2, 7, 20, 21), (10, 7, 3, 3), False, {"padding": (2, 3), "dilation": (2, 1)}),
    ((2, 8, 9, 10), (12, 4, 3, 2), True, {"groups": 2, "padding": (1, 2)}),  # 6 per group
    ((4, 16, 8, 8), (9, 16, 1, 1), True, {}),                               # 1x1 over a batch
    ((1, 40, 6, 7), (3, 40, 3, 3), True, {"padding": 1}),                   # K = 360
    ((2, 3, 1, 40), (5, 3, 1, 4), True, {"dilation": (1, 3), "padding": (0, 2)}),
    ((2, 5, 11, 13), (13, 5, 3, 3), True, {"stride": 2, "padding": 1}),     # strided, 13 channels
    ((1, 3, 10, 9), (7, 3, 3, 2), True, {"stride": (2, 3), "padding": (1, 0), "dilation": (2, 1)}),
    ((2, 6, 12, 12), (16, 3, 5, 5), True, {"groups": 2, "stride": 2}),      # groups, strided
    ((3, 4, 7, 7), (8, 4, 3, 3), True, {"padding": (1, 0)}),                # no dead columns
    ((3, 16, 5, 7), (20, 16, 1, 1), True, {}),                              # 1x1, 35 positions
    ((1, 16, 5, 7), (20, 16, 1, 1), False, {}),                             # 1x1, batch of 1
    ((2, 70, 9, 9), (24, 70, 3, 3), True, {"padding": 1}),                  # 3 passes over the taps
    ((2, 1, 11, 10), (6, 1, 5, 5), True, {}),                               # dx: 1-channel blocks
    ((1, 2, 9, 8), (5, 2, 3, 3), True, {"padding": 2, "dilation": 2}),      # dx padding d*(k-1)-p = 2
    # strided layout over 256 KB: bands of position blocks (ragged last block), a partial channel
    # block, the vectorised stride-2 column copy
    ((2, 64, 40, 40), (20, 64, 3, 3), True, {"stride": 2, "padding": 1}),
    # masked row gathers of the shifted layout (conv2d_layout.h): rows over two vectors, padding
    # on both edges wider than one column, stride 1 / 2 / 3, odd widths
    ((2, 3, 6, 71), (5, 3, 3, 5), True, {"stride": (1, 2), "padding": (1, 3)}),
    ((1, 2, 5, 69), (4, 2, 2, 7), True, {"stride": (2, 1), "padding": (0, 4)}),
    ((1, 3, 7, 50), (6, 3, 3, 4), False, {"stride": 3, "padding": 2, "dilation": (1, 2)}),
    # wide scratch beyond 64 KB: copied to the output block by block after each block's last pass
    # (at both levels and dtypes: output rows split across position blocks, 13 = a partial channel
    # block, 67-wide rows with masked tails, a ragged last block); 35 channels: 2-4 tap passes
    ((1, 16, 66, 67), (13, 16, 3, 3), True, {"padding": 1}),
    ((1, 35, 40, 67), (9, 35, 3, 3), True, {"padding": (2, 1), "dilation": (2, 1)}),
    # wide rows of W + pw (a row's right padding is the next row's left padding): k3 p2 makes them
    # exactly OW long, so blocks store straight out; the larger one in two position bands
    ((2, 5, 10, 9), (7, 5, 3, 3), True, {"padding": 2}),
    ((1, 48, 36, 45), (20, 48, 3, 3), False, {"padding": 2}),
    ((2, 3, 5, 6), (4, 3, 2, 2), True, {"padding": (1, 3)}),               # padding wider than the kernel
    # shifted rows of two vectors at AVX-512 (masks kept over a kernel column's rows): column
    # stride 1 and 2, padding rows above and below wider than the row stride
    ((2, 3, 9, 22), (5, 3, 3, 3), True, {"stride": (2, 1), "padding": 1}),
    ((2, 4, 11, 40), (6, 4, 5, 3), True, {"stride": (3, 2), "padding": (4, 1)}),
]


@pytest.mark.parametrize("xs,ws,bias,kw", DIRECT_CASES)
def test_conv2d_direct_paths(xs, ws, bias, kw):
    _conv_case(F.conv2d, TF.conv2d, xs, ws, bias, kw, fd=False)


def test_conv2d_im2col_forward():
    """A layer the cost rule sends to im2col + GEMM at the AVX2 and AVX-512 levels (large OC and
    C*KH*KW, strided, an input too large for the shifted layout to stay in L2)."""
    _conv_case(F.conv2d, TF.conv2d, (1, 128, 46, 46), (256, 128, 3, 3), True, {"stride": 2, "padding": 1},
               fd=False)


@pytest.mark.parametrize("threads", [1, 2])
def test_conv2d_direct_threads(threads):
    """Direct forward with tasks (image, channel block) split across threads mid-image."""
    old = lamina.get_num_threads()
    lamina.set_num_threads(threads)
    try:
        _conv_case(F.conv2d, TF.conv2d, (3, 8, 9, 9), (20, 8, 3, 3), True, {"padding": 1}, fd=False)
        _conv_case(F.conv2d, TF.conv2d, (3, 8, 9, 9), (20, 8, 3, 3), True, {"stride": 2, "padding": 1},
                   fd=False)
        _conv_case(F.conv2d, TF.conv2d, (5, 16, 5, 7), (20, 16, 1, 1), True, {}, fd=False)
    finally:
        lamina.set_num_threads(old)


# The weight grad of layers whose image fits in cache runs without a column matrix
# (conv2d_weight_grad.cpp): register blocks of 4 (AVX-512) / 3 (AVX2) output channels by 6 / 4 taps
# summing over chunks of ~1024 positions. These take several chunks with a ragged last one,
# positions off the vector width (masked tails), channel and tap counts off the block sizes,
# strides, dilation and groups; the grads are checked against PyTorch (dW against float64).
WEIGHT_GRAD_CASES = [
    ((37, 6, 12, 12), (16, 6, 5, 5), True, {}),                             # 37 images of 64 positions
    ((5, 3, 13, 11), (7, 3, 3, 3), True, {"padding": 1}),                   # 143 positions, 7 = 4 + 3
    ((3, 5, 15, 15), (9, 5, 3, 3), False, {"stride": 2, "dilation": 2, "padding": 2}),
    ((4, 8, 9, 10), (10, 4, 3, 2), True, {"groups": 2, "padding": (1, 2)}),
    ((6, 17, 7, 7), (5, 17, 1, 1), True, {}),                               # 1x1, 17 taps
]


@pytest.mark.parametrize("xs,ws,bias,kw", WEIGHT_GRAD_CASES)
def test_conv2d_weight_grad_direct(xs, ws, bias, kw):
    _conv_case(F.conv2d, TF.conv2d, xs, ws, bias, kw, fd=False)


def test_conv2d_weight_grad_threads_bit_identical():
    """The direct weight grad gives the same bits at 1 and 2 threads (blocks are split across
    threads, each summed in one fixed order)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 6, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    dy = rng.standard_normal((20, 16, 8, 8)).astype(np.float32)
    old = lamina.get_num_threads()
    grads = []
    try:
        for t in (1, 2):
            lamina.set_num_threads(t)
            xt = lamina.tensor(x)
            wt = lamina.tensor(w, requires_grad=True)
            F.conv2d(xt, wt).backward(lamina.tensor(dy))
            grads.append(wt.grad.numpy())
    finally:
        lamina.set_num_threads(old)
    np.testing.assert_array_equal(grads[0], grads[1])
    ref = torch.nn.grad.conv2d_weight(torch.from_numpy(x).double(), w.shape, torch.from_numpy(dy).double())
    np.testing.assert_allclose(grads[0], ref.numpy(), rtol=1e-4, atol=1e-3)


# Weight grads through im2col + GEMM (an image's layout and dy over 1 MB): one image per chunk
# from 512 positions (the 2025 and 841 here once shared column matrices), banded where the columns
# outgrow 1 MB; im2col rows copied as vectors with masked tails (45 and 44 long) and, at stride 2,
# as even-element picks (29 and 28 long: a full step, then a tail); at 1 and 2 threads, the same
# bits at both.
IM2COL_WEIGHT_GRAD_CASES = [
    ((2, 48, 45, 45), (20, 48, 3, 3), True, {"padding": 1}),
    ((3, 64, 57, 57), (20, 64, 3, 3), True, {"stride": 2, "padding": 1}),
    ((2, 64, 57, 57), (12, 64, 3, 3), False, {"stride": 2, "dilation": 2, "padding": 2}),
]


@pytest.mark.parametrize("xs,ws,bias,kw", IM2COL_WEIGHT_GRAD_CASES)
def test_conv2d_weight_grad_im2col(xs, ws, bias, kw):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) * 0.1).astype(np.float32)
    out_shape = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), **kw).shape
    dy = rng.standard_normal(tuple(out_shape)).astype(np.float32)
    old = lamina.get_num_threads()
    got = []
    try:
        for t in (1, 2):
            lamina.set_num_threads(t)
            wt = lamina.tensor(w, requires_grad=True)
            bt = lamina.tensor(np.zeros(ws[0], np.float32), requires_grad=True) if bias else None
            F.conv2d(lamina.tensor(x), wt, bt, **kw).backward(lamina.tensor(dy))
            got.append((wt.grad.numpy(), bt.grad.numpy() if bias else None))
    finally:
        lamina.set_num_threads(old)
    np.testing.assert_array_equal(got[0][0], got[1][0])
    xd, dyd = torch.from_numpy(x).double(), torch.from_numpy(dy).double()
    ref = torch.nn.grad.conv2d_weight(xd, ws, dyd, **kw).numpy()
    np.testing.assert_allclose(got[0][0], ref, rtol=1e-4, atol=1e-3)
    if bias:
        np.testing.assert_array_equal(got[0][1], got[1][1])
        np.testing.assert_allclose(got[0][1], dyd.sum((0, 2, 3)).numpy(), rtol=1e-5, atol=1e-4)
    # float64 through the same path
    wt = lamina.tensor(w.astype(np.float64), requires_grad=True)
    F.conv2d(lamina.tensor(x.astype(np.float64)), wt, **kw).backward(lamina.tensor(dy.astype(np.float64)))
    np.testing.assert_allclose(wt.grad.numpy(), ref, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("xs,ws,bias,kw", [CONV2D_CASES[0], CONV2D_CASES[3], CONV2D_CASES[7], CONV2D_CASES[9]])
def test_conv2d_noncontiguous(xs, ws, bias, kw):
    _conv_case(F.conv2d, TF.conv2d, xs, ws, bias, kw, noncontig=True, fd=False)


def test_conv2d_unbatched():
    _conv_case(F.conv2d, TF.conv2d, (3, 6, 5), (2, 3, 3, 3), True, {"padding": 1})


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("padding,ks", [("same", (3, 3)), ("same", (2, 4)), ("same", (4, 3)), ("valid", (3, 2))])
def test_conv2d_padding_strings(padding, ks):
    _conv_case(F.conv2d, TF.conv2d, (1, 2, 6, 7), (3, 2) + ks, True, {"padding": padding})


@pytest.mark.parametrize("threads", [1, 2])
def test_conv2d_batch_threads(threads):
    """The batch-parallel path (per-thread columns and dW accumulators) and the serial path."""
    old = lamina.get_num_threads()
    lamina.set_num_threads(threads)
    try:
        _conv_case(F.conv2d, TF.conv2d, (5, 3, 10, 9), (4, 3, 3, 3), True, {"padding": 1, "stride": (1, 2)},
                   fd=False)
        _conv_case(F.conv2d, TF.conv2d, (3, 6, 6, 5), (6, 3, 3, 3), True, {"groups": 2}, fd=False)
        _conv_case(F.conv2d, TF.conv2d, (3, 4, 6, 5), (5, 4, 1, 1), True, {}, fd=False)
        _conv_case(F.conv_transpose2d, TF.conv_transpose2d, (4, 3, 5, 4), (3, 2, 3, 3), True, {"stride": 2},
                   fd=False)
    finally:
        lamina.set_num_threads(old)
    assert lamina.get_num_threads() == old


def test_conv2d_larger_float32():
    """A realistic layer (im2col parallel over channels with one image, BLAS threads)."""
    _conv_case(F.conv2d, TF.conv2d, (1, 16, 20, 20), (8, 16, 3, 3), True, {"padding": 1}, fd=False)


def test_conv2d_empty_batch():
    x = lamina.zeros(0, 3, 5, 5, requires_grad=True)
    w = lamina.randn(4, 3, 3, 3, requires_grad=True)
    out = F.conv2d(x, w)
    assert tuple(out.shape) == (0, 4, 3, 3)
    out.sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 5, 5)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((4, 3, 3, 3), np.float32))


def test_conv2d_only_needed_grads():
    x = lamina.randn(2, 3, 5, 5)
    w = lamina.randn(4, 3, 3, 3, requires_grad=True)
    b = lamina.randn(4)
    F.conv2d(x, w, b).sum().backward()
    assert x.grad is None and b.grad is None and w.grad is not None
    tw = torch.from_numpy(w.detach().numpy().copy()).requires_grad_()
    TF.conv2d(torch.from_numpy(x.numpy()), tw, torch.from_numpy(b.numpy())).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-4)


CONV1D_CASES = [
    ((2, 3, 10), (4, 3, 3), True, {"stride": 2, "padding": 1, "dilation": 2}),
    ((1, 4, 9), (6, 2, 3), False, {"groups": 2}),
    ((2, 3, 7), (2, 3, 1), True, {}),
    ((3, 8), (2, 3, 4), True, {"padding": 2}),  # unbatched
    ((1, 2, 8), (3, 2, 4), True, {"padding": "same"}),
]


@pytest.mark.parametrize("xs,ws,bias,kw", CONV1D_CASES)
def test_conv1d(xs, ws, bias, kw):
    _conv_case(F.conv1d, TF.conv1d, xs, ws, bias, kw)


CONVT_CASES = [
    ((2, 4, 5, 5), (4, 3, 3, 3), True, {"stride": 2, "padding": 1, "output_padding": 1}),
    ((2, 4, 4, 3), (4, 2, 3, 3), True, {"groups": 2}),
    ((1, 2, 4, 4), (2, 3, 3, 2), False, {"dilation": 2, "stride": (1, 2)}),
    ((1, 2, 3, 4), (2, 3, 2, 2), True, {"stride": 3}),                     # stride > kernel
    ((2, 3, 4, 3), (3, 2, 1, 1), True, {}),                                # 1x1
    ((3, 4, 4), (3, 2, 3, 3), True, {"padding": 1, "stride": 2, "output_padding": (0, 1)}),  # unbatched
    ((1, 2, 3, 3), (2, 1, 3, 3), True, {"stride": 1, "dilation": 2, "output_padding": 1}),  # op < dilation
]


@pytest.mark.parametrize("xs,ws,bias,kw", CONVT_CASES)
def test_conv_transpose2d(xs, ws, bias, kw):
    _conv_case(F.conv_transpose2d, TF.conv_transpose2d, xs, ws, bias, kw)


def test_conv_transpose2d_stride1_output_padding():
    """Stride 1, dilation 2, output_padding 1: one more output row and column than the direct data
    grad's padding gives, so it must take im2col + GEMM (regression: rows read past the buffer)."""
    _conv_case(F.conv_transpose2d, TF.conv_transpose2d, (2, 3, 6, 5), (3, 4, 3, 3), True,
               {"dilation": 2, "output_padding": 1, "padding": 1}, fd=False)
    _conv_case(F.conv_transpose2d, TF.conv_transpose2d, (2, 3, 6, 5), (3, 4, 3, 3), True,
               {"dilation": 2, "padding": 1}, fd=False)


def test_conv_transpose2d_noncontiguous():
    _conv_case(F.conv_transpose2d, TF.conv_transpose2d, (2, 4, 5, 5), (4, 3, 3, 3), True,
               {"stride": 2, "padding": 1}, noncontig=True, fd=False)


def test_conv_transpose1d():
    _conv_case(F.conv_transpose1d, TF.conv_transpose1d, (2, 4, 6), (4, 3, 3), True,
               {"stride": 2, "padding": 1, "output_padding": 1})
    _conv_case(F.conv_transpose1d, TF.conv_transpose1d, (2, 4, 5), (4, 1, 2), False, {"groups": 2})


def test_top_level_exports():
    assert lamina.nn.functional.conv2d is F.conv2d
    for name in ("conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"):
        assert hasattr(torch, name) and name in lamina.ops.conv.__all__


# ---- errors ----

def _raises(exc, msg, fn, *a, **k):
    with pytest.raises(exc, match=re.escape(msg)):
        fn(*a, **k)


def test_error_kernel_larger_than_padded_input():
    x, w = lamina.randn(1, 3, 3, 3), lamina.randn(4, 3, 5, 5)
    _raises(ValueError, "conv2d: input 1x3x3x3, kernel 5x5, stride 1, padding 0, dilation 1 -> output height "
            "floor((3 - 5 + 2*0) / 1) + 1 = -1: kernel 5x5 is larger than the padded input 3x3 "
            "(H + 2*padding); add padding or use a smaller kernel", F.conv2d, x, w)


def test_error_width_arithmetic_with_stride():
    x, w = lamina.randn(1, 1, 8, 3), lamina.randn(2, 1, 3, 5)
    _raises(ValueError, "conv2d: input 1x1x8x3, kernel 3x5, stride 2, padding 0, dilation 1 -> output width "
            "floor((3 - 5 + 2*0) / 2) + 1 = 0: kernel 3x5 is larger than the padded input 8x3 (W + 2*padding)",
            F.conv2d, x, w, stride=2)


def test_error_dilated_kernel():
    x, w = lamina.randn(1, 1, 5, 5), lamina.randn(2, 1, 3, 3)
    _raises(ValueError, "dilation 3 -> output height floor((5 + 2*0 - 3*(3 - 1) - 1) / 1) + 1 = -1: dilated "
            "kernel 7x7 (dilation*(kernel-1)+1) is larger than the padded input 5x5", F.conv2d, x, w, dilation=3)


def test_error_conv1d_arithmetic():
    _raises(ValueError, "conv1d: input 1x2x3, kernel 5, stride 1, padding 0, dilation 1 -> output length "
            "floor((3 - 5 + 2*0) / 1) + 1 = -1: kernel 5 is larger than the padded input 3 (L + 2*padding)",
            F.conv1d, lamina.randn(1, 2, 3), lamina.randn(2, 2, 5))


def test_error_channel_mismatch():
    x, w = lamina.randn(8, 3, 32, 32), lamina.randn(32, 16, 3, 3)
    _raises(ValueError, "conv2d: expected input with 16 channels (weight 32x16x3x3, groups 1), got input 8x3x32x32",
            F.conv2d, x, w)


def test_error_rank():
    _raises(ValueError, "conv2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got input of shape 7x7 (2-D)",
            F.conv2d, lamina.randn(7, 7), lamina.randn(2, 1, 3, 3))
    _raises(ValueError, "conv2d: expected a 4-D weight (OC, C/groups, KH, KW), got weight of shape 2x1x3 (3-D)",
            F.conv2d, lamina.randn(1, 1, 7, 7), lamina.randn(2, 1, 3))
    _raises(ValueError, "conv1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got input of shape 1x1x7x7 (4-D)",
            F.conv1d, lamina.randn(1, 1, 7, 7), lamina.randn(2, 1, 3))


def test_error_bad_stride_padding_dilation_groups():
    x, w = lamina.randn(1, 2, 7, 7), lamina.randn(2, 2, 3, 3)
    _raises(ValueError, "conv2d: stride must be positive, got stride (0, 1)", F.conv2d, x, w, stride=(0, 1))
    _raises(ValueError, "conv2d: padding must be non-negative, got padding -1", F.conv2d, x, w, padding=-1)
    _raises(ValueError, "conv2d: dilation must be positive, got dilation 0", F.conv2d, x, w, dilation=0)
    _raises(ValueError, "conv2d: groups must be positive, got 0", F.conv2d, x, w, groups=0)
    _raises(ValueError, "conv2d: stride must be an int or a tuple of 2 ints, got (1, 2, 3)", F.conv2d, x, w,
            stride=(1, 2, 3))
    _raises(ValueError, "padding='same' is not supported for strided convolutions", F.conv2d, x, w, stride=2,
            padding="same")
    _raises(ValueError, "conv2d: padding must be 'valid', 'same', an int or a tuple, got 'full'", F.conv2d, x, w,
            padding="full")


def test_error_groups_do_not_divide():
    _raises(ValueError, "conv2d: groups 3 must divide the input channels 4 (input 1x4x5x5)",
            F.conv2d, lamina.randn(1, 4, 5, 5), lamina.randn(6, 2, 3, 3), groups=3)
    _raises(ValueError, "conv2d: groups 3 must divide the output channels 4 (weight 4x2x3x3)",
            F.conv2d, lamina.randn(1, 6, 5, 5), lamina.randn(4, 2, 3, 3), groups=3)


def test_error_dtype_and_bias():
    x = lamina.randn(1, 2, 5, 5)
    w64 = lamina.randn(3, 2, 3, 3, dtype=lamina.float64)
    _raises(TypeError, "conv2d: input and weight must have the same dtype, got input float32 and weight float64",
            F.conv2d, x, w64)
    _raises(TypeError, "conv2d: expected a floating-point input (float32 or float64), got int64",
            F.conv2d, lamina.zeros(1, 2, 5, 5, dtype=lamina.int64), lamina.randn(3, 2, 3, 3))
    _raises(ValueError, "conv2d: expected bias of shape [3], got bias of shape [4]",
            F.conv2d, x, lamina.randn(3, 2, 3, 3), lamina.randn(4))
    _raises(TypeError, "conv2d: expected weight to be a Tensor, got ndarray", F.conv2d, x, np.zeros((3, 2, 3, 3)))


def test_error_conv_transpose():
    x, w = lamina.randn(1, 2, 3, 3), lamina.randn(2, 3, 3, 3)
    _raises(ValueError, "conv_transpose2d: output_padding 2 must be smaller than either stride 2 or dilation 1",
            F.conv_transpose2d, x, w, stride=2, output_padding=2)
    _raises(ValueError, "conv_transpose2d: input 1x2x1x1, kernel 1x1, stride 1, padding 1, dilation 1 -> output "
            "height (1 - 1)*1 - 2*1 + 1*(1 - 1) + 0 + 1 = -1 is not positive; reduce padding",
            F.conv_transpose2d, lamina.randn(1, 2, 1, 1), lamina.randn(2, 3, 1, 1), padding=1)
    _raises(ValueError, "conv_transpose2d: expected input with 2 channels (weight 2x3x3x3, groups 1), got input "
            "1x3x3x3", F.conv_transpose2d, lamina.randn(1, 3, 3, 3), w)
