"""nn.Conv1d / nn.Conv2d with padding='same' / 'valid' / ints and padding_mode, against PyTorch
(values and the gradients of input, weight and bias; float32 and float64; odd and even kernels,
dilation), their repr, the errors PyTorch raises for strings where it takes none, and the one
argument helper that the functionals and the modules share (issue 12)."""
import re

import numpy as np
import pytest

import lamina
import lamina.nn as nn
import lamina.nn.functional as F
from lamina.ops import _tuples

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

TOL = {"float32": (1e-5, 1e-4), "float64": (1e-12, 1e-10)}


def _pair_modules(cls, dtype, *args, **kw):
    lm = getattr(nn, cls)(*args, dtype=getattr(lamina, dtype), **kw)
    tm = getattr(torch.nn, cls)(*args, dtype=getattr(torch, dtype), **kw)
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(lm.weight.detach().numpy().copy()))
        if lm.bias is not None:
            tm.bias.copy_(torch.from_numpy(lm.bias.detach().numpy().copy()))
    return lm, tm


def _compare(lm, tm, x_shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    lx = lamina.from_numpy(x.copy()).requires_grad_(True)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    lo, to = lm(lx), tm(tx)
    assert tuple(lo.shape) == tuple(to.shape)
    dout = rng.standard_normal(tuple(to.shape)).astype(dtype)
    (lo * lamina.from_numpy(dout.copy())).sum().backward()
    (to * torch.from_numpy(dout.copy())).sum().backward()
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(lo.detach().numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
    gtol = dict(rtol=rtol * 10, atol=atol * 10)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), **gtol)
    np.testing.assert_allclose(lm.weight.grad.numpy(), tm.weight.grad.numpy(), **gtol)
    if lm.bias is not None:
        np.testing.assert_allclose(lm.bias.grad.numpy(), tm.bias.grad.numpy(), **gtol)
    return lo


CONV2D = [
    # (kernel_size, padding, dilation, input shape)
    (3, "same", 1, (2, 3, 7, 6)),             # odd kernel
    (4, "same", 1, (2, 3, 7, 6)),             # even kernel: one more on the bottom/right
    ((2, 5), "same", 1, (1, 3, 6, 8)),        # even x odd, non-square
    ((3, 4), "same", (2, 3), (1, 3, 9, 11)),  # dilation: total d*(k-1) = 4 and 9
    (2, "same", 2, (1, 3, 5, 5)),             # even kernel, even total (2): symmetric
    (3, "valid", 1, (2, 3, 7, 6)),
    ((4, 2), "valid", (1, 2), (2, 3, 8, 9)),
    (3, 1, 1, (2, 3, 7, 6)),                  # ints still work
    ((3, 2), (1, 0), 1, (2, 3, 7, 6)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k,padding,dilation,xs", CONV2D)
def test_conv2d_module_padding(dtype, k, padding, dilation, xs):
    lm, tm = _pair_modules("Conv2d", dtype, 3, 5, k, padding=padding, dilation=dilation)
    out = _compare(lm, tm, xs, dtype)
    if padding == "same":
        assert tuple(out.shape[2:]) == xs[2:]


CONV1D = [
    (3, "same", 1), (4, "same", 1), (4, "same", 3), (2, "same", 1), (5, "valid", 2), (4, 2, 1),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k,padding,dilation", CONV1D)
def test_conv1d_module_padding(dtype, k, padding, dilation):
    lm, tm = _pair_modules("Conv1d", dtype, 2, 4, k, padding=padding, dilation=dilation)
    out = _compare(lm, tm, (3, 2, 13), dtype)
    if padding == "same":
        assert out.shape[2] == 13


def test_conv_module_same_groups_no_bias_unbatched():
    lm, tm = _pair_modules("Conv2d", "float64", 4, 6, (2, 3), padding="same", groups=2, bias=False)
    _compare(lm, tm, (4, 5, 6), "float64")
    lm, tm = _pair_modules("Conv1d", "float64", 4, 4, 4, padding="same", groups=4)
    _compare(lm, tm, (4, 9), "float64")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("cls,k,padding,xs", [("Conv2d", 3, 1, (2, 3, 6, 7)), ("Conv2d", 4, "same", (1, 3, 6, 7)),
                                              ("Conv2d", (3, 2), (1, 0), (1, 3, 6, 7)),
                                              ("Conv1d", 4, "same", (2, 3, 9)), ("Conv1d", 3, 2, (2, 3, 9))])
def test_padding_mode(mode, cls, k, padding, xs):
    lm, tm = _pair_modules(cls, "float64", 3, 2, k, padding=padding, padding_mode=mode)
    _compare(lm, tm, xs, "float64")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_functional_same_matches_module(dtype):
    """F.conv2d(padding='same') and nn.Conv2d(padding='same') give the same values (one helper)."""
    lm, tm = _pair_modules("Conv2d", dtype, 3, 2, (4, 3), padding="same", dilation=(1, 2))
    x = lamina.randn(1, 3, 6, 9, dtype=getattr(lamina, dtype))
    a = lm(x).detach().numpy()
    b = F.conv2d(x, lm.weight, lm.bias, padding="same", dilation=(1, 2)).detach().numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("args,kw", [
    ((3, 5, 3), dict(padding="same")),
    ((3, 5, 3), dict(padding="valid")),
    ((3, 5, 3), dict(padding="valid", stride=2)),
    ((3, 5, (2, 4)), dict(padding="same", dilation=(1, 2))),
    ((3, 5, 3), dict(padding=0)),
    ((3, 5, 3), dict(padding=1, padding_mode="reflect")),
    ((3, 6, 3), dict(padding=(1, 2), groups=3, bias=False)),
])
def test_conv2d_repr_matches_torch(args, kw):
    assert repr(nn.Conv2d(*args, **kw)) == repr(torch.nn.Conv2d(*args, **kw))


def test_conv1d_and_transpose_repr_match_torch():
    assert repr(nn.Conv1d(3, 5, 3, padding="same", dilation=2)) == \
        repr(torch.nn.Conv1d(3, 5, 3, padding="same", dilation=2))
    assert repr(nn.Conv1d(3, 5, 4, padding="valid")) == repr(torch.nn.Conv1d(3, 5, 4, padding="valid"))
    kw = dict(stride=2, padding=1, output_padding=1)
    assert repr(nn.ConvTranspose2d(3, 5, 3, **kw)) == repr(torch.nn.ConvTranspose2d(3, 5, 3, **kw))


def test_padding_kept_as_string():
    assert nn.Conv2d(3, 5, 3, padding="same").padding == "same"
    assert nn.Conv1d(3, 5, 3, padding="valid").padding == "valid"
    assert nn.Conv2d(3, 5, 3, padding=[1]).padding == (1, 1)
    assert nn.Conv2d(3, 5, 4, padding="same")._reversed_padding_repeated_twice == (1, 2, 1, 2)


def _raises(exc, msg, fn, *a, **k):
    with pytest.raises(exc, match=re.escape(msg)):
        fn(*a, **k)


def test_errors_strided_same():
    # PyTorch: ValueError (module) / RuntimeError (functional) "padding='same' is not supported for
    # strided convolutions"; lamina raises ValueError for both.
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        torch.nn.Conv2d(3, 5, 3, padding="same", stride=2)
    _raises(ValueError, "Conv2d: padding='same' is not supported for strided convolutions (stride (2, 1))",
            nn.Conv2d, 3, 5, 3, padding="same", stride=(2, 1))
    _raises(ValueError, "Conv1d: padding='same' is not supported for strided convolutions",
            nn.Conv1d, 3, 5, 3, padding="same", stride=2)
    _raises(ValueError, "conv1d: padding='same' is not supported for strided convolutions", F.conv1d,
            lamina.randn(1, 3, 8), lamina.randn(2, 3, 3), padding="same", stride=2)


def test_errors_bad_strings_and_types():
    with pytest.raises(ValueError, match="Invalid padding string 'SAME'"):
        torch.nn.Conv2d(3, 5, 3, padding="SAME")
    _raises(ValueError, "Conv2d: padding must be 'valid', 'same', an int or a tuple, got 'SAME'",
            nn.Conv2d, 3, 5, 3, padding="SAME")
    _raises(ValueError, "conv2d: padding must be 'valid', 'same', an int or a tuple, got 'full'",
            F.conv2d, lamina.randn(1, 3, 5, 5), lamina.randn(2, 3, 3, 3), padding="full")
    # Today's bug: int('same') inside the module's own tuple helper.
    nn.Conv2d(3, 5, 3, padding="same")
    # torch silently accepts these (padding=(1, 1.5), (1, 2, 3)) and fails later; lamina refuses at once.
    _raises(TypeError, "Conv2d: padding must be an int or a tuple of 2 ints, got (1, 1.5)",
            nn.Conv2d, 3, 5, 3, padding=(1, 1.5))
    _raises(ValueError, "Conv2d: padding must be an int or a tuple of 2 ints, got (1, 2, 3)",
            nn.Conv2d, 3, 5, 3, padding=(1, 2, 3))
    _raises(ValueError, "Conv2d: kernel_size must be an int or a tuple of 2 ints, got (3, 3, 3)",
            nn.Conv2d, 3, 5, (3, 3, 3))
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        torch.nn.Conv2d(3, 5, 3, padding_mode="foo")
    _raises(ValueError, "Conv2d: padding_mode must be one of", nn.Conv2d, 3, 5, 3, padding_mode="foo")
    _raises(ValueError, 'ConvTranspose2d: only "zeros" padding mode is supported', nn.ConvTranspose2d, 3, 5, 3,
            padding_mode="reflect")


def test_errors_strings_where_torch_takes_none():
    """Transposed convolutions and pooling take no string padding in PyTorch (TypeError there)."""
    x4 = lamina.randn(1, 3, 5, 5)
    with pytest.raises(TypeError):
        torch.nn.functional.conv_transpose2d(torch.randn(1, 3, 5, 5), torch.randn(3, 2, 3, 3), padding="same")
    with pytest.raises(TypeError):
        torch.nn.functional.max_pool2d(torch.randn(1, 1, 5, 5), 3, padding="same")
    msg = "padding must be an int or a tuple of 2 ints, got 'same'"
    _raises(TypeError, "conv_transpose2d: " + msg, F.conv_transpose2d, x4, lamina.randn(3, 2, 3, 3), padding="same")
    _raises(TypeError, "ConvTranspose2d: " + msg, nn.ConvTranspose2d, 3, 5, 3, padding="same")
    _raises(TypeError, "max_pool2d: " + msg, F.max_pool2d, x4, 3, padding="same")
    _raises(TypeError, "avg_pool2d: padding must be an int or a tuple of 2 ints, got 'valid'", F.avg_pool2d, x4, 3,
            padding="valid")
    _raises(TypeError, "max_pool1d: padding must be an int or a tuple of 1 ints, got 'same'", F.max_pool1d,
            lamina.randn(1, 3, 8), 3, padding="same")
    _raises(TypeError, "conv_transpose1d: padding must be an int or a tuple of 1 ints, got 'same'",
            F.conv_transpose1d, lamina.randn(1, 3, 8), lamina.randn(3, 2, 3), padding="same")


def test_tuple_helper():
    assert _tuples.ntuple(3, 2, "k", "op") == (3, 3)
    assert _tuples.ntuple(np.int64(2), 1, "k", "op") == (2,)
    assert _tuples.ntuple([4], 2, "k", "op") == (4, 4)
    assert _tuples.pair((1, 2)) == (1, 2) and _tuples.single(5) == (5,)
    with pytest.raises(TypeError):
        _tuples.ntuple(True, 2, "k", "op")
    assert _tuples.conv_padding("same", 2, "op", (1, 1)) == "same"
    assert _tuples.conv_padding(2, 2, "op", (2, 2)) == (2, 2)
    assert _tuples.same_padding((4, 3), (1, 2)) == ((1, 2), (2, 2))
    assert _tuples.same_padding((2,), (3,)) == ((1,), (2,))
    # ops and nn share it: neither module keeps a helper of its own.
    import lamina.nn.layers.conv as lconv
    import lamina.ops.conv as oconv
    import lamina.ops.pool as opool
    assert not hasattr(lconv, "_pair")
    assert oconv._ntuple is _tuples.ntuple and opool._ntuple is _tuples.ntuple
