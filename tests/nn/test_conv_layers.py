"""Conv layers as PyTorch users expect (issue 19): output_padding only on transposed convolutions,
ConvTranspose1d/2d against torch (values and gradients), the documented init bounds and docstrings
that state shapes, weight layout and init. padding_mode itself: tests/nn/test_conv_padding.py."""
import math

import numpy as np
import pytest

import lamina
from lamina import nn


@pytest.mark.parametrize("cls", ["Conv1d", "Conv2d"])
def test_output_padding_is_rejected_where_it_means_nothing(cls):
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="output_padding"):
        getattr(torch.nn, cls)(2, 3, 3, output_padding=1)
    with pytest.raises(TypeError, match="output_padding"):
        getattr(nn, cls)(2, 3, 3, output_padding=1)


@pytest.mark.parametrize("cls", ["ConvTranspose1d", "ConvTranspose2d"])
def test_output_padding_must_be_smaller_than_stride_or_dilation(cls):
    with pytest.raises(ValueError, match=f"{cls}: output_padding .* smaller than either stride"):
        getattr(nn, cls)(2, 3, 3, stride=1, output_padding=1)
    getattr(nn, cls)(2, 3, 3, stride=1, dilation=2, output_padding=1)   # allowed by the dilation
    with pytest.raises(ValueError, match='only "zeros" padding mode'):
        getattr(nn, cls)(2, 3, 3, padding_mode="reflect")


@pytest.mark.parametrize("cls,xshape,kw", [
    ("ConvTranspose1d", (3, 4, 10), dict(kernel_size=4, stride=2, padding=1)),
    ("ConvTranspose1d", (2, 4, 7), dict(kernel_size=3, stride=3, padding=1, output_padding=2, groups=2)),
    ("ConvTranspose1d", (4, 9), dict(kernel_size=3, dilation=2, output_padding=1, bias=False)),
    ("ConvTranspose2d", (2, 4, 5, 6), dict(kernel_size=3, stride=2, padding=1, output_padding=1)),
    ("ConvTranspose2d", (1, 4, 4, 4), dict(kernel_size=(2, 3), stride=(1, 2), groups=4)),
])
def test_transposed_layers_match_torch(cls, xshape, kw):
    torch = pytest.importorskip("torch")
    in_ch, out_ch = 4, 4 if kw.get("groups") == 4 else 6
    lm = getattr(nn, cls)(in_ch, out_ch, dtype=lamina.float64, **kw)
    tm = getattr(torch.nn, cls)(in_ch, out_ch, dtype=torch.float64, **kw)
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(lm.weight.detach().numpy()))
        if tm.bias is not None:
            tm.bias.copy_(torch.from_numpy(lm.bias.detach().numpy()))
    x = np.random.default_rng(0).standard_normal(xshape)
    lx, tx = lamina.from_numpy(x.copy()).requires_grad_(True), torch.from_numpy(x.copy()).requires_grad_(True)
    ly, ty = lm(lx), tm(tx)
    assert tuple(ly.shape) == tuple(ty.shape)
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    dout = np.random.default_rng(1).standard_normal(ty.shape)
    (ly * lamina.from_numpy(dout)).sum().backward()
    (ty * torch.from_numpy(dout)).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(lm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-9, atol=1e-10)
    if tm.bias is not None:
        np.testing.assert_allclose(lm.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-9, atol=1e-10)
    assert repr(lm) == repr(tm)


@pytest.mark.parametrize("make,fan_in", [
    (lambda: nn.Conv2d(8, 64, 5), 8 * 25),
    (lambda: nn.Conv1d(6, 64, 7, groups=2), 3 * 7),
    (lambda: nn.ConvTranspose2d(64, 8, 3, groups=4), 2 * 9),   # weight (C_in, C_out/groups, KH, KW)
])
def test_documented_init(make, fan_in):
    lamina.manual_seed(0)
    layer = make()
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound) has std bound / sqrt(3): the spread is the documented one, not a smaller one.
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)


@pytest.mark.parametrize("cls", ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"])
def test_docstrings_state_shapes_layout_init_and_equivalents(cls):
    doc = getattr(nn, cls).__doc__
    for needle in ("Shapes:", "weight", "(C_out,", "kaiming_uniform_", "torch.nn." + cls, "keras.layers.",
                   "Example::"):
        assert needle in doc, f"nn.{cls} docstring lacks {needle!r}"


def test_summary_counts_transposed_conv_flops():
    # every input element meets each of the out_channels/groups x K weights once: a multiply-add each.
    m = nn.Sequential(nn.ConvTranspose1d(8, 2, 4, stride=2, padding=1))
    s = lamina.summary(m, (8, 10))
    assert s.ok and s.total_flops == 2 * 2 * 4 * (8 * 10)
    m2 = nn.Sequential(nn.ConvTranspose2d(8, 2, (3, 2), stride=2))
    assert lamina.summary(m2, (8, 5, 5)).total_flops == 2 * 2 * 6 * (8 * 25)
