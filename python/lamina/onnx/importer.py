"""ONNX import: ``load_model(path_or_model_proto)`` reads and checks an ONNX model and builds an
``OnnxModule`` (an ``nn.Module``) whose forward runs each node as lamina ops, so it trains with
autograd and lamina.optim. The op converters live in ``_import_<family>.py``, one file per family.
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import numpy as np

from .. import _dtype as D
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor

# importing the converter families fills OPS
from . import (  # noqa: F401
    _import_attention,
    _import_control,
    _import_conv,
    _import_einsum,
    _import_grid,
    _import_math,
    _import_nn,
    _import_pool,
    _import_quant,
    _import_reduce,
    _import_resize,
    _import_rnn,
    _import_scatter,
    _import_select,
    _import_shape,
)
from ._import_common import OPS, is_const, make_plan, run_plan, to_lamina

if TYPE_CHECKING:  # onnx is imported lazily, at load time
    import onnx

MIN_OPSET = 13

# Initializers read as settings rather than weights (shapes, axes, pads, scales, BatchNormalization
# statistics, rotary cos/sin caches, quantization scales, loss class weights): registered as
# buffers, not trainable Parameters. op_type -> input positions.
_BUFFER_INPUTS = {
    "BatchNormalization": (3, 4), "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4),
    "Pad": (1, 2, 3), "Unsqueeze": (1,), "Squeeze": (1,), "Split": (1,), "Resize": (1, 2, 3),
    "Upsample": (1,), "ConstantOfShape": (0,), "Range": (0, 1, 2), "TopK": (1,), "OneHot": (1, 2),
    "Clip": (1, 2), "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,), "ReduceMin": (1,),
    "ReduceProd": (1,), "ReduceL1": (1,), "ReduceL2": (1,), "ReduceLogSum": (1,),
    "ReduceLogSumExp": (1,), "ReduceSumSquare": (1,), "Dropout": (1, 2), "CumSum": (1,),
    "RotaryEmbedding": (1, 2, 3), "Attention": (3, 6), "QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2),
    "NegativeLogLikelihoodLoss": (2,), "SoftmaxCrossEntropyLoss": (2,), "Trilu": (1,),
}


class OnnxImportError(ValueError):
    """The file or ModelProto is not a model lamina can import (not ONNX, truncated, bad opset)."""


def max_opset() -> int:
    """The newest default-domain opset the installed onnx package knows (the importer's limit)."""
    import onnx
    return onnx.defs.onnx_opset_version()


def _read(src) -> tuple:
    import onnx
    if isinstance(src, onnx.ModelProto):
        return src, "<ModelProto>"
    if isinstance(src, (bytes, bytearray)):
        data, where = bytes(src), "<bytes>"
    elif isinstance(src, (str, os.PathLike)):
        where = os.fspath(src)
        if not os.path.isfile(where):
            raise FileNotFoundError(f"load_model: no such file: {where}")
        with open(where, "rb") as f:
            data = f.read()
    else:
        raise TypeError(f"load_model: expected a path, bytes or onnx.ModelProto, got {type(src).__name__}")
    m = onnx.ModelProto()
    try:
        m.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError: truncated or not protobuf at all
        raise OnnxImportError(f"load_model: {where} is not an ONNX model (protobuf parse failed: {e}); "
                              f"{len(data)} bytes read, a truncated file also fails here") from e
    if not m.HasField("graph") or m.ir_version <= 0 or not m.opset_import:
        raise OnnxImportError(f"load_model: {where} is not an ONNX model (no graph, IR version or opset "
                              f"after parsing {len(data)} bytes)")
    if isinstance(src, (str, os.PathLike)) and any(t.data_location == onnx.TensorProto.EXTERNAL
                                                   for t in m.graph.initializer):
        from onnx.external_data_helper import load_external_data_for_model
        load_external_data_for_model(m, os.path.dirname(os.path.abspath(where)))
    return m, where


def _all_nodes(graph):
    """every node of the graph and of the subgraphs in its nodes' attributes (If/Loop bodies)"""
    for node in graph.node:
        yield node
        for a in node.attribute:
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _all_nodes(sub)


def _check(model, where: str) -> int:
    import onnx
    opset = None
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            opset = imp.version
    if opset is None:
        raise OnnxImportError(f"load_model: {where} imports no default-domain ('ai.onnx') opset")
    top = max_opset()
    if not MIN_OPSET <= opset <= top:
        raise OnnxImportError(f"load_model: {where} uses opset {opset}; lamina imports opsets {MIN_OPSET} to "
                              f"{top} (convert older models with onnx.version_converter.convert_version)")
    for node in _all_nodes(model.graph):
        if node.domain not in ("", "ai.onnx") or node.op_type not in OPS:
            dom = f" (domain '{node.domain}')" if node.domain not in ("", "ai.onnx") else ""
            raise NotImplementedError(f"load_model: ONNX op {node.op_type}{dom} of node '{node.name}' (opset "
                                      f"{opset}) is not supported by lamina")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise OnnxImportError(f"load_model: {where} fails onnx.checker: {str(e).strip().splitlines()[0]}") from e
    return opset


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


class _Holder(Module):
    """An empty module that groups imported weights by the dotted prefix of their ONNX names."""

    def forward(self, *args):
        raise RuntimeError("an OnnxModule weight group is not callable")


_SAFE = re.compile(r"[^0-9A-Za-z_]")


class OnnxModule(Module):
    """An ONNX graph as a lamina module. Initializers are Parameters (float weights) or buffers
    (integers, shapes/axes/pads, BatchNormalization statistics), named after their ONNX names: a
    dotted name such as ``layer1.0.conv.weight`` becomes the same ``state_dict`` key.
    ``onnx_names`` maps each ONNX initializer name to its state_dict key.

    ``forward(*inputs, **named)``: the graph inputs without initializers, in order; an input that
    has an initializer (an overridable default, as the ONNX spec says) may be given by position
    after them or by its ONNX name. Returns a Tensor, or a tuple for several outputs. The module is
    built in eval mode (the ONNX semantics); ``train()`` turns on Dropout and batch statistics in
    BatchNormalization, as for lamina's own layers."""

    def __init__(self, model, opset: int) -> None:
        super().__init__()
        from onnx import numpy_helper
        g = model.graph
        self.opset = opset
        inits = {t.name: t for t in g.initializer}
        self.input_names = [i.name for i in g.input if i.name not in inits]
        self.optional_input_names = [i.name for i in g.input if i.name in inits]
        self.output_names = [o.name for o in g.output]
        self.onnx_names: dict[str, str] = {}
        # the element types ONNX declares (lamina computes narrow integers as int64; some ops, such
        # as QuantizeLinear, take their output type from an input's declared type)
        self.value_types = {v.name: v.type.tensor_type.elem_type for v in (*g.input, *g.value_info, *g.output)}
        self.value_types.update({t.name: t.data_type for t in g.initializer})
        self._slots: dict[str, tuple] = {}
        as_buffer = set()
        for node in g.node:
            for pos in _BUFFER_INPUTS.get(node.op_type, ()):
                if pos < len(node.input) and node.input[pos]:
                    as_buffer.add(node.input[pos])
        for name, t in inits.items():
            a = numpy_helper.to_array(t)
            val = to_lamina(a, f"load_model: initializer '{name}'")
            if _is_float(a) and name not in as_buffer:
                self._place(name, Parameter(val))
            else:
                self._place(name, val, buffer=True)
        self._plan = make_plan(g.node, opset, self)
        self.eval()

    def _place(self, onnx_name: str, value, buffer: bool = False) -> None:
        parts = [_SAFE.sub("_", p) or "_" for p in onnx_name.split(".")]
        owner, path = self, []
        for p in parts[:-1]:
            child = owner._modules.get(p)
            if child is None:
                if p in owner._parameters or p in owner._buffers or p in owner.__dict__:
                    owner = None
                    break
                child = _Holder()
                owner.add_module(p, child)
            owner = child
            path.append(p)
        leaf = parts[-1]
        if owner is None or leaf in owner._parameters or leaf in owner._buffers or leaf in owner._modules \
                or leaf in owner.__dict__ or hasattr(type(owner), leaf):
            owner, leaf, path = self, _SAFE.sub("_", onnx_name), []
            base, k = leaf, 1
            while leaf in self._parameters or leaf in self._buffers or leaf in self._modules or hasattr(self, leaf):
                leaf, k = f"{base}_{k}", k + 1
        if buffer:
            owner.register_buffer(leaf, value)
        else:
            owner.register_parameter(leaf, value)
        self._slots[onnx_name] = (owner, leaf)
        self.onnx_names[onnx_name] = ".".join(path + [leaf])

    def _env(self, args, named) -> dict:
        env: dict = {}
        for onnx_name, (owner, attr) in self._slots.items():
            t = getattr(owner, attr)
            # integer/bool weights are settings (shapes, indices): read as constants so shape math folds
            env[onnx_name] = t.numpy() if t.dtype in (D.int64, D.bool_) and not t.requires_grad else t
        order = self.input_names + self.optional_input_names
        if len(args) > len(order):
            raise TypeError(f"OnnxModule: the graph takes at most {len(order)} inputs {order}, got {len(args)}")
        for name, v in zip(order, args):
            env[name] = v
        for name, v in named.items():
            if name not in order:
                raise TypeError(f"OnnxModule: no graph input named '{name}' (inputs: {order})")
            env[name] = v
        missing = [n for n in self.input_names if n not in env]
        if missing:
            raise TypeError(f"OnnxModule: missing graph inputs {missing} (expects {self.input_names})")
        for name in order:
            v = env[name]
            if isinstance(v, (np.ndarray, np.generic)):
                env[name] = to_lamina(v, f"OnnxModule input '{name}'")
            elif not isinstance(v, Tensor):
                raise TypeError(f"OnnxModule: input '{name}' must be a lamina Tensor or NumPy array, "
                                f"got {type(v).__name__}")
        return env

    def forward(self, *args, **named):
        env = self._env(args, named)
        run_plan(self._plan, env)
        res = []
        for name in self.output_names:
            v = env[name]
            res.append(to_lamina(v, f"OnnxModule output '{name}'") if is_const(v) else v)
        return res[0] if len(res) == 1 else tuple(res)

    def extra_repr(self) -> str:
        return f"opset={self.opset}, nodes={len(self._plan)}, inputs={self.input_names}, outputs={self.output_names}"


def load_model(path_or_model_proto: str | os.PathLike | bytes | onnx.ModelProto) -> OnnxModule:
    """Import an ONNX model (a file path, its bytes or an ``onnx.ModelProto``) as a lamina
    ``nn.Module`` (an :class:`OnnxModule`, in eval mode).

    Opsets 13 to the newest the installed onnx knows are accepted; each node becomes lamina ops
    (so gradients flow and the weights, as Parameters, can be fine-tuned with ``lamina.optim``).
    Raises ``OnnxImportError`` (a ValueError) for data that is not a valid ONNX model or has an
    unsupported opset, and ``NotImplementedError`` naming the op type, node and opset for an op
    lamina lacks (at load time for unknown op types, at run time for unsupported attributes).

        m = lamina.onnx.load_model("model.onnx")
        y = m(lamina.randn(1, 3, 32, 32))
    """
    model, where = _read(path_or_model_proto)
    opset = _check(model, where)
    return OnnxModule(model, opset)
