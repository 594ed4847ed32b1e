"""lamina.onnx.load_model on graphs built with onnx.helper (a residual CNN with BatchNormalization,
an LSTM classifier), compared with onnxruntime; parameters/buffers and their names; fine-tuning
an imported model with lamina.optim; graph inputs with initializers."""
from __future__ import annotations

import lamina
import lamina.nn.functional as F
import lamina.onnx
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _import_graphs import lstm_classifier, residual_cnn, run_ort

RTOL = 1e-5


def _close(got, ref, rtol=RTOL):
    # 1e-5 relative to each output's scale (an absolute floor of 1e-5 * max|ref| for entries near 0)
    ref = np.asarray(ref)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * float(np.abs(ref).max()))


@pytest.mark.parametrize("batch", [1, 6])
@pytest.mark.parametrize("opset", [13, 17, onnx.defs.onnx_opset_version()])
def test_residual_cnn_matches_onnxruntime(batch, opset):
    model = residual_cnn(opset=opset)
    m = lamina.onnx.load_model(model)
    x = np.random.default_rng(batch).normal(size=(batch, 3, 12, 12)).astype(np.float32)
    (ref,) = run_ort(model, {"x": x})
    got = m(lamina.from_numpy(x)).detach().numpy()
    assert got.shape == ref.shape == (batch, 5)
    _close(got, ref)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("shape", [(5, 1), (9, 4)])
def test_lstm_classifier_matches_onnxruntime(bidirectional, shape):
    model = lstm_classifier(bidirectional=bidirectional)
    m = lamina.onnx.load_model(model)
    tokens = np.random.default_rng(3).integers(0, 11, size=shape).astype(np.int64)
    (ref,) = run_ort(model, {"tokens": tokens})
    got = m(lamina.from_numpy(tokens)).detach().numpy()
    assert got.shape == ref.shape == (shape[1], 4)
    _close(got, ref)


def test_lstm_general_path_matches_onnxruntime():
    """peepholes, clip and a non-default activation take the step-by-step composed path."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(4)
    h, i, t, n = 5, 3, 4, 2
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, s).astype(np.float32), nm) for nm, s in
             [("W", (1, 4 * h, i)), ("R", (1, 4 * h, h)), ("B", (1, 8 * h)), ("P", (1, 3 * h))]]
    node = helper.make_node("LSTM", ["x", "W", "R", "B", "", "", "", "P"], ["y", "y_h", "y_c"], hidden_size=h,
                            clip=1.5, activations=["Sigmoid", "Softsign", "Tanh"])
    g = helper.make_graph([node], "lstm_peep", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [t, n, i])],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, s) for o, s in
                           (("y", [t, 1, n, h]), ("y_h", [1, n, h]), ("y_c", [1, n, h]))],
                          inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.normal(size=(t, n, i)).astype(np.float32)
    refs = run_ort(model, {"x": x})
    gots = lamina.onnx.load_model(model)(lamina.from_numpy(x))
    for got, ref in zip(gots, refs):
        _close(got.detach().numpy(), ref)


def test_initializers_become_parameters_and_buffers():
    m = lamina.onnx.load_model(residual_cnn())
    params = dict(m.named_parameters())
    buffers = dict(m.named_buffers())
    assert set(params) == {"stem.conv.weight", "stem.conv.bias", "stem.bn.weight", "stem.bn.bias",
                           "block.conv.weight", "block.bn.weight", "block.bn.bias", "down.weight",
                           "head.weight", "head.bias"}
    # BatchNormalization statistics are buffers, as in lamina's own BatchNorm2d
    assert set(buffers) == {"stem.bn.running_mean", "stem.bn.running_var", "block.bn.running_mean",
                            "block.bn.running_var"}
    assert all(p.requires_grad for p in params.values())
    sd = m.state_dict()
    assert set(sd) == set(params) | set(buffers)
    assert m.onnx_names["stem.conv.weight"] == "stem.conv.weight"
    # integer initializers (shapes) are buffers too
    lm = lamina.onnx.load_model(lstm_classifier())
    assert "perm_shape" in dict(lm.named_buffers())
    assert dict(lm.named_buffers())["perm_shape"].dtype is lamina.int64


def test_odd_initializer_names_are_sanitised_and_mapped():
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.eye(3, dtype=np.float32), "onnx::MatMul_7")
    b = numpy_helper.from_array(np.ones(3, dtype=np.float32), "/fc/bias:0")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "onnx::MatMul_7"], ["y0"]),
                           helper.make_node("Add", ["y0", "/fc/bias:0"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w, b])
    m = lamina.onnx.load_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert set(m.onnx_names.values()) == set(m.state_dict())
    assert m.onnx_names["onnx::MatMul_7"] == "onnx__MatMul_7"
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(m(lamina.from_numpy(x)).detach().numpy(), x + 1)


def test_state_dict_round_trip_between_imports():
    a = lamina.onnx.load_model(residual_cnn(seed=0))
    b = lamina.onnx.load_model(residual_cnn(seed=7))
    x = lamina.randn(2, 3, 12, 12)
    assert not np.allclose(a(x).detach().numpy(), b(x).detach().numpy())
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())


def test_graph_input_with_initializer_is_an_overridable_default():
    from onnx import TensorProto, helper, numpy_helper
    scale = numpy_helper.from_array(np.full(3, 2.0, dtype=np.float32), "scale")
    g = helper.make_graph([helper.make_node("Mul", ["x", "scale"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
                           helper.make_tensor_value_info("scale", TensorProto.FLOAT, [3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])], [scale])
    m = lamina.onnx.load_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert m.input_names == ["x"] and m.optional_input_names == ["scale"]
    x = lamina.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(m(x).detach().numpy(), [2, 4, 6])
    np.testing.assert_array_equal(m(x, lamina.tensor([1.0, 0.0, -1.0])).detach().numpy(), [1, 0, -3])
    np.testing.assert_array_equal(m(x, scale=lamina.tensor([3.0, 3.0, 3.0])).detach().numpy(), [3, 6, 9])
    with pytest.raises(TypeError, match="missing graph inputs"):
        m()
    with pytest.raises(TypeError, match="no graph input named 'bogus'"):
        m(x, bogus=x)


def test_gradients_match_finite_differences_through_imported_graph():
    model = residual_cnn(classes=3)
    m = lamina.onnx.load_model(model)
    m.double()
    x = lamina.randn(2, 3, 12, 12, dtype=lamina.float64)
    w = m.head.weight
    loss = m(x).square().sum()
    loss.backward()
    g = w.grad.detach().numpy().copy()
    eps = 1e-6
    for idx in [(0, 0), (2, 5), (1, 15)]:
        with lamina.no_grad():
            old = float(w[idx].item())
            w[idx] = old + eps
            up = float(m(x).square().sum().item())
            w[idx] = old - eps
            down = float(m(x).square().sum().item())
            w[idx] = old
        assert abs((up - down) / (2 * eps) - g[idx]) <= 1e-5 * max(1.0, abs(g[idx]))


def test_fine_tuning_an_imported_cnn_lowers_its_loss():
    lamina.manual_seed(0)
    m = lamina.onnx.load_model(residual_cnn(classes=5))
    rng = np.random.default_rng(0)
    x = lamina.from_numpy(rng.normal(size=(32, 3, 12, 12)).astype(np.float32))
    y = lamina.from_numpy(rng.integers(0, 5, size=32).astype(np.int64))
    opt = lamina.optim.Adam(m.parameters(), lr=0.01)
    before = float(F.cross_entropy(m(x), y).item())
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
    after = float(F.cross_entropy(m(x), y).item())
    assert after < 0.5 * before, (before, after)
    # eval mode keeps the BatchNormalization statistics (buffers) as imported
    ref = lamina.onnx.load_model(residual_cnn(classes=5))
    np.testing.assert_array_equal(m.stem.bn.running_mean.detach().numpy(), ref.stem.bn.running_mean.detach().numpy())


def test_fine_tuning_an_imported_lstm_lowers_its_loss():
    m = lamina.onnx.load_model(lstm_classifier(bidirectional=True))
    rng = np.random.default_rng(1)
    tokens = lamina.from_numpy(rng.integers(0, 11, size=(7, 16)).astype(np.int64))
    y = lamina.from_numpy(rng.integers(0, 4, size=16).astype(np.int64))
    opt = lamina.optim.Adam(m.parameters(), lr=0.03)
    before = float(F.nll_loss(m(tokens), y).item())
    for _ in range(40):
        opt.zero_grad()
        loss = F.nll_loss(m(tokens), y)
        loss.backward()
        opt.step()
    after = float(F.nll_loss(m(tokens), y).item())
    assert after < 0.5 * before, (before, after)
    assert m.lstm.W.grad is not None and float(m.lstm.W.grad.abs().sum().item()) > 0


def test_train_mode_updates_batchnorm_statistics():
    m = lamina.onnx.load_model(residual_cnn())
    before = m.stem.bn.running_mean.detach().numpy().copy()
    m.train()
    m(lamina.randn(4, 3, 12, 12) * 3.0 + 1.0)
    assert not np.allclose(m.stem.bn.running_mean.detach().numpy(), before)
    m.eval()
    after = m.stem.bn.running_mean.detach().numpy().copy()
    m(lamina.randn(4, 3, 12, 12))
    np.testing.assert_array_equal(m.stem.bn.running_mean.detach().numpy(), after)


def test_load_from_path_and_bytes(tmp_path):
    model = residual_cnn()
    p = tmp_path / "cnn.onnx"
    onnx.save(model, str(p))
    x = lamina.randn(2, 3, 12, 12)
    a = lamina.onnx.load_model(str(p))(x).detach().numpy()
    b = lamina.onnx.load_model(p)(x).detach().numpy()
    c = lamina.onnx.load_model(model.SerializeToString())(x).detach().numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("kw", [{}, {"pads": [1, 0, 2, 1, 1, 0], "strides": [2, 1, 2]},
                                {"dilations": [2, 1, 1], "group": 2, "pads": [2, 1, 1, 2, 0, 1]},
                                {"group": 4, "auto_pad": "SAME_LOWER", "strides": [1, 2, 2]}])
def test_conv3d_as_depth_taps_matches_onnxruntime(kw):
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(5)
    group = kw.get("group", 1)
    w = numpy_helper.from_array(rng.normal(size=(4, 4 // group, 3, 2, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "b")
    g = helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], **kw)], "c3",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 7, 6, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, list("NCDHW"))], [w, b])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.normal(size=(2, 4, 7, 6, 8)).astype(np.float32)
    (ref,) = run_ort(model, {"x": x})
    m = lamina.onnx.load_model(model)
    xt = lamina.from_numpy(x).requires_grad_()
    got = m(xt)
    assert list(got.shape) == list(ref.shape)
    _close(got.detach().numpy(), ref)
    got.sum().backward()  # gradients flow to the input and to every tap's kernel
    assert xt.grad is not None and float(m.w.grad.abs().sum().item()) > 0
