"""lamina.onnx.load_model on bad input: not ONNX, truncated, unknown op, unsupported opset,
missing file, an attribute lamina cannot run; each a clear exception naming what is wrong."""
from __future__ import annotations

import lamina
import lamina.onnx
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from _import_graphs import residual_cnn
from lamina.onnx.importer import OnnxImportError
from onnx import TensorProto, helper


def _one_node(node, opset=17, in_shape=(2, 3), out_shape=(2, 3), domain=""):
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))])
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(g, opset_imports=imports)


def test_not_onnx(tmp_path):
    p = tmp_path / "notes.onnx"
    p.write_text("this is a text file, not a model\n" * 20)
    with pytest.raises(OnnxImportError, match="notes.onnx is not an ONNX model"):
        lamina.onnx.load_model(str(p))


def test_truncated_file(tmp_path):
    data = residual_cnn().SerializeToString()
    for frac in (0.1, 0.5, 0.9, 0.999):
        p = tmp_path / f"cut{frac}.onnx"
        p.write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(OnnxImportError, match=f"cut{frac}.onnx"):
            lamina.onnx.load_model(p)


def test_missing_file_and_wrong_type(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.onnx"):
        lamina.onnx.load_model(tmp_path / "nowhere.onnx")
    with pytest.raises(TypeError, match="expected a path, bytes or onnx.ModelProto"):
        lamina.onnx.load_model(42)


def test_unknown_op_names_op_node_and_opset():
    m = _one_node(helper.make_node("FancyOp", ["x"], ["y"], name="layer7"))
    with pytest.raises(NotImplementedError, match=r"FancyOp.*'layer7'.*opset 17"):
        lamina.onnx.load_model(m)


def test_op_lamina_lacks_names_op_node_and_opset():
    m = _one_node(helper.make_node("Det", ["x"], ["y"], name="det"), opset=18, in_shape=(3, 3), out_shape=())
    with pytest.raises(NotImplementedError, match=r"ONNX op Det of node 'det' \(opset 18\)"):
        lamina.onnx.load_model(m)


def test_custom_domain_op_is_reported():
    m = _one_node(helper.make_node("Gelu", ["x"], ["y"], name="g", domain="com.microsoft"), domain="com.microsoft")
    with pytest.raises(NotImplementedError, match=r"Gelu \(domain 'com.microsoft'\) of node 'g'"):
        lamina.onnx.load_model(m)


@pytest.mark.parametrize("opset", [9, 12])
def test_opset_below_13_is_refused_with_a_hint(opset):
    m = _one_node(helper.make_node("Relu", ["x"], ["y"]), opset=opset)
    with pytest.raises(OnnxImportError, match=rf"opset {opset}; lamina imports opsets 13 to \d+.*version_converter"):
        lamina.onnx.load_model(m)


def test_opset_newer_than_onnx_knows_is_refused():
    top = onnx.defs.onnx_opset_version()
    m = _one_node(helper.make_node("Relu", ["x"], ["y"]), opset=top)
    m.opset_import[0].version = top + 5  # the checker itself may or may not accept it
    with pytest.raises(OnnxImportError, match=rf"(opset {top + 5}|onnx.checker)"):
        lamina.onnx.load_model(m)


def test_invalid_graph_fails_the_checker():
    m = _one_node(helper.make_node("Relu", ["nothing"], ["y"]))
    with pytest.raises(OnnxImportError, match="onnx.checker"):
        lamina.onnx.load_model(m)


def test_unsupported_attribute_is_reported_at_run_time_with_node_and_shapes():
    w = onnx.numpy_helper.from_array(np.ones((1, 2, 2, 2, 2), dtype=np.float32), "w")
    g = helper.make_graph([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up3d")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 5, 5, 5])], [w])
    m = lamina.onnx.load_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(NotImplementedError, match=r"ONNX ConvTranspose node 'up3d' \(opset 17\).*3-D spatial input"):
        m(lamina.zeros(1, 1, 4, 4, 4))


def test_shape_error_names_node_and_input_shapes():
    m = lamina.onnx.load_model(residual_cnn())
    with pytest.raises(Exception, match=r"stem_conv.*input shapes \[\[2, 4, 12, 12\]"):
        m(lamina.zeros(2, 4, 12, 12))


def test_unsupported_dtype_input_is_reported():
    m = _one_node(helper.make_node("Relu", ["x"], ["y"]))
    with pytest.raises(TypeError, match="float16"):
        m_ = lamina.onnx.load_model(m)
        m_(np.zeros((2, 3), dtype=np.float16))


def test_wrong_input_rank_names_node_and_shapes():
    m = lamina.onnx.load_model(residual_cnn())
    with pytest.raises(ValueError, match=r"Conv node 'stem_conv'.*weight of shape \[8, 3, 3, 3\] does not fit an "
                                         r"input of shape \[1, 2, 3, 12, 12\]"):
        m(lamina.zeros(1, 2, 3, 12, 12))
