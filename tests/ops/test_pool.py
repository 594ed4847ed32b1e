"""max / avg / adaptive pooling against PyTorch (values, indices, gradients) and float64 finite
differences on tie-free inputs; every argument error with its output-size arithmetic."""
import re

import lamina
import lamina.nn.functional as F
import numpy as np
import pytest
from helpers import check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def perm(shape):
    """Distinct values (a scaled random permutation): no ties, so max-pool has one argmax and
    finite differences stay away from kinks."""
    n = int(np.prod(shape))
    return lambda rng: (rng.permutation(n).reshape(shape) / n - 0.5) * 4


MAX2D_CASES = [
    ((2, 3, 8, 6), {"kernel_size": 2}),                                  # 2x2 stride 2 fast path
    ((1, 2, 7, 5), {"kernel_size": 2}),                                  # fast path, odd sizes
    ((2, 2, 7, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ((1, 2, 6, 7), {"kernel_size": (3, 2), "stride": (2, 1)}),           # non-square
    ((1, 2, 9, 8), {"kernel_size": 2, "stride": 3}),                     # stride > kernel
    ((1, 2, 9, 9), {"kernel_size": 3, "dilation": 2, "padding": 1}),
    ((1, 2, 7, 7), {"kernel_size": 2, "ceil_mode": True}),               # partial last window
    ((1, 2, 8, 9), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ((3, 7, 6), {"kernel_size": 2, "stride": 1}),                        # unbatched, overlapping
]


@pytest.mark.parametrize("xs,kw", MAX2D_CASES)
def test_max_pool2d(xs, kw):
    check_op(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), [perm(xs)])


@pytest.mark.parametrize("xs,kw", [MAX2D_CASES[0], MAX2D_CASES[2], MAX2D_CASES[7]])
def test_max_pool2d_indices(xs, kw):
    check_op(lambda x: F.max_pool2d(x, return_indices=True, **kw),
             lambda x: TF.max_pool2d(x, return_indices=True, **kw), [perm(xs)], noncontig=True)


def test_max_pool2d_ties_take_first():
    """Constant and blocky inputs: indices and gradients go to the first maximum, like torch."""
    for k, s in ((2, 2), (3, 1)):
        check_op(lambda x: F.max_pool2d(x, k, s, return_indices=True),
                 lambda x: TF.max_pool2d(x, k, s, return_indices=True),
                 [lambda rng: np.ones((1, 2, 6, 6))], fd=False)
        check_op(lambda x: F.max_pool2d(x, k, s, return_indices=True),
                 lambda x: TF.max_pool2d(x, k, s, return_indices=True),
                 [lambda rng: rng.integers(0, 3, (2, 2, 7, 6)).astype(float)], fd=False)


def test_max_pool2d_nan_propagates():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 3, 3] = np.nan
    for k, s in ((2, 2), (3, 1)):
        lo, li = F.max_pool2d(lamina.tensor(x), k, s, return_indices=True)
        to, ti = TF.max_pool2d(torch.from_numpy(x), k, s, return_indices=True)
        np.testing.assert_array_equal(lo.numpy(), to.numpy())
        np.testing.assert_array_equal(li.numpy(), ti.numpy())


def test_max_pool2d_many_planes_threads():
    check_op(lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True),
             lambda x: TF.max_pool2d(x, 3, 2, 1, return_indices=True), [perm((4, 16, 33, 32))],
             fd=False, dtypes=("float32",))
    check_op(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [perm((4, 16, 32, 32))],
             fd=False, dtypes=("float32",))


def test_max_pool1d():
    kw = {"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True}
    check_op(lambda x: F.max_pool1d(x, **kw), lambda x: TF.max_pool1d(x, **kw), [perm((2, 3, 9))])
    check_op(lambda x: F.max_pool1d(x, 2, ceil_mode=True), lambda x: TF.max_pool1d(x, 2, ceil_mode=True),
             [perm((3, 7))])
    check_op(lambda x: F.max_pool1d(x, 2, dilation=2), lambda x: torch.max_pool1d(x, 2, dilation=2),
             [perm((2, 2, 8))])


AVG2D_CASES = [
    ((2, 3, 8, 6), {"kernel_size": 2}),
    ((1, 2, 7, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ((1, 2, 7, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    ((1, 2, 8, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ((1, 2, 8, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}),
    ((1, 2, 7, 5), {"kernel_size": 2, "ceil_mode": True}),
    ((1, 2, 6, 7), {"kernel_size": (3, 2), "stride": (1, 3)}),
    ((2, 5, 5), {"kernel_size": 2, "stride": 1, "divisor_override": 3}),  # unbatched
    ((1, 2, 6, 6), {"kernel_size": 2, "stride": 3, "padding": 1, "divisor_override": 2}),
]


@pytest.mark.parametrize("xs,kw", AVG2D_CASES)
def test_avg_pool2d(xs, kw):
    check_op(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), [xs])


def test_avg_pool2d_noncontiguous():
    check_op(lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: TF.avg_pool2d(x, 3, 2, 1), [(2, 3, 7, 6)],
             noncontig=True, fd=False)


def test_avg_pool1d():
    check_op(lambda x: F.avg_pool1d(x, 3, 2, 1), lambda x: TF.avg_pool1d(x, 3, 2, 1), [(2, 3, 9)])
    kw = {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}
    check_op(lambda x: F.avg_pool1d(x, **kw), lambda x: torch.avg_pool1d(x, **kw), [(3, 8)])


@pytest.mark.parametrize("xs,os", [((2, 3, 7, 9), (3, 4)), ((1, 2, 6, 6), 3), ((1, 2, 5, 7), (None, 2)),
                                   ((2, 4, 3), (5, 2)), ((1, 2, 6, 5), 1)])
def test_adaptive_avg_pool2d(xs, os):
    check_op(lambda x: F.adaptive_avg_pool2d(x, os), lambda x: TF.adaptive_avg_pool2d(x, os), [xs])


@pytest.mark.parametrize("xs,os", [((2, 3, 7, 9), (3, 4)), ((1, 2, 3, 4), (5, None)), ((2, 5, 6), 2)])
def test_adaptive_max_pool2d(xs, os):
    check_op(lambda x: F.adaptive_max_pool2d(x, os, return_indices=True),
             lambda x: TF.adaptive_max_pool2d(x, os, return_indices=True), [perm(xs)])


def test_exports():
    assert set(lamina.ops.pool.__all__) <= {n for n in dir(torch)}
    for n in ("max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"):
        assert getattr(F, n) is getattr(lamina.ops.pool, n)


# ---- errors ----

def _raises(exc, msg, fn, *a, **k):
    with pytest.raises(exc, match=re.escape(msg)):
        fn(*a, **k)


def test_error_padding_more_than_half_kernel():
    _raises(ValueError, "max_pool2d: padding 2 must be at most half the kernel size 3 (3 // 2 = 1), got input "
            "1x1x8x8", F.max_pool2d, lamina.randn(1, 1, 8, 8), 3, padding=2)
    _raises(ValueError, "avg_pool2d: padding (1, 2) must be at most half the kernel size 2 (2 // 2 = 1)",
            F.avg_pool2d, lamina.randn(1, 1, 8, 8), 2, padding=(1, 2))


def test_error_kernel_larger_than_input():
    _raises(ValueError, "max_pool2d: input 1x1x2x2, kernel 3x3, stride 3, padding 0, dilation 1 -> output height "
            "floor((2 - 3 + 2*0) / 3) + 1 = 0: kernel 3x3 is larger than the padded input 2x2 (H + 2*padding); "
            "add padding or use a smaller kernel", F.max_pool2d, lamina.randn(1, 1, 2, 2), 3)
    _raises(ValueError, "avg_pool2d: input 1x1x4x2, kernel 3x3, stride 1, padding 0, ceil_mode -> output width "
            "ceil((2 - 3 + 2*0) / 1) + 1 = 0: kernel 3x3 is larger than the padded input 4x2 (W + 2*padding)",
            F.avg_pool2d, lamina.randn(1, 1, 4, 2), 3, 1, ceil_mode=True)
    _raises(ValueError, "max_pool1d: input 1x2x3, kernel 2, stride 2, padding 0, dilation 3 -> output length "
            "floor((3 + 2*0 - 3*(2 - 1) - 1) / 2) + 1 = 0: dilated kernel 4 (dilation*(kernel-1)+1) is larger "
            "than the padded input 3 (L + 2*padding)", F.max_pool1d, lamina.randn(1, 2, 3), 2, dilation=3)


def test_error_rank_values_dtype():
    _raises(ValueError, "max_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got input of shape 8x8 (2-D)",
            F.max_pool2d, lamina.randn(8, 8), 2)
    _raises(ValueError, "max_pool2d: stride must be positive, got stride 0", F.max_pool2d, lamina.randn(1, 8, 8), 2, 0)
    _raises(ValueError, "max_pool2d: kernel_size must be positive, got kernel_size (0, 2)",
            F.max_pool2d, lamina.randn(1, 8, 8), (0, 2))
    _raises(ValueError, "max_pool2d: dilation must be positive, got dilation 0",
            F.max_pool2d, lamina.randn(1, 8, 8), 2, dilation=0)
    _raises(ValueError, "avg_pool2d: padding must be non-negative, got padding -1",
            F.avg_pool2d, lamina.randn(1, 8, 8), 2, padding=-1)
    _raises(ValueError, "avg_pool2d: divisor_override must be positive, got 0",
            F.avg_pool2d, lamina.randn(1, 8, 8), 2, divisor_override=0)
    _raises(TypeError, "max_pool2d: expected a floating-point input (float32 or float64), got int64",
            F.max_pool2d, lamina.zeros(1, 4, 4, dtype=lamina.int64), 2)
    _raises(ValueError, "adaptive_avg_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got input of "
            "shape 4x4 (2-D)", F.adaptive_avg_pool2d, lamina.randn(4, 4), 2)
    _raises(ValueError, "adaptive_max_pool2d: output_size must be non-negative, got (-1, 2)",
            F.adaptive_max_pool2d, lamina.randn(1, 4, 4), (-1, 2))


# The 2x2 / stride 2 path without indices has its own kernels (values only, argmax found again in
# backward); check odd sizes, ties, NaN and 3-D input against torch explicitly.
@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (1, 1, 2, 2), (3, 5, 4)])
def test_max_pool2x2_fast_path(shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[::5] = x.reshape(-1)[1::5][: x.reshape(-1)[::5].size]  # some ties
    lx = lamina.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    lo, to = lamina.nn.functional.max_pool2d(lx, 2), torch.nn.functional.max_pool2d(tx, 2)
    np.testing.assert_array_equal(lo.detach().numpy(), to.detach().numpy())
    g = rng.standard_normal(to.shape).astype(np.float32)
    lo.backward(lamina.tensor(g))
    to.backward(torch.tensor(g))
    np.testing.assert_array_equal(lx.grad.numpy(), tx.grad.numpy())


def test_max_pool2x2_fast_path_nan():
    torch = pytest.importorskip("torch")
    x = np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4)
    x[0, 0, 1, 1] = np.nan
    x[0, 1, 2, 3] = np.nan
    lx, tx = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lo, to = lamina.nn.functional.max_pool2d(lx, 2), torch.nn.functional.max_pool2d(tx, 2)
    np.testing.assert_array_equal(lo.detach().numpy(), to.detach().numpy())
    lo.sum().backward()
    to.sum().backward()
    np.testing.assert_array_equal(lx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 1, "padding": 1},
    {"kernel_size": (2, 4), "stride": 3, "padding": (1, 2)},
    {"kernel_size": 3, "stride": 2, "dilation": 2, "padding": 1},
    {"kernel_size": 5, "stride": 2},
])
def test_max_pool2d_interior_columns_nan_and_ties(dtype, kw):
    """Rows wide enough for the column-vectorised interior loop (pool_max_plane.h): values drawn
    from few levels (many ties) with NaNs sprinkled in; values and indices equal PyTorch's."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, size=(2, 3, 11, 53)).astype(dtype)
    x[rng.random(x.shape) < 0.02] = np.nan
    x[0, 0, 3, :] = -np.inf
    lv, li = F.max_pool2d(lamina.tensor(x), return_indices=True, **kw)
    tv, ti = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(li.numpy(), ti.numpy())
    np.testing.assert_array_equal(lv.numpy(), tv.numpy())
