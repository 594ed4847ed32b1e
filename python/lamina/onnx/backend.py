"""``lamina.onnx.backend``: lamina as an ``onnx.backend.base.Backend``, so onnx's own node test
cases (``onnx.backend.test.loader.load_model_tests``) run against it. ``prepare`` imports the model
with :func:`lamina.onnx.load_model`; ``BackendRep.run`` takes and returns NumPy arrays.
"""
from __future__ import annotations

import numpy as np
from onnx import ModelProto, NodeProto, TensorProto, helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

from ..autograd.grad_mode import no_grad
from ._import_common import np_dtype_of
from .importer import OnnxModule, load_model, max_opset


def _upgrade(model: ModelProto) -> ModelProto:
    """Models older than opset 13 are upgraded with onnx's version converter first (load_model
    itself accepts 13 and newer only, and says how to convert)."""
    from .importer import MIN_OPSET
    ver = next((i.version for i in model.opset_import if i.domain in ("", "ai.onnx")), None)
    if ver is None or ver >= MIN_OPSET:
        return model
    from onnx import version_converter
    return version_converter.convert_version(model, MIN_OPSET)


class LaminaRep(BackendRep):
    """A prepared model: ``run(inputs)`` returns one NumPy array per graph output, in the element
    type the graph declares (lamina computes narrow integers as int64; they are cast back)."""

    def __init__(self, module: OnnxModule, output_types: dict) -> None:
        super().__init__()
        self.module = module
        self._types = output_types

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            args, named = [], dict(inputs)
        elif isinstance(inputs, np.ndarray):
            args, named = [inputs], {}
        else:
            args, named = list(inputs), {}
        with no_grad():
            out = self.module(*args, **named)
        outs = out if isinstance(out, tuple) else (out,)
        res = []
        for name, t in zip(self.module.output_names, outs):
            a = t.numpy()
            et = self._types.get(name, TensorProto.UNDEFINED)
            if et != TensorProto.UNDEFINED:
                want = np_dtype_of(et)
                if a.dtype != want:
                    a = a.astype(want)
            res.append(a)
        return tuple(res)


class LaminaBackend(Backend):
    """onnx.backend.base.Backend over lamina (CPU only)."""

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return Device(device).type == DeviceType.CPU

    @classmethod
    def prepare(cls, model: ModelProto, device: str = "CPU", **kwargs) -> LaminaRep:
        super().prepare(model, device, **kwargs)
        if not cls.supports_device(device):
            raise RuntimeError(f"lamina.onnx.backend: device {device!r} is not supported (CPU only)")
        m = load_model(_upgrade(model))
        return LaminaRep(m, {o.name: o.type.tensor_type.elem_type for o in model.graph.output})

    @classmethod
    def run_model(cls, model: ModelProto, inputs, device: str = "CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: NodeProto, inputs, device: str = "CPU", outputs_info=None, **kwargs):
        """Run one node on NumPy ``inputs`` (a list in the node's input order, or a dict by name)."""
        super().run_node(node, inputs, device=device, outputs_info=outputs_info)
        names = [n for n in node.input if n]
        vals = [inputs[n] for n in names] if isinstance(inputs, dict) else list(inputs)
        graph_in = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype),
                                                  list(np.shape(v))) for n, v in zip(names, vals)]
        out_types = []
        for i, o in enumerate(node.output):
            et = TensorProto.UNDEFINED
            if outputs_info is not None and i < len(outputs_info):
                et = helper.np_dtype_to_tensor_dtype(np.dtype(outputs_info[i][0]))
            out_types.append(helper.make_tensor_value_info(o, et, None))
        graph = helper.make_graph([node], "run_node", graph_in, out_types)
        opset = kwargs.get("opset_version", max_opset())
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        rep = LaminaRep(OnnxModule(model, opset), {o.name: o.type.tensor_type.elem_type for o in out_types})
        return rep.run(vals)


prepare = LaminaBackend.prepare
run_model = LaminaBackend.run_model
run_node = LaminaBackend.run_node
supports_device = LaminaBackend.supports_device


# ---- onnx's node test cases, in memory (the onnx wheel ships no test data files) ----

# issue 15's core deep-learning ops by family (the coverage table's and the conformance test's
# "at least 90% of their node cases pass")
CORE_OPS = {
    "conv": ["Conv", "ConvTranspose"],
    "pools": ["MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool"],
    "gemm/matmul": ["Gemm", "MatMul"],
    "elementwise": ["Add", "Sub", "Mul", "Div", "Pow", "Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Sign",
                    "Sin", "Cos", "Tan", "Floor", "Ceil", "Round", "Erf", "Mod", "Max", "Min", "Sum", "Mean",
                    "Clip", "Where", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or",
                    "Xor", "Not", "IsNaN", "IsInf"],
    "activations": ["Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish",
                    "Tanh", "Softplus", "Softsign", "Gelu", "Mish", "ThresholdedRelu", "Swish", "Shrink"],
    "softmax": ["Softmax", "LogSoftmax", "Hardmax"],
    "normalisation": ["BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
                      "RMSNormalization", "LpNormalization", "MeanVarianceNormalization", "LRN"],
    "recurrent": ["RNN", "LSTM", "GRU"],
    "shape": ["Reshape", "Transpose", "Concat", "Slice", "Gather", "GatherElements", "GatherND", "Pad", "Flatten",
              "Squeeze", "Unsqueeze", "Expand", "Tile", "Split", "Shape", "Size", "ConstantOfShape", "Identity",
              "DepthToSpace", "SpaceToDepth", "Range", "Trilu", "OneHot", "Resize", "ScatterElements",
              "ScatterND", "Dropout"],
    "reductions": ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin"],
}


def node_test_cases() -> list:
    """Every node test case the installed onnx defines (``load_model_tests(kind="node")``)."""
    from onnx.backend.test.loader import load_model_tests
    return load_model_tests(kind="node")


def case_op_types(cases) -> dict:
    """case name -> the ONNX op it tests (an ``*_expanded*`` case, the function body of an op, is
    counted under that op)."""
    single = {c.name: c.model.graph.node[0].op_type for c in cases if len(c.model.graph.node) == 1}
    out = {}
    for c in cases:
        base = c.name.split("_expanded")[0]
        if base in single:
            out[c.name] = single[base]
        else:
            ops = [n.op_type for n in c.model.graph.node if n.op_type != "Constant"]
            out[c.name] = ops[0] if ops else "Constant"
    return out


def check_case(case) -> None:
    """Run one node test case and compare with its reference outputs as onnx's runner does
    (same dtype, ``assert_allclose`` with the case's rtol/atol); raises on a mismatch."""
    from onnx import numpy_helper

    def arr(v):
        return numpy_helper.to_array(v) if isinstance(v, TensorProto) else v

    rep = LaminaBackend.prepare(case.model)
    for inputs, refs in case.data_sets:
        outs = rep.run([arr(v) for v in inputs])
        refs = [arr(v) for v in refs]
        if len(outs) != len(refs):
            raise AssertionError(f"{case.name}: {len(outs)} outputs, expected {len(refs)}")
        for ref, got in zip(refs, outs):
            ref = np.asarray(ref)
            if ref.dtype != got.dtype:
                raise AssertionError(f"{case.name}: dtype {got.dtype}, expected {ref.dtype}")
            if ref.dtype == object:
                raise AssertionError(f"{case.name}: non-tensor output")
            np.testing.assert_allclose(got, ref, rtol=case.rtol, atol=case.atol, err_msg=case.name)
