"""Shared pieces of the ONNX importer: the op table that the ``_import_*`` family files fill
(``@op("Conv")``), the per-node context handed to each converter (attributes, opset, errors that
name the node), and the conversions between ONNX/NumPy values and lamina tensors.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import _dtype as D
from ..ops.creation import from_numpy
from ..tensor import Tensor

# op_type -> converter(ctx, inputs) -> output value or list of outputs. A value is a lamina Tensor,
# or a NumPy array for a constant (Constant nodes, Shape results and integer arithmetic folded from
# them: the constant-foldable shape computations that ONNX exporters emit).
OPS: dict[str, Callable] = {}
# op_type -> NumPy folder used when every input is a constant integer/bool array (shape math only).
FOLD: dict[str, Callable] = {}


def op(*names: str, fold: Callable | None = None):
    """Register a converter for the ONNX op types ``names`` (and its NumPy folder for constants)."""
    def deco(fn):
        for n in names:
            OPS[n] = fn
            if fold is not None:
                FOLD[n] = fold
        return fn
    return deco


# NumPy dtypes lamina holds as they are, and the integer ones it widens to int64 without loss.
_NATIVE = {np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_)}
_WIDEN_INT = {np.dtype(t) for t in (np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32)}


def to_lamina(a, what: str = "value") -> Tensor:
    """A lamina tensor holding NumPy array ``a``: float32/float64/int64/bool as they are; narrower
    integers widened to int64 (value-preserving); anything else (float16, strings, ...) raises."""
    a = np.asarray(a)
    if a.dtype not in _NATIVE:
        if a.dtype in _WIDEN_INT or (a.dtype == np.uint64 and (a.size == 0 or a.max() <= np.iinfo(np.int64).max)):
            a = a.astype(np.int64)
        else:
            raise TypeError(f"{what}: lamina tensors hold float32, float64, int64 (narrower integers are "
                            f"widened to it) and bool; got {a.dtype}")
    return from_numpy(np.array(a, copy=True, order="C"))


def is_const(v) -> bool:
    return isinstance(v, np.ndarray)


def np_of(v) -> np.ndarray:
    """The value of ``v`` as a NumPy array (a constant as it is; a tensor read back)."""
    if isinstance(v, np.ndarray):
        return v
    return v.detach().numpy()


# ONNX TensorProto element types lamina can compute in (narrow integers computed as int64).
def lamina_dtype(elem_type: int, what: str):
    from onnx import TensorProto as TP
    table = {TP.FLOAT: D.float32, TP.DOUBLE: D.float64, TP.BOOL: D.bool_}
    if elem_type in table:
        return table[elem_type]
    if elem_type in (TP.INT8, TP.INT16, TP.INT32, TP.INT64, TP.UINT8, TP.UINT16, TP.UINT32, TP.UINT64):
        return D.int64
    from onnx import helper
    raise NotImplementedError(f"{what}: lamina has no {helper.tensor_dtype_to_string(elem_type)} dtype "
                              "(it computes in float32, float64, int64 and bool)")


def np_dtype_of(elem_type: int) -> np.dtype:
    from onnx import helper
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


class NodeContext:
    """What a converter sees of its node: attributes (with defaults), the opset of its domain,
    the owning module (training flag) and helpers that raise errors naming the node."""

    __slots__ = ("_attrs", "env", "module", "node", "opset", "subplans")

    def __init__(self, node, opset: int, module) -> None:
        self.node = node
        self.opset = opset
        self.module = module
        self._attrs = None
        self.env = None  # the values in scope while the node runs (subgraphs of If/Loop read them)
        self.subplans: dict = {}

    @property
    def name(self) -> str:
        return self.node.name or f"<{self.node.op_type} -> {', '.join(self.node.output)}>"

    @property
    def where(self) -> str:
        return f"ONNX {self.node.op_type} node '{self.name}' (opset {self.opset})"

    def attr(self, name: str, default=None):
        if self._attrs is None:
            from onnx import helper
            self._attrs = {a.name: helper.get_attribute_value(a) for a in self.node.attribute}
        v = self._attrs.get(name, default)
        if isinstance(v, bytes):
            v = v.decode()
        return v

    def has_attr(self, name: str) -> bool:
        return any(a.name == name for a in self.node.attribute)

    def unsupported(self, what: str) -> NotImplementedError:
        return NotImplementedError(f"{self.where}: {what} is not supported by lamina")

    def error(self, msg: str) -> ValueError:
        return ValueError(f"{self.where}: {msg}")

    def tensor(self, v, like: Tensor | None = None) -> Tensor | None:
        """``v`` as a lamina tensor (constants converted; with ``like``, a float constant takes
        like's dtype so float32 graphs stay float32)."""
        if v is None or isinstance(v, Tensor):
            return v
        a = np.asarray(v)
        if like is not None and a.dtype.kind == "f" and like.dtype.is_floating_point:
            a = a.astype(like.dtype._np)
        return to_lamina(a, self.where)

    def ints(self, v) -> list[int] | None:
        """An integer list read from an input such as Reshape's shape or Slice's starts."""
        if v is None:
            return None
        return [int(x) for x in np.asarray(np_of(v)).reshape(-1)]

    def scalar(self, v, default=None):
        if v is None:
            return default
        a = np.asarray(np_of(v)).reshape(-1)
        if a.size == 0:
            return default
        return a[0].item()


def norm_axis(ctx: NodeContext, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ctx.error(f"axis {axis} is out of range for a rank-{rank} input")
    return axis + rank if axis < 0 else axis


def make_plan(nodes, opset: int, module) -> list:
    """The (node, converter, context) steps that run a graph's nodes."""
    return [(n, OPS[n.op_type], NodeContext(n, opset, module)) for n in nodes]


def run_plan(plan, env: dict) -> None:
    """Run each step, reading its inputs from ``env`` and writing its outputs there. Nodes whose
    inputs are all integer constants fold in NumPy (shape arithmetic). Errors name the node."""
    for node, fn, ctx in plan:
        try:
            ins = [env[n] if n else None for n in node.input]
        except KeyError as e:
            raise ValueError(f"{ctx.where}: input {e} is neither a graph input, an initializer nor the "
                             "output of an earlier node") from None
        fold = FOLD.get(node.op_type)
        ctx.env = env
        try:
            if fold is not None and all(v is None or (is_const(v) and v.dtype.kind in "biu") for v in ins):
                outs = fold(ctx, ins)
                outs = [np.asarray(o) for o in outs] if isinstance(outs, (list, tuple)) else np.asarray(outs)
            else:
                outs = fn(ctx, ins)
        except (NotImplementedError, ValueError, TypeError, RuntimeError, IndexError) as e:
            if ctx.where in str(e):
                raise
            shapes = [list(v.shape) if v is not None else None for v in ins]
            raise type(e)(f"{ctx.where} with input shapes {shapes}: {e}") from e
        finally:
            ctx.env = None
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        for name, v in zip(node.output, outs):
            if name:
                env[name] = v
