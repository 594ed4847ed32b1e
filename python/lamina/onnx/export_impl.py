"""``lamina.onnx.export``: trace the model (lamina.jit.trace), translate each graph node with the
converters of the _export_*.py families, check the model with onnx's checker and write it
atomically. The batch axis stays dynamic.
"""
from __future__ import annotations

import io
import os
import tempfile

import onnx
from onnx import helper

from ..jit import trace
from ..jit.ir import CRef, Sym, Value
from ..tensor import Tensor
from . import (
    _export_act,
    _export_loss,
    _export_math,
    _export_nn,
    _export_rnn,
    _export_shape,
)
from ._export_core import Builder, onnx_dtype, unsupported

__all__ = ["export", "graph_to_onnx", "default_opset", "DEFAULT_OPSET", "MIN_OPSET", "MAX_OPSET"]

# MAX_OPSET: the newest opset checked against onnxruntime: with onnx 1.23.2 (which knows opsets up
# to 28) and onnxruntime 1.32.0 every layer test exports, passes the full checker and runs equal to
# lamina at each opset from 18 to 28 (17 too; LayerNormalization needs 17). The default is the
# newest of MAX_OPSET and what the installed onnx knows.
MIN_OPSET = 17
MAX_OPSET = 28


def default_opset() -> int:
    """The opset ``export`` uses when none is given: min(MAX_OPSET, the installed onnx's newest)."""
    return min(MAX_OPSET, onnx.defs.onnx_opset_version())


DEFAULT_OPSET = default_opset()

_CONVERTERS: dict = {}
for _fam in (_export_act, _export_loss, _export_math, _export_nn, _export_shape):
    _CONVERTERS.update(_fam.CONVERTERS)
_CONVERTERS.update(_export_rnn.OP_CONVERTERS)
_MODULE_CONVERTERS: dict = dict(_export_rnn.CONVERTERS)


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None, opset_version=None,
           *, export_params: bool = True, keep_initializers_as_inputs: bool = False, training: bool = False,
           do_constant_folding: bool = True, verbose: bool = False, check: bool = True, **kwargs):
    """Export ``model`` (an ``nn.Module`` or a function of tensors), run on ``args``, to ONNX.

    Arguments follow ``torch.onnx.export``: ``args`` is a Tensor or a tuple of them; ``f`` a path
    or a binary file object (a path is written atomically: a temporary file, then a rename);
    ``input_names`` / ``output_names`` name the graph's inputs and outputs (default ``input``,
    ``input1``... / ``output``...); ``dynamic_axes`` maps a name to ``{axis: name}`` (or a list of
    axes). By default axis 0 of every input is the dynamic batch axis; give ``dynamic_axes`` to
    use another axis (e.g. ``{"ids": {1: "batch"}}`` for time-major sequences) or ``{}`` for an
    input without one. One dynamic axis per input is supported: the batch, which the graph keeps
    symbolic (every size that follows it is computed from the input's shape). The model runs in
    eval mode (``training=False``, as torch's default TrainingMode.EVAL) and is put back.

    ``export_params=False`` makes parameters and buffers graph inputs (fed at run time) instead of
    initializers; ``keep_initializers_as_inputs=True`` lists them as inputs too (overridable
    defaults). ``do_constant_folding`` is accepted for torch compatibility (the graph has nothing
    to fold: parameters are initializers). ``opset_version``: default ``DEFAULT_OPSET``.
    Parameters become initializers named by their module path. Returns the ``onnx.ModelProto``
    (also written to ``f``). A layer or op ONNX cannot express raises NotImplementedError naming it
    and its module path.
    """
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"lamina.onnx.export: opset_version must be in [{MIN_OPSET}, "
                         f"{onnx.defs.onnx_opset_version()}], got {opset}")
    if kwargs:
        raise TypeError(f"lamina.onnx.export: unexpected arguments {sorted(kwargs)}")
    if isinstance(args, Tensor):
        args = (args,)
    args = tuple(args)
    if args and isinstance(args[-1], dict):
        raise NotImplementedError("lamina.onnx.export: keyword arguments to the model (a dict at the end of "
                                  "args) are not supported")
    in_names = _names(input_names, len(args), "input")
    batch_dims = _batch_dims(dynamic_axes, in_names, args)

    from ..nn.module import Module
    was_training = isinstance(model, Module) and model.training
    if isinstance(model, Module) and not training:
        model.eval()
    try:
        graph = trace(model, args, batch_dim=batch_dims)
    finally:
        if was_training and not training:
            model.train()
    proto = graph_to_onnx(graph, opset, in_names, output_names, dynamic_axes, export_params=export_params,
                          keep_initializers_as_inputs=keep_initializers_as_inputs)
    if check:
        onnx.checker.check_model(proto, full_check=True)
    if verbose:
        print(helper.printable_graph(proto.graph))
    _write(proto, f)
    return proto


def _names(names, n: int, base: str) -> list:
    if names is None:
        return [base] if n == 1 else [f"{base}{i}" for i in range(n)]
    names = list(names)
    if len(names) < n:
        names += [f"{base}{i}" for i in range(len(names), n)]
    return names[:n]


def _batch_dims(dynamic_axes, names, args):
    if dynamic_axes is None:
        return [0 if a.ndim > 0 else None for a in args]
    out = []
    for name, a in zip(names, args):
        axes = dynamic_axes.get(name)
        if axes is None:
            out.append(None)  # dynamic_axes given without this input: all its sizes are fixed
            continue
        keys = list(axes.keys()) if isinstance(axes, dict) else list(axes)
        if len(keys) > 1:
            raise NotImplementedError(
                f"lamina.onnx.export: input '{name}' has {len(keys)} dynamic axes {keys}; only one (the batch) is "
                "supported: the graph is traced at fixed other sizes")
        out.append(int(keys[0]) if keys else None)
    return out


def graph_to_onnx(graph, opset: int, input_names=None, output_names=None, dynamic_axes=None, *,
                  export_params: bool = True, keep_initializers_as_inputs: bool = False) -> onnx.ModelProto:
    """A traced ``lamina.jit`` Graph as an ONNX ModelProto (unchecked)."""
    b = Builder(graph, opset)
    in_names = _names(input_names, len(graph.data_inputs), "input")
    out_vals = graph.outputs
    out_names = _names(output_names, len(out_vals), "output")
    dyn = dynamic_axes or {}
    if len(set(in_names) | set(out_names)) != len(in_names) + len(out_names):
        raise ValueError(f"lamina.onnx.export: input and output names must be distinct, got {in_names} and {out_names}")
    b.used.update(out_names)  # reserved, so no internal tensor takes an output's name
    inputs = []
    for v, nm in zip(graph.data_inputs, in_names):
        b.used.add(nm)
        b.bind(v, nm)
        axes = dyn.get(nm)
        label = axes.get(v.batch_axis) if isinstance(axes, dict) and v.batch_axis is not None else None
        inputs.append(_value_info(nm, v, label))
    for v in graph.params + graph.constants:
        if v.kind != "const" and not export_params:  # parameters fed at run time, as graph inputs
            nm = b.fresh(v.name)
            b.bind(v, nm)
            inputs.append(_value_info(nm, v))
            continue
        nm = b.initializer(v.tensor.detach()._c.numpy(), v.name)
        b.bind(v, nm)
        if keep_initializers_as_inputs and v.kind != "const":
            inputs.append(_value_info(nm, v))
    for n in graph.nodes:
        b.scope, b.node = n.scope, n
        if n.is_module:
            conv = _MODULE_CONVERTERS.get(type(n.op))
            if conv is None:
                raise unsupported(n, f"no ONNX form for module {type(n.op).__name__}")
        else:
            conv = _CONVERTERS.get(n.op)
            if conv is None:
                raise unsupported(n, f"lamina op {n.op.__module__}.{n.op.__name__} has no ONNX converter")
        res = conv(b, n, _onnx_args(b, n.args))
        res = res if isinstance(res, list) else [res]
        if len(res) < len(n.outputs):
            res += [None] * (len(n.outputs) - len(res))
        for v, r in zip(n.outputs, res):
            if v is not None and r is not None:
                b.bind(v, r)
    b.scope = ""
    outputs, seen = [], set()
    for v, nm in zip(out_vals, out_names):
        src = b.name(v)
        if src in seen or v.kind != "op" or src in {i.name for i in inputs}:
            src = b.op("Identity", [src])  # an output that is an input, an initializer or repeated
        b.nodes.append(helper.make_node("Identity", [src], [nm], name=f"{nm}_out"))
        b.used.add(nm)
        seen.add(src)
        axes = dyn.get(nm)
        label = None
        if isinstance(axes, dict):
            label = next(iter(axes.values()), None)
        outputs.append(_value_info(nm, v, label))
    used = {i for node in b.nodes for i in node.input}
    inits = [t for t in b.inits if t.name in used]  # e.g. RNN weights exported reordered, as copies
    n_data = len(graph.data_inputs)
    inputs = inputs[:n_data] + [i for i in inputs[n_data:] if i.name in used]
    g = helper.make_graph(b.nodes, "lamina", inputs, outputs, initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="lamina",
                              producer_version=_version())
    model.ir_version = min(model.ir_version, _max_ir(opset))
    return model


def _onnx_args(b, x):
    if isinstance(x, Value):
        return b.name(x)
    if isinstance(x, CRef):
        return b.name(x.value)
    if isinstance(x, (list, tuple)):
        return type(x)(_onnx_args(b, v) for v in x)
    return x


def _value_info(name: str, v: Value, label=None):
    dims = []
    for d in v.shape:
        if isinstance(d, Sym):
            dims.append(label if (label and d == Sym(1, 0)) else ("batch" if d == Sym(1, 0) else repr(d)))
        else:
            dims.append(int(d))
    return helper.make_tensor_value_info(name, onnx_dtype(v.dtype), dims)


def _max_ir(opset: int) -> int:
    # the IR version onnxruntime reads for each opset (onnx.helper.VERSION_TABLE: opset -> IR)
    for _, ir, op, *_ in helper.VERSION_TABLE:
        if op == opset:
            return ir
    return 10


def _version() -> str:
    from .._version import __version__
    return __version__


def _write(proto, f) -> None:
    data = proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        d = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".lamina-onnx-", suffix=".tmp", dir=d)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    elif f is None:
        return
    elif isinstance(f, io.IOBase) or hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"lamina.onnx.export: f must be a path or a binary file object, got {type(f).__name__}")
