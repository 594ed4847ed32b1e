"""Models exported by PyTorch's own ONNX exporter (torch.onnx.export, the TorchScript path: the
graphs real users bring, with Shape/Gather/Unsqueeze/Concat shape arithmetic, folded BatchNorm,
LSTM/GRU with their gate orders, GELU as Erf, multi-head attention, depthwise convs) imported with lamina.onnx.load_model and compared
with PyTorch at two batch sizes (1e-5 of the output's scale)."""
from __future__ import annotations

import io
import warnings

import lamina
import lamina.onnx
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
tnn = torch.nn


class _Block(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1, self.b1 = tnn.Conv2d(c, c, 3, padding=1, bias=False), tnn.BatchNorm2d(c)
        self.c2, self.b2 = tnn.Conv2d(c, c, 3, padding=1, bias=False), tnn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.b2(self.c2(torch.relu(self.b1(self.c1(x))))))


def _resnet():
    m = tnn.Sequential(tnn.Conv2d(3, 8, 3, stride=2, padding=1), tnn.BatchNorm2d(8), tnn.ReLU(), _Block(8),
                       tnn.MaxPool2d(3, 2, 1), _Block(8), tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(8, 10))
    for mod in m.modules():
        if isinstance(mod, tnn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 1.5)
    return m


class _Decoder(tnn.Module):
    """conv, bilinear upsampling, transposed conv, LayerNorm over C/H/W, GELU (exported with Erf)"""

    def __init__(self):
        super().__init__()
        self.conv = tnn.Conv2d(3, 4, 3, padding=1)
        self.up = tnn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.deconv = tnn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)
        self.norm = tnn.LayerNorm([2, 32, 32])

    def forward(self, x):
        return tnn.functional.gelu(self.norm(self.deconv(self.up(self.conv(x)))))


class _MobileBlock(tnn.Module):
    """pointwise / depthwise (groups) convs, Hardswish, squeeze-excite with ReLU6 (Clip) and Hardsigmoid"""

    def __init__(self):
        super().__init__()
        self.pw, self.dw = tnn.Conv2d(8, 16, 1), tnn.Conv2d(16, 16, 3, padding=1, groups=16, stride=2)
        self.bn, self.act = tnn.BatchNorm2d(16), tnn.Hardswish()
        self.se = tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Conv2d(16, 4, 1), tnn.ReLU6(), tnn.Conv2d(4, 16, 1),
                                 tnn.Hardsigmoid())
        self.proj = tnn.Conv2d(16, 8, 1)

    def forward(self, x):
        h = self.act(self.bn(self.dw(self.pw(x))))
        return self.proj(h * self.se(h))


class _AttentionBlock(tnn.Module):
    """nn.MultiheadAttention + residual + LayerNorm: exported as Shape/Gather/Slice/Reshape arithmetic"""

    def __init__(self):
        super().__init__()
        self.mha, self.norm = tnn.MultiheadAttention(16, 4, batch_first=True), tnn.LayerNorm(16)

    def forward(self, x):
        return self.norm(x + self.mha(x, x, x, need_weights=False)[0])


class _ShapeOps(tnn.Module):
    """nearest upsampling, flip, reflect pad, permute/reshape by traced sizes, softmax, reductions"""

    def forward(self, x):
        y = tnn.functional.interpolate(x, scale_factor=2, mode="nearest")
        y = torch.cat([y, y.flip(-1)], 1)
        y = tnn.functional.pad(y, (1, 2, 0, 1), mode="reflect")
        y = y.permute(0, 2, 3, 1).reshape(y.shape[0], -1, y.shape[1])
        return torch.softmax(y, -1).mean(1) + tnn.functional.elu(y).amax(1) + y.std(1)


class _LastStep(tnn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


CASES = [
    ("resnet", _resnet, lambda b: torch.randn(b, 3, 16, 16), {0: "N"}),
    ("lstm_2layer_bidir_batch_first", lambda: _LastStep(tnn.LSTM(6, 8, num_layers=2, bidirectional=True,
                                                                 batch_first=True)),
     lambda b: torch.randn(b, 5, 6), {0: "N"}),
    ("gru", lambda: _LastStep(tnn.GRU(6, 8)), lambda b: torch.randn(7, b, 6), {1: "N"}),
    ("embedding_classifier", lambda: tnn.Sequential(tnn.Embedding(20, 8), tnn.Flatten(), tnn.Linear(40, 3),
                                                    tnn.LogSoftmax(-1)),
     lambda b: torch.randint(0, 20, (b, 5)), {0: "N"}),
    ("decoder_upsample_gelu", _Decoder, lambda b: torch.randn(b, 3, 8, 8), {0: "N"}),
    ("mobilenet_block", _MobileBlock, lambda b: torch.randn(b, 8, 16, 16), {0: "N"}),
    ("attention_block", _AttentionBlock, lambda b: torch.randn(b, 7, 16), {0: "N"}),
    ("shape_ops", _ShapeOps, lambda b: torch.randn(b, 3, 5, 6), {0: "N"}),
]


@pytest.mark.parametrize("name, build, inputs, axes", CASES, ids=[c[0] for c in CASES])
def test_pytorch_export_imports(name, build, inputs, axes):
    torch.manual_seed(0)
    m = build().eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (inputs(2),), buf, dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": axes}, opset_version=17)
    lm = lamina.onnx.load_model(buf.getvalue())
    for b in (2, 5):
        x = inputs(b)
        with torch.no_grad():
            ref = m(x).numpy()
        got = lm(lamina.from_numpy(x.numpy())).detach().numpy()
        assert got.shape == ref.shape
        err = np.abs(got.astype(np.float64) - ref).max()
        assert err <= 1e-5 * max(np.abs(ref).max(), 1e-3), f"{name} at batch {b}: max error {err:.3g}"
