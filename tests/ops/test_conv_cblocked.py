"""conv2d forward through the channels-blocked float32 kernel (cpp/ops/conv2d_cblocked.cpp) against
PyTorch, float32 and float64 (float64 always keeps conv2d_direct.cpp / im2col + GEMM), with the
backward as well.

LAMINA_CONV2D_CBLOCKED=1 sends every float32 one-group forward to the kernel, at every ISA level
(the baseline level included), so these shapes test the kernel itself; without it conv2d.cpp's
rule picks it for a few measured layer types only (test_conv2d_cblocked_rule). The shapes are the
prototype's awkward ones (session 11, /tmp/s11/cb/cbtest.cpp) and edge cases: output channels off
the vector width (partial channel blocks), one input channel, channel chunks of 16 with a ragged
last chunk, padding 0..4 (wider than the kernel), stride 2 and 3, dilation (rows, columns), 1x1,
1-wide rows and outputs, rows of fewer positions than a register block, several row bands; the edge
kernels of k3 p1 / k5 p2 rows (stride 1 and 2, one block per row) and the strips of other paddings.
"""
import lamina
import lamina.nn.functional as F
import numpy as np
import pytest
from helpers import check_conv2d_thread_bits, check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CBLOCKED_CASES = [
    # (input, weight, kwargs)
    ((2, 3, 7, 9), (20, 3, 3, 3), {"padding": 1}),                             # OC 20: a partial block
    ((1, 5, 11, 13), (33, 5, 5, 5), {"stride": 2, "padding": 2}),              # k5 s2 p2, OC 33
    ((3, 17, 6, 5), (8, 17, 1, 1), {}),                                        # 1x1, C 17: two chunks
    ((1, 4, 9, 10), (16, 4, 3, 3), {"padding": 2, "dilation": 2}),             # dilation 2
    ((2, 2, 5, 4), (40, 2, 3, 3), {"padding": (4, 3)}),                        # padding > kernel
    ((1, 19, 1, 23), (17, 19, 1, 3), {"padding": (0, 1)}),                     # one-row image, OC 17
    ((1, 6, 15, 31), (64, 6, 3, 3), {"stride": 3, "padding": 1}),              # stride 3
    ((2, 33, 12, 12), (48, 33, 7, 7), {"stride": (2, 1), "padding": 3, "dilation": (1, 2)}),  # k7, C 33
    ((1, 1, 3, 3), (1, 1, 3, 3), {"padding": 1}),                              # C = OC = 1
    ((1, 8, 4, 40), (24, 8, 2, 5), {"stride": (1, 3), "padding": (1, 2)}),     # k2x5 s(1,3)
    ((2, 16, 8, 8), (64, 16, 3, 3), {"stride": 2, "padding": 1}),              # 4 output positions
    ((1, 35, 3, 2), (70, 35, 3, 3), {"padding": 1}),                           # 2-wide rows, OC 70
    # edge cases
    ((2, 5, 6, 3), (12, 5, 3, 3), {}),                                         # OW = 1, p0
    ((1, 35, 3, 2), (70, 35, 3, 3), {"stride": 2, "padding": 1}),              # OW = 1, OC 70
    ((2, 8, 9, 9), (24, 8, 3, 3), {"stride": 2}),                              # stride 2, p0
    ((1, 35, 10, 21), (16, 35, 3, 3), {"padding": 1}),                         # OC 16, 3 chunks
    ((2, 6, 12, 12), (16, 6, 5, 5), {}),                                       # LeNet's second conv (row b)
    ((1, 7, 9, 30), (5, 7, 3, 4), {"padding": 2}),                             # OC 5, k3x4 p2
    ((1, 4, 7, 33), (9, 4, 3, 3), {"stride": 2, "padding": 1, "dilation": (1, 3)}),  # column dilation, s2
    ((2, 3, 12, 1200), (20, 3, 3, 3), {"stride": 2, "padding": 1}),           # several row bands
    ((4, 8, 20, 3), (36, 8, 3, 3), {"stride": 2, "padding": 1}),              # 2-wide rows, OC 36
    # edge kernels (the taps left of / right of the image left out at compile time) and the strips
    # they replace where there is none
    ((2, 9, 5, 29), (32, 9, 3, 3), {"padding": 1}),                            # k3 p1: first / last block
    ((1, 40, 6, 56), (64, 40, 3, 3), {"padding": 1}),                          # conv e's rows, 3 chunks
    ((1, 4, 4, 5), (16, 4, 3, 3), {"padding": 1}),                             # one block, both edges
    ((1, 7, 9, 31), (32, 7, 3, 3), {"stride": 2, "padding": 1}),               # s2, odd W: right edge
    ((2, 6, 7, 23), (16, 6, 5, 5), {"padding": 2}),                            # k5 p2
    ((1, 3, 5, 6), (8, 3, 5, 5), {"padding": 2}),                              # k5 p2, one block
    ((1, 5, 8, 19), (16, 5, 5, 5), {"padding": 1}),                            # k5 p1: strips
    ((1, 5, 8, 19), (16, 5, 3, 3), {"padding": 2}),                            # k3 p2: strips
    ((1, 6, 5, 40), (32, 6, 3, 3), {"padding": (1, 0)}),                       # k3, no column padding
]


@pytest.fixture
def cblocked(monkeypatch):
    monkeypatch.setenv("LAMINA_CONV2D_CBLOCKED", "1")


@pytest.mark.parametrize("xs,ws,kw", CBLOCKED_CASES)
def test_conv2d_cblocked(cblocked, xs, ws, kw):
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
             [xs, ws, (ws[0],)], fd=False)


# Layers the rule itself sends to the kernel at AVX2 / AVX-512 (strided with whole channel blocks,
# small unpadded OC 16), and ones it keeps elsewhere; without the override every path must match.
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 32, 14, 14), (64, 32, 3, 3), {"stride": 2, "padding": 1}),
    ((3, 6, 12, 12), (16, 6, 5, 5), {}),
    ((2, 16, 10, 10), (16, 16, 3, 3), {"padding": 1}),
    ((2, 32, 16, 16), (64, 32, 3, 3), {"padding": 1}),     # "same"-padded stride 1 (conv d)
    ((2, 32, 12, 13), (64, 32, 5, 5), {"padding": 2}),     # k5 p2
    ((1, 64, 9, 40), (64, 64, 3, 3), {"padding": 1}),      # 40-wide rows
    ((1, 64, 5, 60), (64, 64, 3, 3), {"padding": 1}),      # 60-wide rows: conv2d_direct.cpp
])
def test_conv2d_cblocked_rule(monkeypatch, xs, ws, kw):
    monkeypatch.delenv("LAMINA_CONV2D_CBLOCKED", raising=False)
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
             [xs, ws, (ws[0],)], fd=False)


def test_conv2d_cblocked_off_matches_on(monkeypatch):
    """The override's two settings give the same values (to float32 rounding) on a rule layer."""
    rng = np.random.default_rng(1)
    x = lamina.tensor(rng.standard_normal((2, 32, 14, 14)).astype(np.float32))
    w = lamina.tensor(rng.standard_normal((64, 32, 3, 3)).astype(np.float32))
    outs = []
    for v in ("0", "1"):
        monkeypatch.setenv("LAMINA_CONV2D_CBLOCKED", v)
        outs.append(F.conv2d(x, w, stride=2, padding=1).numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("xs,ws,kw", [CBLOCKED_CASES[1], CBLOCKED_CASES[6], CBLOCKED_CASES[15]])
def test_conv2d_cblocked_no_bias(cblocked, xs, ws, kw):
    check_op(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), [xs, ws], fd=False)


@pytest.mark.parametrize("xs,ws,kw", [
    ((1, 8, 20, 300), (40, 8, 3, 3), {"stride": 2, "padding": 1}),   # one image: (block, band) tasks
    ((5, 16, 14, 14), (20, 16, 3, 3), {"stride": 2, "padding": 1}),  # images and channel blocks
    ((3, 6, 12, 12), (16, 6, 5, 5), {}),                             # small OC
])
def test_conv2d_cblocked_threads_bit_identical(cblocked, xs, ws, kw):
    """Each output is summed in one fixed order whatever the split over (image, channel block,
    row band) tasks, so 1 and 2 threads give the same bits."""
    check_conv2d_thread_bits(xs, ws, kw)
