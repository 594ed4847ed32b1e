"""The ONNX graph builder the exporters write into: fresh names, initializers, nodes (named by the
lamina module path they came from), batch-dependent shape tensors, and the error every exporter
raises for what ONNX cannot express.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ..jit.ir import Node, Sym, Value

_ONNX_DTYPE = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE, "int64": TensorProto.INT64,
               "int32": TensorProto.INT32, "bool": TensorProto.BOOL, "float16": TensorProto.FLOAT16,
               "bfloat16": TensorProto.BFLOAT16, "uint8": TensorProto.UINT8, "int8": TensorProto.INT8}
_NP = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32, "bool": np.bool_,
       "float16": np.float16, "uint8": np.uint8, "int8": np.int8}


def onnx_dtype(dt) -> int:
    try:
        return _ONNX_DTYPE[dt.name]
    except KeyError:
        raise NotImplementedError(f"lamina.onnx.export: dtype {dt.name} has no ONNX counterpart here") from None


def np_dtype(dt):
    return _NP[dt.name]


def unsupported(node: Node, why: str) -> NotImplementedError:
    """The error for a node ONNX cannot express: names the op, the module path and why."""
    where = node.scope or "<top level>"
    return NotImplementedError(f"lamina.onnx.export: {node.kind} (node {node.index}) in module '{where}' cannot be "
                               f"exported to ONNX: {why}")


class Builder:
    """Collects ONNX nodes and initializers. ``name(v)``: the ONNX name of a graph Value;
    ``op(type, inputs, **attrs)``: adds a node, returns its output name (a list with ``n_out``)."""

    def __init__(self, graph, opset: int) -> None:
        self.graph, self.opset = graph, opset
        self.nodes: list = []
        self.inits: list = []
        self.names: dict = {}
        self.used: set = set()
        self._consts: dict = {}
        self._batch = None
        self.scope = ""
        self.node = None

    def fresh(self, hint: str) -> str:
        base = hint.replace("/", ".") or "t"
        n, i = base, 0
        while n in self.used:
            i += 1
            n = f"{base}_{i}"
        self.used.add(n)
        return n

    def name(self, v: Value) -> str:
        try:
            return self.names[id(v)]
        except KeyError:
            raise RuntimeError(f"lamina.onnx.export: %{v.name} is used before it is defined") from None

    def bind(self, v: Value, onnx_name: str) -> None:
        self.names[id(v)] = onnx_name

    def initializer(self, arr: np.ndarray, name: str) -> str:
        name = self.fresh(name)
        self.inits.append(numpy_helper.from_array(np.array(arr, order="C"), name))  # (ascontiguousarray makes 0-d 1-d)
        return name

    def const(self, arr, dtype=None, hint: str = "const") -> str:
        """A constant (initializer); small ones are shared."""
        if isinstance(arr, Sym) and self.node is not None:
            raise unsupported(self.node, f"a number that follows the batch size ({arr!r}) as an operand")
        a = np.asarray(arr, dtype=dtype)
        key = (a.dtype.str, a.shape, a.tobytes()) if a.size <= 64 else None
        if key is not None and key in self._consts:
            return self._consts[key]
        n = self.initializer(a, hint)
        if key is not None:
            self._consts[key] = n
        return n

    def ints(self, xs) -> str:
        return self.const(np.asarray(list(xs), dtype=np.int64), hint="ints")

    def scalar(self, x, like: Value | np.dtype) -> str:
        dt = np_dtype(like.dtype) if isinstance(like, Value) else like
        return self.const(np.asarray(x, dtype=dt), hint="scalar")

    def op(self, op_type: str, inputs, n_out: int = 1, **attrs):
        outs = [self.fresh(f"{self.scope}/{op_type}" if self.scope else op_type) for _ in range(n_out)]
        node_name = self.fresh(f"{self.scope}/{op_type}_node" if self.scope else f"{op_type}_node")
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=node_name, **attrs))
        return outs if n_out > 1 else outs[0]

    def number(self, x, dt) -> str:
        """A 0-d tensor of numpy dtype ``dt`` holding ``x``: a number, or a Sym computed from the
        input's shape (e.g. ``x * x.shape[0]``)."""
        if isinstance(x, Sym):
            n = self.op("Squeeze", [self.size(x), self.ints([0])])
            return self.op("Cast", [n], to=helper.np_dtype_to_tensor_dtype(np.dtype(dt)))
        return self.const(np.asarray(x, dtype=dt), hint="scalar")

    # ---- sizes that follow the batch ----
    def batch(self) -> str:
        """int64 [1]: the batch size, read from the first input that has a batch axis."""
        if self._batch is None:
            for v in self.graph.data_inputs:
                if v.batch_axis is not None:
                    a = v.batch_axis
                    self._batch = self.op("Shape", [self.name(v)], start=a, end=a + 1)
                    break
            else:
                raise RuntimeError("lamina.onnx.export: a size follows the batch but no input has a batch axis")
        return self._batch

    def size(self, s) -> str:
        """int64 [1] holding the size ``s`` (an int or a Sym)."""
        if isinstance(s, Sym):
            out = self.batch()
            if s.a != 1:
                out = self.op("Mul", [out, self.ints([s.a])])
            if s.b != 0:
                out = self.op("Add", [out, self.ints([s.b])])
            return out
        return self.ints([int(s)])

    def shape(self, dims) -> str:
        """int64 [len(dims)]: a shape whose entries may follow the batch."""
        if not any(isinstance(d, Sym) for d in dims):
            return self.ints([int(d) for d in dims])
        parts, run = [], []
        for d in dims:
            if isinstance(d, Sym):
                if run:
                    parts.append(self.ints(run))
                    run = []
                parts.append(self.size(d))
            else:
                run.append(int(d))
        if run:
            parts.append(self.ints(run))
        return parts[0] if len(parts) == 1 else self.op("Concat", parts, axis=0)


def rank(v: Value) -> int:
    return len(v.shape)


def axis(d: int, v: Value) -> int:
    """A dimension index made non-negative for ``v``'s rank."""
    return d % max(rank(v), 1)
