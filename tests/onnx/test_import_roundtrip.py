"""lamina -> ONNX -> lamina: every layer case of test_export_layers.py exported with
lamina.onnx.export, imported back with lamina.onnx.load_model and compared with the original
module at two batch sizes (1e-5 of the output's scale); gradients reach the imported weights;
an imported model exported again still matches onnxruntime."""
from __future__ import annotations

import io

import lamina
import lamina.onnx
import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _export_check import close, flat, session
from _import_graphs import lstm_classifier, residual_cnn
from test_export_layers import CASES


def _export(model, args, **kw) -> bytes:
    buf = io.BytesIO()
    lamina.onnx.export(model, args, buf, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layer_round_trip(case):
    _, _, build, inputs, kw = case
    lamina.manual_seed(1)
    m = build().eval()
    a, b = inputs(3), inputs(5)
    imported = lamina.onnx.load_model(_export(m, a, **kw))
    for args in (a, b):
        with lamina.no_grad():
            ref = flat(m(*args))
            got = flat(imported(*args))
        assert len(got) == len(ref)
        for i, (g, r) in enumerate(zip(got, ref)):
            close(g, r, what=f"{case[0]} output {i} at {[list(x.shape) for x in args]}")
    params = list(imported.parameters())
    if any(p.requires_grad for p in m.parameters()):
        assert params, "the imported model has no trainable parameters"
        out = flat_tensors(imported(*a))
        loss = sum((o.float() * o.float()).sum() for o in out if o.dtype.is_floating_point)
        loss.backward()
        assert any(p.grad is not None and float(p.grad.abs().sum().item()) > 0 for p in params)


def flat_tensors(x) -> list:
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in flat_tensors(v)]
    return [] if x is None else [x]


@pytest.mark.parametrize("make, x, kw", [
    (residual_cnn, lambda b: lamina.randn(b, 3, 12, 12), {}),
    (lstm_classifier, lambda b: lamina.tensor(np.random.default_rng(b).integers(0, 11, (6, b)), dtype=lamina.int64),
     {"input_names": ["tokens"], "dynamic_axes": {"tokens": {1: "batch"}}}),  # time-major: batch is axis 1
], ids=["residual_cnn", "lstm_classifier"])
def test_imported_model_exports_again(make, x, kw):
    m = lamina.onnx.load_model(make())
    data = _export(m, (x(4),), **kw)
    sess = session(data)
    for b in (4, 3):  # another batch (and other token ids) than the one traced
        xs = x(b)
        (got,) = sess.run(None, {sess.get_inputs()[0].name: xs.numpy()})
        with lamina.no_grad():
            ref = m(xs).numpy()
        close(got, ref, what=f"batch {b}")


def _models():
    from lamina.models import DBN, MLP, CharRNN, LeNet5, StackedDenoisingAutoencoder
    from lamina.rl.agent import mlp

    def dbn():
        m = DBN((64, 32, 16), n_classes=10)
        m.to_classifier()
        return m

    ids = lambda b: lamina.tensor(np.random.default_rng(b).integers(0, 30, (12, b)), dtype=lamina.int64)
    return [
        ("lenet5", LeNet5, lambda b: lamina.randn(b, 1, 28, 28)),
        ("mlp", lambda: MLP([64, 32, 16, 10], activation="sigmoid", dropout=0.2), lambda b: lamina.randn(b, 64)),
        ("dbn", dbn, lambda b: lamina.rand(b, 64)),
        ("sdae", lambda: StackedDenoisingAutoencoder((64, 32, 16), n_classes=10), lambda b: lamina.rand(b, 1, 8, 8)),
        ("char_lstm", lambda: CharRNN(30, embed_dim=8, hidden_size=16, num_layers=2, cell="lstm"), ids),
        ("char_gru", lambda: CharRNN(30, embed_dim=8, hidden_size=16, num_layers=2, cell="gru"), ids),
        ("dqn", lambda: mlp(4, 2, hidden=(32, 32)), lambda b: lamina.randn(b, 4)),
    ]


@pytest.mark.parametrize("name, build, inputs", _models(), ids=[m[0] for m in _models()])
def test_model_round_trip(name, build, inputs):
    lamina.manual_seed(2)
    m = build().eval()
    kw = {"dynamic_axes": {"input0": {1: "batch"}}, "input_names": ["input0"]} if name.startswith("char") else {}
    imported = lamina.onnx.load_model(_export(m, (inputs(4),), **kw))
    for b in (4, 1):
        x = inputs(b)
        with lamina.no_grad():
            for g, r in zip(flat(imported(x)), flat(m(x))):
                close(g, r, what=f"{name} at batch {b}")
    # weights exported under their module paths come back under the same state_dict keys
    mine, theirs = m.state_dict(), imported.state_dict()
    shared = [k for k in mine if k in theirs]
    assert shared, f"no state_dict key survived the round trip: {list(theirs)[:5]}"
    for k in shared:
        np.testing.assert_array_equal(theirs[k].numpy(), mine[k].numpy(), err_msg=k)
