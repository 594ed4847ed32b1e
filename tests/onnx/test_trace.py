"""lamina.jit.trace: the graph prints like a program, re-runs equal to the module (at other batch
sizes too: the batch is symbolic), exposes nodes/inputs/outputs, warns when a traced value becomes
a Python number, and refuses (TraceError) what it cannot hold faithfully: data-dependent control
flow, tensors made or changed outside the recorded ops that depend on the input."""
from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import lamina
import lamina.nn as nn
import lamina.nn.functional as F
from lamina import jit
from lamina.jit import Sym, TraceError, TracerWarning
from lamina.models import MLP, LeNet5


def _eq(a, b):
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_mlp_graph_prints_reruns_and_is_inspectable():
    m = MLP([6, 5, 3]).eval()
    g = jit.trace(m, lamina.randn(4, 6))
    text = str(g)
    lines = text.splitlines()
    assert lines[0] == "graph(" and lines[1].strip() == "%input : f32[B, 6],"
    assert "%1.weight : f32[5, 6]," in text and "# param" in text
    assert any("= Linear(%" in ln for ln in lines) and any("= Relu(%" in ln and "# 2" in ln for ln in lines)
    assert lines[-1].startswith("  return %")
    assert len([ln for ln in lines if " = " in ln]) == len(g.nodes)  # one line per node
    assert [n.kind for n in g.nodes] == ["Reshape", "Linear", "Relu", "Linear"]
    assert [v.name for v in g.inputs] == ["input", "1.weight", "1.bias", "3.weight", "3.bias"]
    assert [v.kind for v in g.inputs] == ["input", "param", "param", "param", "param"]
    assert g.outputs[0].shape == (Sym(1), 3) and g.outputs[0].dtype is lamina.float32
    lin = g.nodes[1]
    assert lin.inputs[0] is g.nodes[0].outputs[0] and lin.inputs[1].name == "1.weight"
    assert g.nodes[2].attrs() == {"p0": 0.0, "p1": 0.0}
    for b in (4, 1, 9):
        x = lamina.randn(b, 6)
        _eq(g(x), m(x))


def test_lenet_at_other_batch_sizes_and_parameters_are_live():
    m = LeNet5().eval()
    g = jit.trace(m, lamina.randn(2, 1, 28, 28))
    reshape = next(n for n in g.nodes if n.kind == "Reshape")
    assert reshape.args[1] == [Sym(1), 400]  # x.view(B, -1) recorded with a symbolic batch
    x = lamina.randn(7, 1, 28, 28)
    _eq(g(x), m(x))
    with lamina.no_grad():
        m.classifier[1].weight.mul_(0.5)  # the graph reads the module's parameters, not copies
    _eq(g(x), m(x))


def test_batch_arithmetic_becomes_symbolic():
    def f(x):
        B, T = x.shape[0], x.shape[1]
        y = x.reshape(B * T, x.shape[2]) * 2.0
        return y.reshape(B, T * x.shape[2]) + lamina.ones(B, 1)

    g = jit.trace(f, lamina.randn(3, 4, 5))
    shapes = [n.args[1] for n in g.nodes if n.kind == "Reshape"]
    assert shapes == [[Sym(4), 5], [Sym(1), 20]]
    full = next(n for n in g.nodes if n.kind == "Full")
    assert full.args[0] == [Sym(1), 1]
    assert "f32[4*B, 5]" in str(g)
    x = lamina.randn(6, 4, 5)
    _eq(g(x), f(x))


def test_batch_dim_other_than_zero_and_lstm_module_node():
    rnn = nn.LSTM(3, 4, num_layers=2)
    g = jit.trace(rnn, lamina.randn(5, 2, 3), batch_dim=1)
    assert [n.kind for n in g.nodes] == ["LSTM"] and g.nodes[0].is_module
    assert g.outputs[0].shape == (5, Sym(1), 4) and len(g.outputs) == 3
    x = lamina.randn(5, 6, 3)
    out, (h, c) = g(x)
    ref, (rh, rc) = rnn(x)
    _eq(out, ref)
    _eq(h, rh)
    _eq(c, rc)
    g2 = jit.trace(rnn, lamina.randn(5, 2, 3), batch_dim=1, leaf_modules=())  # traced into
    assert {n.kind for n in g2.nodes} >= {"RnnSequence", "Full"}
    _eq(g2(x)[0], ref)


def test_transformer_layer_reruns():
    m = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True).eval()
    g = jit.trace(m, lamina.randn(2, 5, 8))
    kinds = [n.kind for n in g.nodes]
    assert "ScaledDotProductAttention" in kinds
    assert kinds.count("Split") == 1  # the bias chunks self-attention computes but never reads are dropped
    assert [n.index for n in g.nodes] == list(range(len(g.nodes)))
    x = lamina.randn(4, 5, 8)
    np.testing.assert_allclose(g(x).detach().numpy(), m(x).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_python_number_from_traced_value_warns():
    # a Python value that follows the batch size is fine (it becomes symbolic), with a warning
    with pytest.warns(TracerWarning, match=r"tolist\(\)"):
        g = jit.trace(lambda x: x * len(x[:, 0].tolist()), lamina.randn(3, 2))
    x = lamina.randn(5, 2)
    _eq(g(x), x * 5.0)

    def f(x):
        s = x.sum().item()  # data dependent: the graph would freeze it, so trace refuses
        return x * s

    with pytest.warns(TracerWarning, match=r"item\(\)"), pytest.raises(TraceError, match="Python number"):
        jit.trace(f, lamina.randn(3, 2))
    with pytest.warns(TracerWarning, match=r"item\(\)"), pytest.raises(TraceError):
        jit.trace(lambda x: x * float(x[0, 0]), lamina.randn(3, 2))


def test_parameters_to_python_do_not_warn():
    m = nn.Linear(2, 2)

    def f(x):
        return m(x) * float(m.bias[0].detach())

    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        jit.trace(f, lamina.randn(3, 2))


def test_data_dependent_control_flow_raises():
    def f(x):
        if x.shape[0] % 2:  # a different path at another batch size
            return x.relu()
        return x.tanh()

    with pytest.raises(TraceError, match="different ops.*data-dependent"):
        jit.trace(f, lamina.ones(3, 2))

    def g(x):
        if bool(x.sum() > 0):  # data-dependent: warned about (the path is frozen)
            return x.relu()
        return x.tanh()

    with pytest.warns(TracerWarning, match="item"):
        jit.trace(g, lamina.ones(3, 2))


def test_untracked_tensor_that_depends_on_input_raises():
    def f(x):
        noise = lamina.from_numpy(x.detach().numpy() * 0.0 + 1.0)  # a numpy round trip
        return x + noise

    with pytest.raises(TraceError, match=r"does not record.*changes with the input"):
        jit.trace(f, lamina.randn(3, 2))


def test_in_place_outside_the_graph_raises():
    def f(x):
        y = x * 2.0
        y.data.add_(1.0)  # through .data: another tensor object on the same memory
        return y + 1.0

    with pytest.raises(TraceError, match="changed in place"):
        jit.trace(f, lamina.randn(3, 2))


def test_in_place_ops_are_recorded():
    def f(x, ids):
        y = x * 2.0
        y.add_(1.0)
        F.relu(y, inplace=True)
        x.mul_(0.5)  # on the input itself
        with lamina.no_grad():
            y.sub_(x)  # without grad mode
        ids.add_(1)  # on an integer tensor
        return y + ids.sum(1, keepdim=True)

    ids = lamina.tensor([[0, 1], [2, 3], [4, 5]], dtype=lamina.int64)
    g = jit.trace(f, (lamina.randn(3, 2), ids))
    assert [n.kind for n in g.nodes].count("Sub") == 1
    x, ids2 = lamina.randn(5, 2), lamina.tensor([[1, 1], [0, 2], [3, 3], [2, 0], [1, 4]], dtype=lamina.int64)
    expect = f(x.clone(), ids2.clone())
    _eq(g(x.clone(), ids2.clone()), expect)


def test_captured_constant_and_multiple_outputs():
    w = lamina.randn(2, 2)

    def f(x, y):
        return {"a": 1} and (x @ w, (y - x, x.sum(1)))

    g = jit.trace(f, (lamina.randn(3, 2), lamina.randn(3, 2)))
    assert [c.kind for c in g.constants] == ["const"] and g.constants[0].shape == (2, 2)
    x, y = lamina.randn(4, 2), lamina.randn(4, 2)
    a, (b, c) = g(x, y)
    ra, (rb, rc) = f(x, y)
    _eq(a, ra)
    _eq(b, rb)
    _eq(c, rc)


def test_other_threads_are_not_recorded():
    stop = threading.Event()

    def busy():
        t = lamina.randn(4, 4, requires_grad=True)
        while not stop.is_set():
            (t * 2.0).sum()

    th = threading.Thread(target=busy)
    th.start()
    try:
        g = jit.trace(lambda x: (x + 1.0).tanh(), lamina.randn(3, 3))
    finally:
        stop.set()
        th.join()
    assert [n.kind for n in g.nodes] == ["AddScalar", "Tanh"]


def test_errors_for_bad_arguments():
    with pytest.raises(TypeError, match="must be a Tensor"):
        jit.trace(lambda x: x, (3,))
    with pytest.raises(ValueError, match="disagree on the batch size"):
        jit.trace(lambda x, y: x + y, (lamina.randn(2, 3), lamina.randn(3, 3)))
    g = jit.trace(lambda x: x * 2.0, lamina.randn(2, 3))
    with pytest.raises(ValueError, match="must be 2-D"):
        g(lamina.randn(3))


def test_tracing_leaves_no_hook_behind():
    from lamina._state import _tracers
    jit.trace(MLP([3, 2]), lamina.randn(2, 3))
    assert _tracers == []
    with pytest.raises(TraceError):
        jit.trace(lambda x: x + lamina.from_numpy(x.detach().numpy().copy()), lamina.randn(2, 2))
    assert _tracers == []


def test_graph_is_differentiable():
    m = MLP([4, 5, 3])
    g = jit.trace(m, lamina.randn(2, 4))
    x = lamina.randn(3, 4)
    g(x).sum().backward()
    grads = [p.grad.numpy().copy() for p in m.parameters()]
    m.zero_grad()
    m(x).sum().backward()
    for a, p in zip(grads, m.parameters()):
        np.testing.assert_array_equal(a, p.grad.numpy())


def test_integer_arithmetic_and_no_grad_fast_paths_are_recorded():
    emb = nn.Embedding(10, 3)

    def f(ids, x):
        wrapped = (ids - 10) + 10           # integer arithmetic (no gradient anywhere)
        with lamina.no_grad():
            y = F.relu(x) * 2.0             # fast paths that skip autograd
        return emb(wrapped).sum(1) + y.abs().tanh()

    ids = lamina.tensor([[1, 2], [3, 9], [0, 5]], dtype=lamina.int64)
    g = jit.trace(f, (ids, lamina.randn(3, 3)))
    kinds = [n.kind for n in g.nodes]
    assert kinds.count("SubScalar") == 1 and kinds.count("AddScalar") == 1 and "Relu" in kinds and "Abs" in kinds
    ids2, x2 = lamina.tensor([[4, 4], [7, 1]], dtype=lamina.int64), lamina.randn(2, 3)
    _eq(g(ids2, x2), f(ids2, x2))


def test_trace_updates_running_statistics_once():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m2 = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m2.load_state_dict(m.state_dict())
    x = lamina.randn(5, 3)
    jit.trace(m, x)
    m2(x)
    _eq(m[1].running_mean, m2[1].running_mean)
    _eq(m[1].running_var, m2[1].running_var)
    assert int(m[1].num_batches_tracked.item()) == 1


def test_op_returning_a_one_element_tuple():
    def f(x):
        (only,) = x.split(4, dim=1)  # Split returns a tuple even for one piece
        return only * 2.0

    g = jit.trace(f, lamina.randn(3, 4))
    x = lamina.randn(5, 4)
    _eq(g(x), f(x))


def test_write_into_a_region_raises():
    def f(x):
        y = x * 2.0
        y[:, 1:] = 0.5
        return y

    with pytest.raises(TraceError, match=r"write into part of a tensor.*CopySlices"):
        jit.trace(f, lamina.randn(3, 4))

    def g(x):
        y = x * 2.0
        y[:, 1:].relu_()
        return y

    with pytest.raises(TraceError, match="write into part of a tensor"):
        jit.trace(g, lamina.randn(3, 4))


def test_function_that_works_at_one_batch_size_only():
    def f(x):
        return x.reshape(4, -1) * 2.0  # assumes 4 rows

    with pytest.raises(TraceError, match=r"runs at batch 4 but fails at batch 5.*batch_dim=None"):
        jit.trace(f, lamina.randn(4, 6))
    g = jit.trace(f, lamina.randn(4, 6), batch_dim=None)  # fixed shapes: fine
    x = lamina.randn(4, 6)
    _eq(g(x), f(x))
