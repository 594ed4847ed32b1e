"""lamina.onnx.export on the ready-made models: LeNet-5, the MLP, the DBN and SDAE classifiers,
CharRNN (LSTM and GRU) and the DQN Q-network, each compared with onnxruntime (1e-5 relative to the
output's scale) at the example's batch size and another; plus export's file handling, opsets,
names and dynamic axes."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest

import lamina
import lamina.nn as nn
from lamina.models import DBN, MLP, CharRNN, LeNet5, StackedDenoisingAutoencoder

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _export_check import check_export, close, session  # noqa: E402


def _ids(shape, vocab, seed=0):
    return lamina.tensor(np.random.default_rng(seed).integers(0, vocab, shape), dtype=lamina.int64)


def test_lenet5():
    m = LeNet5().eval()
    check_export(m, lamina.randn(4, 1, 28, 28), lamina.randn(1, 1, 28, 28))


def test_lenet5_avgpool_tanh_32px():
    m = LeNet5(input_size=32, activation="tanh", pool="avg").eval()
    check_export(m, lamina.randn(2, 1, 32, 32), lamina.randn(5, 1, 32, 32))


def test_mlp():
    m = MLP([64, 32, 16, 10], activation="sigmoid", dropout=0.2).eval()
    check_export(m, lamina.randn(8, 64), lamina.randn(3, 64))


def test_dbn_classifier():
    m = DBN((64, 32, 16), n_classes=10)
    m.to_classifier()
    m.eval()
    check_export(m, lamina.rand(6, 64), lamina.rand(2, 64))


def test_sdae_classifier():
    m = StackedDenoisingAutoencoder((64, 32, 16), n_classes=10).eval()
    check_export(m, lamina.rand(6, 1, 8, 8), lamina.rand(3, 1, 8, 8))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_char_rnn_time_major_batch_axis_1(cell):
    m = CharRNN(30, embed_dim=8, hidden_size=16, num_layers=2, cell=cell).eval()
    proto = check_export(m, _ids((12, 4), 30), _ids((12, 7), 30, 1), input_names=["ids"],
                         dynamic_axes={"ids": {1: "batch"}, "output0": {1: "batch"}})
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count(cell.upper()) == 2  # one ONNX LSTM/GRU op per layer
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 12 and dims[1].dim_param == "batch"


def test_dqn_q_network():
    from lamina.rl.agent import mlp
    q = mlp(4, 2, hidden=(32, 32)).eval()
    check_export(q, lamina.randn(64, 4), lamina.randn(1, 4))


def test_writes_file_atomically_and_names(tmp_path):
    m = MLP([5, 4, 3]).eval()
    path = tmp_path / "mlp.onnx"
    path.write_bytes(b"old")
    proto = lamina.onnx.export(m, (lamina.randn(2, 5),), str(path), input_names=["x"], output_names=["logits"])
    assert path.read_bytes() == proto.SerializeToString()
    assert [p for p in os.listdir(tmp_path) if p != "mlp.onnx"] == []  # no temp file left
    assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["logits"]
    inits = {i.name for i in proto.graph.initializer}
    assert set(m.state_dict()) <= inits and "1.weight" in inits  # parameters named by module path
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded, full_check=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    used = {i for n in proto.graph.node for i in n.input}
    assert all(t.name in used for t in proto.graph.initializer)


def test_failed_export_leaves_existing_file(tmp_path):
    class Bad(nn.Module):
        def forward(self, x):
            out, idx = lamina.nn.functional.max_pool2d(x, 2, return_indices=True)
            return idx

    path = tmp_path / "m.onnx"
    path.write_bytes(b"keep")
    with pytest.raises(NotImplementedError):
        lamina.onnx.export(Bad(), lamina.randn(1, 1, 4, 4), path)
    assert path.read_bytes() == b"keep" and os.listdir(tmp_path) == ["m.onnx"]


def test_every_supported_opset_runs():
    from lamina.onnx.export_impl import MAX_OPSET, MIN_OPSET
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.GELU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.LayerNorm(16), nn.Linear(16, 3), nn.LogSoftmax(dim=1)).eval()
    x, x2 = lamina.randn(3, 2, 4, 4), lamina.randn(6, 2, 4, 4)
    cell = nn.LSTMCell(3, 4)
    for opset in range(MIN_OPSET, min(MAX_OPSET, onnx.defs.onnx_opset_version()) + 1):
        proto = check_export(m, x, x2, opset_version=opset)
        assert proto.opset_import[0].version == opset
        check_export(cell, lamina.randn(2, 3), lamina.randn(5, 3), opset_version=opset)
    assert lamina.onnx.export(m, x, None).opset_import[0].version == min(MAX_OPSET, onnx.defs.onnx_opset_version())


def test_static_batch_and_bad_arguments():
    m = MLP([5, 3]).eval()
    proto = lamina.onnx.export(m, lamina.randn(2, 5), None, dynamic_axes={})
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    with pytest.raises(ValueError, match="opset_version"):
        lamina.onnx.export(m, lamina.randn(2, 5), None, opset_version=9)
    with pytest.raises(NotImplementedError, match="only one"):
        lamina.onnx.export(m, lamina.randn(2, 5), None, dynamic_axes={"input": {0: "b", 1: "f"}})
    with pytest.raises(TypeError, match="f must be"):
        lamina.onnx.export(m, lamina.randn(2, 5), 3)


def test_reshape_with_batch_arithmetic():
    class Fold(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):  # (B, T, 4) -> (B*T, 4) -> (B, T*4): sizes from the batch
            B, T = x.shape[0], x.shape[1]
            return self.fc(x.reshape(B * T, 4)).reshape(B, T * 4) + lamina.zeros(B, 1)

    check_export(Fold().eval(), lamina.randn(3, 5, 4), lamina.randn(7, 5, 4))


def test_function_export_and_scalar_ops():
    def f(x, y):
        z = (x * 2.0 - 1.0) / (y.abs() + 1.0)
        return lamina.where(z > 0.5, z.exp(), (1.0 - z).sqrt()).sum(dim=1, keepdim=True), z.amax(dim=0), \
            z.max(dim=1)[1], z.std(dim=1), z.logsumexp(dim=1), lamina.cat([z, y], 1)[:, 1:4:2]

    check_export(f, (lamina.rand(4, 6), lamina.randn(4, 6)), (lamina.rand(2, 6), lamina.randn(2, 6)))


def test_exported_lstm_classifier_matches_at_batch_64():
    class Clf(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(8, 16, batch_first=True)
            self.head = nn.Linear(16, 5)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    m = Clf().eval()
    buf = io.BytesIO()
    lamina.onnx.export(m, lamina.randn(2, 10, 8), buf)
    x = lamina.randn(64, 10, 8)
    got = session(buf.getvalue()).run(None, {"input": x.numpy()})[0]
    with lamina.no_grad():
        close(got, m(x).numpy())


def test_shape_and_math_ops():
    import lamina.nn.functional as F

    def f(x, ids):
        a = lamina.stack([x, x * 0.5], dim=1)                    # (B, 2, 6)
        b = a.permute(0, 2, 1).unsqueeze(1).squeeze(1)           # (B, 6, 2)
        c = F.pad(b, (1, 2, 0, 1), value=0.25)                   # (B, 7, 5)
        d = c.index_select(2, lamina.tensor([4, 0, 2]))          # (B, 7, 3)
        e = d.gather(1, ids)                                     # (B, 2, 3)
        g = x[:, None, 1:5].expand(x.shape[0], 3, 4).clamp(-0.5, 0.7)
        h = (x.sign() * x.abs().sqrt() + x.sin() * x.cos()).prod(dim=1, keepdim=True)
        k = x.amin(dim=(0, 1), keepdim=True) + x.mean() + x.var(dim=1).unsqueeze(1)
        m = lamina.maximum(x, x.neg()) - lamina.minimum(x, 0.1 - x) ** 2 + (2.0 / (x.exp() + 1.0))
        n = (x > 0.2) & ~(x < -0.3) | x.isnan()
        return e, g, h, k, m.reciprocal().square(), lamina.where(n, x, 0.0), x.chunk(3, dim=1)[2]

    ids = lambda b: lamina.tensor(np.random.default_rng(b).integers(0, 7, (b, 2, 3)), dtype=lamina.int64)  # noqa: E731
    check_export(f, (lamina.randn(4, 6), ids(4)), (lamina.randn(2, 6), ids(2)))


def _tok(shape, seed=0):
    return lamina.tensor(np.random.default_rng(seed).integers(0, 20, shape), dtype=lamina.int64)


@pytest.mark.parametrize("name", ["char_transformer", "conv_autoencoder", "autoencoder_tied", "denoising_autoencoder",
                                  "dbn_features", "rbm"])
def test_other_models(name):
    from lamina.models import (
        RBM,
        Autoencoder,
        CharTransformer,
        ConvAutoencoder,
        DenoisingAutoencoder,
    )
    if name == "char_transformer":  # causal mask, positional table slice, 2 pre-norm layers
        m = CharTransformer(20, d_model=16, nhead=2, num_layers=2, dim_feedforward=32).eval()
        check_export(m, _tok((6, 3)), _tok((6, 5), 1), dynamic_axes={"input": {1: "b"}})
        return
    m, shape = {"conv_autoencoder": (lambda: ConvAutoencoder(1, (4, 8)), (1, 12, 12)),
                "autoencoder_tied": (lambda: Autoencoder(10, 4, tied=True), (10,)),
                "denoising_autoencoder": (lambda: DenoisingAutoencoder(10, 4), (10,)),
                "dbn_features": (lambda: DBN((10, 6, 4), n_classes=None), (10,)),
                "rbm": (lambda: RBM(10, 4), (10,))}[name]
    check_export(m().eval(), lamina.rand(2, *shape), lamina.rand(5, *shape))


def test_advanced_indexing_with_constant_indices():
    def f(x):
        return x[:, [3, 0, 0]], x[1:, None, lamina.tensor([[1], [2]])], x[..., [True, False, True, True, False]]

    check_export(f, lamina.randn(4, 5), lamina.randn(2, 5))
    with pytest.raises(NotImplementedError, match="2 index arrays"):
        lamina.onnx.export(lambda x: x[[0, 1], [2, 3]], lamina.randn(4, 5), None)


def test_dict_outputs():
    m = nn.Linear(3, 2)
    proto = check_export(lambda x: {"logits": m(x), "probs": lamina.softmax(m(x), 1)}, lamina.randn(4, 3),
                         lamina.randn(1, 3))
    assert len(proto.graph.output) == 2


def test_export_params_false_and_initializers_as_inputs():
    m = MLP([5, 4, 3]).eval()
    x = lamina.randn(2, 5)
    with lamina.no_grad():
        ref = m(x).numpy()
    proto = lamina.onnx.export(m, x, None, export_params=False)
    assert len(proto.graph.initializer) < 4 and [i.name for i in proto.graph.input][1:] == list(m.state_dict())
    feeds = {"input": x.numpy(), **{k: v.numpy() for k, v in m.state_dict().items()}}
    close(session(proto.SerializeToString()).run(None, feeds)[0], ref)
    proto = lamina.onnx.export(m, x, None, keep_initializers_as_inputs=True)
    assert [i.name for i in proto.graph.input][1:] == list(m.state_dict())
    close(session(proto.SerializeToString()).run(None, {"input": x.numpy()})[0], ref)


def test_functional_ops_without_layers():
    import lamina.nn.functional as F
    w1, w2 = lamina.randn(3, 2, 4), lamina.randn(2, 3, 3)

    def f(x, q):
        y = F.conv_transpose1d(x, w1, stride=2, padding=1)           # (B, 2, L')
        z = F.adaptive_max_pool2d(y.unsqueeze(1), (1, 3))            # 1 x 3 windows
        r = F.pad(x, (2, 1), mode="reflect") + F.pad(x, (1, 2), mode="replicate")
        c = F.pad(x, (2, 2), mode="circular")
        a = F.scaled_dot_product_attention(q, q, q, is_causal=True)
        return y, z, r, c, a, F.conv1d(x, w2 * 1.0)  # a weight computed in the graph

    check_export(f, (lamina.randn(2, 3, 6), lamina.randn(2, 4, 5)), (lamina.randn(3, 3, 6), lamina.randn(3, 4, 5)))


def test_output_names_do_not_clash_with_internal_names():
    m = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2), nn.ReLU()).eval()
    proto = check_export(m, lamina.randn(2, 3), lamina.randn(4, 3), input_names=["Gemm"])
    buf = io.BytesIO()
    proto = lamina.onnx.export(m, lamina.randn(2, 3), buf, output_names=["Relu"])
    onnx.checker.check_model(proto, full_check=True)
    assert [o.name for o in proto.graph.output] == ["Relu"]
    with pytest.raises(ValueError, match="distinct"):
        lamina.onnx.export(m, lamina.randn(2, 3), None, input_names=["x"], output_names=["x"])


def test_in_place_writes_export():
    def f(x, ids):
        y = x * 2.0
        y.add_(1.0)
        z = lamina.zeros(x.shape[0], 3)
        z.copy_(x[:, :3])
        z.mul_(3.0)
        w = x.clone()
        w.zero_()
        v = x.clone()
        v.fill_(0.25)
        ids.add_(2)
        return y, z, w + 1.0, v, ids

    ids = lambda b: lamina.tensor(np.arange(2 * b).reshape(b, 2), dtype=lamina.int64)  # noqa: E731
    check_export(f, (lamina.randn(4, 5), ids(4)), (lamina.randn(2, 5), ids(2)))


def test_attention_float_mask_with_a_fully_masked_row():
    import lamina.nn.functional as F
    m = np.zeros((4, 5), dtype=np.float32)
    m[1, :] = -np.inf  # query 1 may attend to nothing: lamina gives a zero row
    m[2, 3] = -1.5
    mask = lamina.from_numpy(m)

    def f(q, k):
        return F.scaled_dot_product_attention(q, k, k, attn_mask=mask)

    check_export(f, (lamina.randn(2, 4, 8), lamina.randn(2, 5, 8)), (lamina.randn(3, 4, 8), lamina.randn(3, 5, 8)))


def test_python_numbers_that_follow_the_batch():
    def f(x):
        return x * x.shape[0] - len(x) * 2.0, (x + x.shape[0]).mean(0)

    check_export(f, lamina.randn(3, 2), lamina.randn(6, 2))
