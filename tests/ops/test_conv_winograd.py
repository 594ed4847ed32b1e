"""conv2d forward through the Winograd F(2x2, 3x3) float32 kernel (cpp/ops/conv2d_winograd.cpp)
against PyTorch (float32) and a float64 reference, with the backward through autograd; and the
stride-1 data grads it computes as forwards of dy with flipped weights, and the weight grads it
computes as the adjoint of its transforms.

LAMINA_CONV2D_WINOGRAD=1 sends every float32 3x3 stride-1 dilation-1 one-group forward to the
kernel at every ISA level (the baseline level included), so these shapes test the kernel itself;
without it conv2d.cpp's rule picks it for the measured layer types only. Awkward shapes: odd output
heights / widths (a last row or column of tiles half outside), channel counts off the vector width,
one image, one channel, padding 0 and wider than the kernel, 1-wide and 2-wide outputs, tile rows
that do not fill a chunk, chunks spanning images.
"""
import lamina
import lamina.nn.functional as F
import numpy as np
import pytest
from helpers import at_thread_counts, check_conv2d_thread_bits, check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional

WINOGRAD_CASES = [
    # (input, weight, kwargs)
    ((2, 3, 7, 9), (20, 3, 3, 3), {"padding": 1}),          # odd OH and OW: partial tiles, OC 20
    ((1, 33, 11, 13), (35, 33, 3, 3), {"padding": 1}),      # C, OC off the vector width, N = 1
    ((3, 17, 6, 5), (8, 17, 3, 3), {}),                     # no padding: 4x3 outputs
    ((2, 5, 4, 4), (9, 5, 3, 3), {"padding": (4, 3)}),      # padding wider than the kernel
    ((1, 1, 3, 3), (1, 1, 3, 3), {"padding": 1}),           # C = OC = 1
    ((2, 7, 3, 3), (6, 7, 3, 3), {}),                       # a single output position
    ((1, 8, 1, 23), (12, 8, 3, 3), {"padding": 1}),         # one-row image
    ((2, 9, 30, 3), (10, 9, 3, 3), {"padding": (1, 0)}),    # OW = 1: one half-used column of tiles
    ((4, 32, 16, 16), (64, 32, 3, 3), {"padding": 1}),      # conv d's layer (rule shape)
    ((1, 40, 6, 56), (64, 40, 3, 3), {"padding": 1}),       # conv e's rows
    ((3, 12, 15, 17), (24, 12, 3, 3), {"padding": (2, 1)}),  # several images per chunk, odd sizes
    ((2, 64, 9, 57), (32, 64, 3, 3), {"padding": 1}),       # 29 tiles a row: vector tails
]


@pytest.fixture
def winograd(monkeypatch):
    monkeypatch.setenv("LAMINA_CONV2D_WINOGRAD", "1")


@pytest.mark.parametrize("xs,ws,kw", WINOGRAD_CASES)
def test_conv2d_winograd(winograd, xs, ws, kw):
    # float32 through the kernel, float64 through the other paths; gradients through autograd
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
             [xs, ws, (ws[0],)], fd=False)


@pytest.mark.parametrize("xs,ws,kw", [WINOGRAD_CASES[0], WINOGRAD_CASES[1], WINOGRAD_CASES[3]])
def test_conv2d_winograd_no_bias(winograd, xs, ws, kw):
    check_op(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), [xs, ws], fd=False)


@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 32, 10, 11), (40, 32, 3, 3), {"padding": 1}),
    ((1, 33, 13, 7), (35, 33, 3, 3), {}),
])
def test_conv2d_winograd_float64_reference(winograd, xs, ws, kw):
    """Against the same convolution in float64: the error is float32 rounding of the transforms
    and sums, not a wrong tap."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    b = rng.standard_normal(ws[0])
    out = F.conv2d(lamina.tensor(x.astype(np.float32)), lamina.tensor(w.astype(np.float32)),
                   lamina.tensor(b.astype(np.float32)), **kw).numpy()
    ref = TF.conv2d(torch.from_numpy(x.astype(np.float32).astype(np.float64)),
                    torch.from_numpy(w.astype(np.float32).astype(np.float64)),
                    torch.from_numpy(b.astype(np.float32).astype(np.float64)), **kw).numpy()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("xs,ws,kw", [
    ((5, 32, 14, 14), (32, 32, 3, 3), {"padding": 1}),   # several chunks of several images
    ((1, 36, 40, 41), (40, 36, 3, 3), {"padding": 1}),   # one image in several chunks
    ((2, 3, 7, 9), (20, 3, 3, 3), {"padding": 1}),       # one chunk
])
def test_conv2d_winograd_threads_bit_identical(winograd, xs, ws, kw):
    """The tile chunks depend only on the shape and each chunk's GEMMs are bit-deterministic, so
    1 and 2 threads give the same bits."""
    check_conv2d_thread_bits(xs, ws, kw)


def test_conv2d_winograd_off_matches_on(monkeypatch):
    """The override's two settings give the same values (to float32 rounding)."""
    rng = np.random.default_rng(1)
    x = lamina.tensor(rng.standard_normal((2, 32, 14, 15)).astype(np.float32))
    w = lamina.tensor(rng.standard_normal((64, 32, 3, 3)).astype(np.float32))
    outs = []
    for v in ("0", "1"):
        monkeypatch.setenv("LAMINA_CONV2D_WINOGRAD", v)
        outs.append(F.conv2d(x, w, padding=1).numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 32, 16, 16), (64, 32, 3, 3), {"padding": 1}),   # conv d's layer
    ((1, 64, 12, 14), (64, 64, 3, 3), {"padding": 1}),
    ((2, 16, 10, 10), (16, 16, 3, 3), {"padding": 1}),   # few channels: not Winograd by the rule
    ((2, 32, 14, 14), (64, 32, 3, 3), {"stride": 2, "padding": 1}),  # strided: never Winograd
])
def test_conv2d_winograd_rule(monkeypatch, xs, ws, kw):
    """Whatever path the rule picks, forward and backward match PyTorch."""
    monkeypatch.delenv("LAMINA_CONV2D_WINOGRAD", raising=False)
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
             [xs, ws, (ws[0],)], fd=False)


@pytest.mark.parametrize("xs,ws", [((0, 32, 16, 16), (64, 32, 3, 3)), ((2, 32, 16, 16), (0, 32, 3, 3))])
def test_conv2d_winograd_empty(monkeypatch, xs, ws):
    """An empty batch or no output channels: an empty output, forced on and by the rule."""
    for v in ("1", ""):
        monkeypatch.setenv("LAMINA_CONV2D_WINOGRAD", v)
        out = F.conv2d(lamina.zeros(xs), lamina.zeros(ws), padding=1)
        assert tuple(out.shape) == (xs[0], ws[0], 16, 16)


def test_conv2d_winograd_backward_finite_differences(winograd):
    """Autograd through a layer the kernel computes (the float32 forward), checked in float64 by
    finite differences as the other conv tests do (float64 keeps the other paths)."""
    check_op(lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1),
             [(1, 3, 5, 6), (4, 3, 3, 3), (4,)], fd=True)


# ---- data grads: a stride-1 3x3 dx is a forward of dy with flipped weights (conv2d.cpp,
# data_grad_winograd), so the kernel computes it too where the rule (or the override) says so.
DATA_GRAD_CASES = [
    ((2, 20, 7, 9), (3, 20, 3, 3), {"padding": 1}),       # dx: 20 -> 3 channels, odd sizes
    ((1, 35, 11, 13), (33, 35, 3, 3), {}),                # no padding: dx pads by 2 (a full conv)
    ((3, 8, 6, 5), (17, 8, 3, 3), {"padding": 2}),        # padding 2: dx unpadded
    ((2, 64, 9, 30), (32, 64, 3, 3), {"padding": (1, 0)}),
]


def _grads(xs, ws, kw, dtype, seed):
    """(dx, dw, db) of F.conv2d(x, w, b, **kw) under a fixed upstream gradient, inputs from `seed`."""
    rng = np.random.default_rng(seed)
    x = lamina.tensor(rng.standard_normal(xs).astype(dtype), requires_grad=True)
    w = lamina.tensor(rng.standard_normal(ws).astype(dtype), requires_grad=True)
    b = lamina.tensor(rng.standard_normal(ws[0]).astype(dtype), requires_grad=True)
    out = F.conv2d(x, w, b, **kw)
    g = lamina.tensor(np.random.default_rng(seed + 1).standard_normal(tuple(out.shape)).astype(dtype))
    out.backward(g)
    return x.grad.numpy(), w.grad.numpy(), b.grad.numpy()


def _dx(xs, ws, kw, dtype):
    return _grads(xs, ws, kw, dtype, seed=5)[0]


@pytest.mark.parametrize("xs,ws,kw", DATA_GRAD_CASES)
def test_conv2d_winograd_data_grad_float64_reference(winograd, xs, ws, kw):
    """dx through the kernel (float32) against the float64 data grad (other paths): float32
    rounding of the transforms and sums, not a wrong tap or a misplaced border."""
    got, ref = _dx(xs, ws, kw, np.float32), _dx(xs, ws, kw, np.float64)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("xs,ws,kw", DATA_GRAD_CASES)
def test_conv2d_winograd_data_grad_matches_torch(winograd, xs, ws, kw):
    check_op(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), [xs, ws],
             dtypes=("float32",), fd=False)


def test_conv2d_winograd_data_grad_threads_bit_identical(winograd):
    """dx's tile chunks depend only on the shape, so 1 and 2 threads give the same bits."""
    outs = at_thread_counts(lambda: _dx((3, 32, 20, 30), (40, 32, 3, 3), {"padding": 1}, np.float32), (1, 2))
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("xs,ws", [
    ((2, 64, 30, 30), (64, 64, 3, 3)),   # rows of 30: Winograd dx by the rule at AVX2 (and 64 channels)
    ((2, 64, 16, 16), (32, 64, 3, 3)),   # conv d's dx geometry: rows of 16, not Winograd
])
def test_conv2d_winograd_data_grad_rule_off_matches_on(monkeypatch, xs, ws):
    """By the rule and forced off, dx agrees to float32 rounding whichever kernel ran."""
    outs = []
    for v in ("", "0"):
        monkeypatch.setenv("LAMINA_CONV2D_WINOGRAD", v)
        outs.append(_dx(xs, ws, {"padding": 1}, np.float32))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-4 * np.abs(outs[1]).max())


# ---- weight grads: the adjoint of the forward's transforms (conv_weight_grad_winograd), taken by
# conv2d_weight_grad.cpp's rule or forced by the override.
WEIGHT_GRAD_CASES = [
    ((2, 3, 7, 9), (4, 3, 3, 3), {"padding": 1}),         # odd sizes: tiles half past the edge
    ((1, 5, 6, 5), (2, 5, 3, 3), {}),                     # no padding
    ((3, 4, 5, 8), (6, 4, 3, 3), {"padding": 2}),         # padding 2
    ((2, 33, 9, 30), (35, 33, 3, 3), {"padding": (1, 0)}),  # channels off the vector width
    ((5, 16, 20, 21), (8, 16, 3, 3), {"padding": 1}),     # several chunks
]


def _dw(xs, ws, kw, dtype):
    """(dw, db)"""
    return _grads(xs, ws, kw, dtype, seed=7)[1:]


@pytest.mark.parametrize("xs,ws,kw", WEIGHT_GRAD_CASES)
def test_conv2d_winograd_weight_grad_float64_reference(winograd, xs, ws, kw):
    """dw through the kernel (float32) against the float64 weight grad (other paths); the bias grad
    alongside it."""
    (dw, db), (rw, rb) = _dw(xs, ws, kw, np.float32), _dw(xs, ws, kw, np.float64)
    assert dw.dtype == np.float32
    np.testing.assert_allclose(dw, rw, rtol=1e-5, atol=2e-6 * np.abs(rw).max())
    np.testing.assert_allclose(db, rb, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("xs,ws,kw", WEIGHT_GRAD_CASES[:3])
def test_conv2d_winograd_weight_grad_matches_torch(winograd, xs, ws, kw):
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
             [xs, ws, (ws[0],)], dtypes=("float32",), fd=False)


def test_conv2d_winograd_weight_grad_threads_bit_identical(winograd):
    """Each chunk writes its own partial dU and they are added in chunk order: 1 and 2 threads give
    the same bits."""
    outs = at_thread_counts(lambda: _dw((4, 32, 30, 30), (40, 32, 3, 3), {"padding": 1}, np.float32)[0], (1, 2))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_conv2d_winograd_weight_grad_empty_batch(winograd):
    x = lamina.zeros(0, 8, 6, 6)
    w = lamina.ones(4, 8, 3, 3, requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    assert np.array_equal(w.grad.numpy(), np.zeros((4, 8, 3, 3), np.float32))


@pytest.mark.parametrize("xs,ws", [
    ((2, 64, 16, 16), (64, 64, 3, 3)),   # Winograd dw by the rule at AVX2 and AVX-512
    ((4, 32, 16, 16), (64, 32, 3, 3)),   # conv d: at AVX2 only
    ((4, 32, 16, 16), (32, 32, 3, 3)),   # 32 -> 32 at 16x16: not by the rule
])
def test_conv2d_winograd_weight_grad_rule_off_matches_on(monkeypatch, xs, ws):
    outs = []
    for v in ("", "0"):
        monkeypatch.setenv("LAMINA_CONV2D_WINOGRAD", v)
        outs.append(_dw(xs, ws, {"padding": 1}, np.float32)[0])
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-5 * np.abs(outs[1]).max())


def test_conv2d_winograd_weight_grad_runs_of_chunks(winograd, monkeypatch):
    """Tiny chunks (the tuning override) make 60 chunks, summed in 16 runs of 3-4 chunks each (the
    first overwriting the run's dU, the rest adding onto it): the same dw as float64, and the same
    bits at 1 and 2 threads."""
    monkeypatch.setenv("LAMINA_CONV2D_WINOGRAD_BYTES", "4096")
    xs, ws, kw = (3, 8, 40, 12), (6, 8, 3, 3), {"padding": 1}
    dw1, dw2 = at_thread_counts(lambda: _dw(xs, ws, kw, np.float32)[0], (1, 2))
    rw = _dw(xs, ws, kw, np.float64)[0]
    np.testing.assert_allclose(dw1, rw, rtol=1e-5, atol=2e-6 * np.abs(rw).max())
    np.testing.assert_array_equal(dw1, dw2)
