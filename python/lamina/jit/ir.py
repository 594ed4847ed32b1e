"""The graph IR ``lamina.jit.trace`` produces: ``Value`` (a tensor edge: name, shape, dtype),
``Node`` (one lamina op, or one module recorded whole, with its non-tensor arguments), ``Graph``
(inputs, nodes, outputs; prints like a program and re-runs its ops), and ``Sym`` (a size that
follows the batch: ``a * B + b``).
"""
from __future__ import annotations

import inspect

from .. import _C
from .. import _dtype as D
from ..autograd.function import Context
from ..autograd.grad_mode import _tls as _grad_tls
from ..autograd.grad_mode import no_grad
from ..ops.pool import pool_spec
from ..tensor import Tensor

__all__ = ["Sym", "Value", "Node", "Graph", "CRef"]


class Sym:
    """A size that follows the batch size ``B``: ``a * B + b`` (a batch axis is ``Sym(1, 0)``)."""

    __slots__ = ("a", "b", "is_float")

    def __init__(self, a: int, b: int = 0, is_float: bool = False) -> None:
        self.a, self.b = int(a), int(b)
        self.is_float = is_float  # it stood for a Python float (e.g. x * len(x)): resolves to one

    def __call__(self, batch: int):
        n = self.a * batch + self.b
        return float(n) if self.is_float else n

    def __eq__(self, other) -> bool:
        return isinstance(other, Sym) and other.a == self.a and other.b == self.b

    def __hash__(self) -> int:
        return hash((self.a, self.b))

    def __repr__(self) -> str:
        s = "B" if self.a == 1 else f"{self.a}*B"
        return s if self.b == 0 else f"{s}{self.b:+d}"


def resolve(x, batch: int):
    """``x`` with every Sym replaced by its size at ``batch`` (lists, tuples and slices walked)."""
    t = type(x)
    if t is Sym:
        return x(batch)
    if t is list or t is tuple:
        return t(resolve(v, batch) for v in x)
    if t is slice:
        return slice(resolve(x.start, batch), resolve(x.stop, batch), resolve(x.step, batch))
    return x


def has_sym(x) -> bool:
    t = type(x)
    if t is Sym:
        return True
    if t is list or t is tuple:
        return any(has_sym(v) for v in x)
    if t is slice:
        return has_sym(x.start) or has_sym(x.stop) or has_sym(x.step)
    return False


_DT_SHORT = {"float32": "f32", "float64": "f64", "int64": "i64", "int32": "i32", "bool": "b8",
             "float16": "f16", "bfloat16": "bf16", "uint8": "u8", "int8": "i8"}


class Value:
    """A tensor in the graph. ``kind``: 'input' (a positional argument), 'param', 'buffer' (named
    by their module path), 'const' (a tensor the traced code captured, kept by value) or 'op' (a
    node's output). ``shape`` holds ints and ``Sym``s; ``tensor`` is set for params, buffers and
    constants."""

    __slots__ = ("name", "shape", "dtype", "kind", "node", "index", "tensor", "batch_axis")

    def __init__(self, name: str, shape, dtype, kind: str, node=None, index: int = 0, tensor=None) -> None:
        self.name, self.shape, self.dtype, self.kind = name, tuple(shape), dtype, kind
        self.node, self.index, self.tensor = node, index, tensor
        self.batch_axis = None  # inputs: the axis that is the batch (None: no batch axis)

    @property
    def type_str(self) -> str:
        dt = _DT_SHORT.get(self.dtype.name, self.dtype.name)
        return f"{dt}[{', '.join(repr(s) for s in self.shape)}]"

    def __repr__(self) -> str:
        return f"%{self.name} : {self.type_str}"


class Node:
    """One recorded call. ``op``: the autograd Function class (``Linear``, ``Relu``, ``_Conv``...)
    or, for a module recorded whole, the module; ``args``: the call's arguments with tensors as
    Values (non-tensor arguments are the node's attributes); ``kwargs``: a module node's keyword
    arguments; ``outputs``: Values (None where the op gave no tensor); ``scope``: the path of the
    module whose forward made the call ("" for the top level)."""

    __slots__ = ("op", "args", "kwargs", "outputs", "scope", "out_tree", "index")

    def __init__(self, op, args, kwargs, outputs, scope: str, out_tree=None, index: int = 0) -> None:
        self.op, self.args, self.kwargs, self.outputs = op, tuple(args), dict(kwargs or {}), list(outputs)
        self.scope, self.out_tree, self.index = scope, out_tree, index

    @property
    def is_module(self) -> bool:
        return not isinstance(self.op, type)

    @property
    def kind(self) -> str:
        """The op's name: the Function class name ("Linear", "Relu", "Conv") or, for a module
        node, the module class ("LSTM")."""
        name = type(self.op).__name__ if self.is_module else self.op.__name__
        return name.lstrip("_")

    @property
    def inputs(self) -> list:
        """The Values among the arguments, in order (nested lists walked)."""
        out: list = []
        _collect(self.args, out)
        _collect(tuple(self.kwargs.values()), out)
        return out

    def attrs(self) -> dict:
        """Non-tensor arguments by the name of the forward parameter they bind to."""
        names = _arg_names(self.op)
        out = {}
        for i, a in enumerate(self.args):
            if not _is_tensor_arg(a) and not (isinstance(a, (list, tuple)) and
                                              any(isinstance(v, (Value, CRef)) for v in a)):
                out[names[i] if i < len(names) else f"arg{i}"] = a
        for k, a in self.kwargs.items():
            if not _is_tensor_arg(a):
                out[k] = a
        return out

    def __repr__(self) -> str:
        outs = ", ".join(repr(v) if v is not None else "_" for v in self.outputs)
        names = _arg_names(self.op)
        parts = []
        for i, a in enumerate(self.args):
            s = _fmt(a)
            if not _is_tensor_arg(a):
                s = f"{names[i] if i < len(names) else f'arg{i}'}={s}"
            parts.append(s)
        parts += [f"{k}={_fmt(a)}" for k, a in self.kwargs.items()]
        scope = f"  # {self.scope}" if self.scope else ""
        return f"{outs} = {self.kind}({', '.join(parts)}){scope}"


class CRef:
    """An op argument that is the C++ tensor (``._c``) of a graph Value: some ops take the raw
    tensor of an index (index_select), and the graph must still know where it came from."""

    __slots__ = ("value",)

    def __init__(self, value: Value) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"%{self.value.name}._c"


def _is_tensor_arg(a) -> bool:
    return isinstance(a, (Value, CRef)) or (isinstance(a, (list, tuple)) and len(a) > 0
                                            and all(isinstance(v, (Value, CRef)) or v is None for v in a))


def _collect(x, out: list) -> None:
    if isinstance(x, Value):
        out.append(x)
    elif isinstance(x, CRef):
        out.append(x.value)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _collect(v, out)


def _fmt(a) -> str:
    if isinstance(a, Value):
        return f"%{a.name}"
    if isinstance(a, CRef):
        return repr(a)
    if isinstance(a, list):
        return "[" + ", ".join(_fmt(v) for v in a) + "]"
    if isinstance(a, tuple):
        return "(" + ", ".join(_fmt(v) for v in a) + ("," if len(a) == 1 else "") + ")"
    if isinstance(a, _C.Tensor):
        return f"<tensor {_DT_SHORT.get(a.dtype.name, a.dtype.name)}{list(a.shape)}>"
    if isinstance(a, _C.ConvParams):
        return (f"Conv(stride={tuple(a.stride)}, padding={tuple(a.padding)}, dilation={tuple(a.dilation)}, "
                f"output_padding={tuple(a.output_padding)}, groups={a.groups})")
    if isinstance(a, _C.PoolParams):
        s = pool_spec(a)
        return f"Pool(kernel={s['kernel']}, stride={s['stride']}, padding={s['padding']})"
    r = repr(a)
    return r if len(r) <= 60 else r[:57] + "..."


_NAMES: dict = {}


def _arg_names(op) -> list:
    """The names of ``op.forward``'s parameters after ctx (a module: its forward's)."""
    key = op if isinstance(op, type) else type(op)
    names = _NAMES.get(key)
    if names is None:
        try:
            ps = list(inspect.signature(key.forward).parameters.values())
        except (TypeError, ValueError):
            ps = []
        names = [p.name for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if names and names[0] in ("ctx", "self"):
            names = names[1:]
        _NAMES[key] = names
    return names


class Graph:
    """A traced forward pass: ``graph(*inputs)`` re-runs the recorded ops (at any batch size),
    ``print(graph)`` shows it one node per line, and ``nodes``, ``inputs`` (the positional
    inputs, then parameters and buffers by name), ``constants`` and ``outputs`` are inspectable.
    """

    def __init__(self, inputs, params, constants, nodes, outputs, out_tree, module=None, batch: int = 1) -> None:
        self.data_inputs: list = list(inputs)
        self.params: list = list(params)       # params and buffers, named by module path
        self.constants: list = list(constants)
        self.nodes: list = list(nodes)
        self.outputs: list = list(outputs)
        self.out_tree = out_tree               # the output structure, Values at the leaves
        self.module = module
        self.example_batch = batch
        self._plan = None

    @property
    def inputs(self) -> list:
        """Every named input: the positional inputs, then the parameters and buffers."""
        return self.data_inputs + self.params

    # ---- running ----
    def _compile(self):
        """Each Value gets a slot in a list; each node becomes a step: (Function.apply or the
        module, the op's forward (None for a module), the argument template as a list, the
        (position, slot) of each tensor argument, how to fill the rest (0: nothing, 1: sizes that
        follow the batch, 2: nested tensors or keyword arguments), the output slot (single
        output) or -1, and the output slots)."""
        slot = {}
        for v in self.inputs + self.constants:
            slot[id(v)] = len(slot)
        steps = []
        for n in self.nodes:
            for o in n.outputs:
                if o is not None:
                    slot[id(o)] = len(slot)
            nested = any(isinstance(a, CRef) or (isinstance(a, (list, tuple)) and
                                                 any(isinstance(v, (Value, CRef)) for v in a)) for a in n.args)
            mode = 2 if nested or n.kwargs or n.is_module else (1 if has_sym(n.args) else 0)
            tpos = tuple((i, slot[id(a)]) for i, a in enumerate(n.args) if isinstance(a, Value))
            fn = n.op if n.is_module else n.op.apply
            # without grad mode, an op's forward is called directly (what Function.apply does then,
            # minus its scan of the arguments for tensors that require grad)
            fwd = None if n.is_module else n.op.forward
            outs = tuple(None if o is None else slot[id(o)] for o in n.outputs)
            single = outs[0] if len(outs) == 1 and n.out_tree is None else -1
            steps.append((fn, fwd, n, list(n.args), tpos, mode, single, outs))
        self._plan = (slot, steps, len(slot))
        return self._plan

    def _batch_of(self, inputs) -> int:
        for v, x in zip(self.data_inputs, inputs):
            if v.batch_axis is not None:
                return x.shape[v.batch_axis]
        return self.example_batch

    def __call__(self, *inputs):
        if len(inputs) != len(self.data_inputs):
            raise TypeError(f"Graph: expected {len(self.data_inputs)} inputs "
                            f"({', '.join(v.name for v in self.data_inputs)}), got {len(inputs)}")
        for v, x in zip(self.data_inputs, inputs):
            if not isinstance(x, Tensor):
                raise TypeError(f"Graph: input %{v.name} must be a Tensor, got {type(x).__name__}")
            if x.ndim != len(v.shape):
                raise ValueError(f"Graph: input %{v.name} must be {len(v.shape)}-D ({v.type_str}), got shape "
                                 f"{list(x.shape)}")
        slot, steps, n = self._plan or self._compile()
        batch = self._batch_of(inputs)
        env = [None] * n
        env[:len(inputs)] = inputs
        i = len(inputs)
        for v in self.params + self.constants:
            env[i] = v.tensor
            i += 1
        direct = not _grad_tls.enabled
        for fn, fwd, node, base, tpos, mode, single, outs in steps:
            if mode == 2:  # nested tensors, keyword arguments, module nodes
                args = _fill(node.args, env, slot, batch)
                out = fn(*args, **_fill(node.kwargs, env, slot, batch)) if node.kwargs else fn(*args)
                if node.out_tree is not None:
                    out = _flatten(out)
            else:
                args = base.copy()
                for p, s in tpos:
                    args[p] = env[s]
                if mode == 1:
                    args = [resolve(a, batch) for a in args]
                out = fwd(Context(), *args) if direct else fn(*args)
            if single >= 0:
                env[single] = out
            else:
                for s, o in zip(outs, out):
                    if s is not None:
                        env[s] = o
        return _fill(self.out_tree, env, slot, batch)

    def run_no_grad(self, *inputs):
        """``graph(*inputs)`` without recording gradients (inference)."""
        with no_grad():
            return self(*inputs)

    # ---- printing ----
    def __str__(self) -> str:
        lines = ["graph("]
        ins = self.inputs
        for i, v in enumerate(ins):
            end = "," if i + 1 < len(ins) else "):"
            lines.append(f"      {v!r}{end}" + ("" if v.kind == "input" else f"  # {v.kind}"))
        if not ins:
            lines[-1] += "):"
        for c in self.constants:
            lines.append(f"  {c!r} = constant")
        for n in self.nodes:
            lines.append(f"  {n!r}")
        lines.append(f"  return {_fmt_tree(self.out_tree)}")
        return "\n".join(lines)

    __repr__ = __str__


def _fmt_tree(t) -> str:
    if isinstance(t, Value):
        return f"%{t.name}"
    if isinstance(t, dict):
        return "{" + ", ".join(f"{k!r}: {_fmt_tree(v)}" for k, v in t.items()) + "}"
    if isinstance(t, (list, tuple)):
        return "(" + ", ".join(_fmt_tree(v) for v in t) + ")"
    return repr(t)


def _fill(x, env, slot, batch):
    """A template with Values replaced by their tensors and Syms by sizes."""
    if isinstance(x, Value):
        return env[slot[id(x)]]
    t = type(x)
    if t is CRef:
        return env[slot[id(x.value)]]._c
    if t is list or t is tuple:
        return t(_fill(v, env, slot, batch) for v in x)
    if t is dict:
        return {k: _fill(v, env, slot, batch) for k, v in x.items()}
    return resolve(x, batch)


def _flatten(x) -> list:
    """The tensors in a nested output (tuples/lists), depth first; None kept as a leaf."""
    if isinstance(x, (list, tuple)):
        out: list = []
        for v in x:
            out += _flatten(v)
        return out
    return [x]


def dtype_of(t) -> D.dtype:
    return D.from_c(t._c.dtype)
