"""Random programs (hypothesis): a chain of lamina ops on a [B, 4, 6] input is traced and exported;
the graph re-run at another batch size equals eager lamina bit for bit, and onnxruntime equals it
within 1e-5 (relative to the output's scale) at both batch sizes."""
from __future__ import annotations

import io

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import jit

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
hyp = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

from _export_check import close, flat, session  # noqa: E402

# (name, fn): each keeps the input's rank 3 and its batch axis 0
OPS = [
    ("relu", lambda x: F.relu(x)),
    ("tanh", lambda x: x.tanh()),
    ("sigmoid", lambda x: x.sigmoid()),
    ("gelu", lambda x: F.gelu(x)),
    ("leaky", lambda x: F.leaky_relu(x, 0.1)),
    ("affine", lambda x: x * 1.5 - 0.25),
    ("rsub", lambda x: 1.0 - x),
    ("square", lambda x: x * x),
    ("abs_sqrt", lambda x: (x.abs() + 0.1).sqrt()),
    ("center", lambda x: x - x.mean(dim=-1, keepdim=True)),
    ("softmax", lambda x: F.softmax(x, dim=-1)),
    ("log_softmax1", lambda x: F.log_softmax(x, dim=1)),
    ("transpose", lambda x: x.transpose(1, 2)),
    ("flip_reshape", lambda x: x.reshape(x.shape[0], x.shape[2], x.shape[1])),
    ("slice_cat", lambda x: lamina.cat([x[:, :, 1:], x[:, :, :1]], dim=2)),
    ("maximum", lambda x: lamina.maximum(x, x.transpose(1, 2).transpose(1, 2) * 0.5)),
    ("clamp", lambda x: x.clamp(-0.5, 0.5)),
    ("where", lambda x: lamina.where(x > 0.1, x, x * 0.2)),
    ("sum_expand", lambda x: x.sum(dim=1, keepdim=True).expand(*x.shape) * 0.1),
    ("amax_sub", lambda x: x - x.amax(dim=(1, 2), keepdim=True)),
]


@hyp.settings(max_examples=25, deadline=None, derandomize=True)
@hyp.given(st.lists(st.sampled_from(range(len(OPS))), min_size=1, max_size=6))
def test_random_programs_trace_and_export(picks):
    def f(x):
        for i in picks:
            x = OPS[i][1](x)
        return x

    lamina.manual_seed(len(picks))
    x3, x5 = lamina.randn(3, 4, 6), lamina.randn(5, 4, 6)
    g = jit.trace(f, x3)
    np.testing.assert_array_equal(g(x5).numpy(), f(x5).numpy(), err_msg=str([OPS[i][0] for i in picks]))
    buf = io.BytesIO()
    lamina.onnx.export(f, x3, buf)
    sess = session(buf.getvalue())
    for x in (x3, x5):
        close(sess.run(None, {"input": x.numpy()})[0], flat(f(x))[0], what=str([OPS[i][0] for i in picks]))
