"""onnx's own node test cases (loaded in memory with load_model_tests(kind="node")) against
lamina.onnx.backend: every case of every op lamina imports runs; the ones in
_conformance_exclusions.py are strict xfails (each with its reason), all others must pass.
Also: the Backend API (prepare / run_model / run_node / supports_device) and the core-op rate."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from _conformance_exclusions import EXCLUDED
from lamina.onnx import backend
from lamina.onnx._import_common import OPS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the case generators overflow casts on purpose
    CASES = {c.name: c for c in backend.node_test_cases()}
OP_OF = backend.case_op_types(CASES.values())
RUN = sorted(n for n in CASES if OP_OF[n] in OPS)


def _params():
    for name in RUN:
        if name in EXCLUDED:
            yield pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=EXCLUDED[name]), id=name)
        else:
            yield pytest.param(name, id=name)


@pytest.mark.parametrize("name", list(_params()))
def test_node_case(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cases that divide by zero or take log(0) on purpose
        backend.check_case(CASES[name])


def test_exclusions_name_real_cases_of_imported_ops():
    stale = [n for n in EXCLUDED if n not in CASES or OP_OF[n] not in OPS]
    assert not stale, f"exclusions for cases that do not exist or are not run: {stale}"


def test_core_ops_pass_rate_at_least_90_percent():
    """Every run, non-excluded case passes (test_node_case), so this bound is the real rate."""
    core = {op for ops in backend.CORE_OPS.values() for op in ops}
    names = [n for n in CASES if OP_OF[n] in core]
    passing = [n for n in names if OP_OF[n] in OPS and n not in EXCLUDED]
    rate = len(passing) / len(names)
    assert rate >= 0.90, f"core ops: {len(passing)} / {len(names)} = {rate:.1%}"


def test_backend_api():
    from onnx import TensorProto, helper
    assert backend.supports_device("CPU")
    assert not backend.supports_device("CUDA")
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1, alpha=0.5)
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=s).astype(np.float32) for s in ((3, 4), (5, 4), (5,)))
    (y,) = backend.run_node(node, [a, b, c])
    np.testing.assert_allclose(y, 0.5 * a @ b.T + c, rtol=1e-6, atol=1e-6)
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Cast", ["r"], ["y"], to=6)],
                          "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.INT32, [4])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = np.array([-1.5, 0.0, 2.7, 9.2], dtype=np.float32)
    (out,) = backend.run_model(model, [x])
    assert out.dtype == np.int32  # computed as lamina int64, returned in the declared type
    np.testing.assert_array_equal(out, [0, 0, 2, 9])
    rep = backend.prepare(model, "CPU")
    np.testing.assert_array_equal(rep.run({"x": x})[0], [0, 0, 2, 9])
    with pytest.raises(RuntimeError, match="CPU only"):
        backend.prepare(model, "CUDA")
