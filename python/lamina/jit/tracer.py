"""The recorder behind ``lamina.jit.trace``: one forward pass with a ``Tracer`` active
(autograd/tracing.py) turns every ``Function.apply`` into a Node and every tensor into a Value.
A tensor no recorded op produced (a parameter, a buffer, a captured constant) is found by
identity; one changed in place by an op the tracer does not see makes the trace fail.
"""
from __future__ import annotations

import threading
import warnings

from .. import _C
from ..autograd.tracing import TracerWarning, tracing
from ..autograd.views import CopySlices
from ..tensor import Tensor
from .ir import CRef, Node, Value, _flatten, dtype_of

__all__ = ["Tracer", "TraceError"]


class TraceError(RuntimeError):
    """The traced code did something a graph cannot hold (see the message for what and where)."""


class Tracer:
    """Records one run. ``leaf_types``: module classes recorded as one node (their internals are
    not traced). ``names``: id(module) -> path for scopes; ``named``: id(tensor) -> (name, kind)
    for parameters and buffers."""

    def __init__(self, module, leaf_types, warn: bool = True) -> None:
        self.busy = False
        self.thread = threading.get_ident()
        self.leaf_types = tuple(leaf_types)
        self.warn = warn
        self.module = module
        self.names = {}
        self.named = {}
        if module is not None:
            self.names = {id(m): n for n, m in module.named_modules()}
            for n, p in module.named_parameters():
                self.named[id(p)] = (n, "param", p)
            for n, b in module.named_buffers():
                if b is not None:
                    self.named[id(b)] = (n, "buffer", b)
        self.scope: list = []
        self.nodes: list = []
        self.inputs: list = []
        self.params: dict = {}     # name -> Value
        self.constants: list = []
        self.by_id: dict = {}      # id(Tensor) -> (Value, C++ tensor, version at record)
        self.by_node: dict = {}    # (id(grad_fn), output_nr) -> Value: finds in-place targets
        self.by_c: dict = {}       # id(C++ tensor) -> (Value, version): raw ._c arguments
        self.keep: list = []       # tensors seen, kept alive so their ids stay unique
        self.dynamic: set = set()  # ids of Values computed from the inputs
        self._count = 0

    # ---- values ----
    def _new(self, t: Tensor, kind: str, name: str | None = None, node=None, index: int = 0) -> Value:
        if name is None:
            name = str(self._count)
            self._count += 1
        v = Value(name, t._c.shape, dtype_of(t), kind, node, index,
                  tensor=t if kind in ("param", "buffer", "const") else None)
        self.by_id[id(t)] = (v, t._c, t._c._version)
        if kind in ("input", "op"):
            self.by_c[id(t._c)] = (v, t._c._version)
        if t.grad_fn is not None:
            self.by_node[(id(t.grad_fn), t._output_nr)] = (v, t._c, t._c._version)
        self.keep.append(t)
        return v

    def add_input(self, t: Tensor, name: str) -> Value:
        v = self._new(t, "input", name)
        self.inputs.append(v)
        self.dynamic.add(id(v))
        return v

    def value_of(self, t: Tensor, user: str) -> Value:
        """The Value for tensor ``t``, an argument of ``user`` (an op name, for errors)."""
        gf = t.grad_fn
        e = None
        if gf is not None:
            e = self.by_node.get((id(gf), getattr(t, "_output_nr", 0)))
            # an in-place op lamina records rebinds t to the op's output (another C++ tensor)
            if e is not None and t._c is not e[1]:
                return e[0]
        if e is None:
            e = self.by_id.get(id(t))
        if e is not None:
            v, c, ver = e
            if t._c is c and c._version == ver:
                return v
            raise TraceError(
                f"trace: %{v.name} ({v.type_str}), an argument of {user}{self._where()}, was changed in place "
                "by an op the tracer does not record (an in-place op under no_grad, .data, or on a tensor "
                "that does not require grad); use the out-of-place form while tracing")
        named = self.named.get(id(t))
        if named is not None:
            name, kind, _ = named
            v = self.params.get(name)
            if v is None:
                v = self.params[name] = self._new(t, kind, name)
            return v
        # Something no recorded op made: kept by value. trace() checks that it is the same at other
        # batch sizes and inputs, which an op the tracer missed would not be.
        v = self._new(Tensor._wrap(t._c.clone()), "const", f"c{len(self.constants)}")
        self.by_id[id(t)] = (v, t._c, t._c._version)
        self.keep.append(t)
        v.node = (user, self._where())
        self.constants.append(v)
        return v

    def _where(self) -> str:
        return f" in {self.scope[-1]}" if self.scope and self.scope[-1] else ""

    def _template(self, x, user: str):
        if isinstance(x, Tensor):
            return self.value_of(x, user)
        if isinstance(x, _C.Tensor):
            e = self.by_c.get(id(x))
            if e is not None and x._version == e[1]:
                return CRef(e[0])
            return x  # a constant: trace() checks it is the same in the other runs
        t = type(x)
        if t is list or t is tuple:
            return t(self._template(v, user) for v in x)
        if t is dict:
            return {k: self._template(v, user) for k, v in x.items()}
        return x

    # ---- the hooks (autograd/tracing.py) ----
    def record(self, cls, args):
        if cls is CopySlices:
            raise TraceError(
                f"trace: a write into part of a tensor{self._where()} (x[key] = value, or an in-place op on a view "
                "of it: recorded as CopySlices) cannot be traced: the graph would not replay the write; compute "
                "the result out of place (lamina.where, lamina.cat, F.pad...)")
        self.busy = True
        try:
            out = cls.apply(*args)
        finally:
            self.busy = False
        name = cls.__name__.lstrip("_")
        tmpl = self._template(args, name)
        multi = type(out) is tuple
        outs = out if multi else (out,)
        node = Node(cls, tmpl, None, [], self.scope[-1] if self.scope else "", index=len(self.nodes),
                    out_tree=(0,) * len(outs) if multi else None)  # (a tuple even of one output)
        dyn = any(id(v) in self.dynamic for v in node.inputs)
        for i, o in enumerate(outs):
            if isinstance(o, Tensor):
                v = self._new(o, "op", node=node, index=i)
                if dyn:
                    self.dynamic.add(id(v))
                node.outputs.append(v)
            else:
                node.outputs.append(None)
        self.nodes.append(node)
        return out

    def call_module(self, module, args, kwargs):
        if self.thread != threading.get_ident():
            return module.forward(*args, **kwargs)
        path = self.names.get(id(module), type(module).__name__)
        if not isinstance(module, self.leaf_types):
            self.scope.append(path)
            try:
                return module.forward(*args, **kwargs)
            finally:
                self.scope.pop()
        self.scope.append(path)
        try:
            name = type(module).__name__
            tmpl = self._template(tuple(args), name)
            kw = self._template(dict(kwargs), name)
            # its parameters are inputs of the node too (export reads them from the module)
            for n, p in module.named_parameters():
                self.value_of(p, name)
            self.busy = True
            try:
                out = module.forward(*args, **kwargs)
            finally:
                self.busy = False
            node = Node(module, tmpl, kw, [], path, index=len(self.nodes))
            dyn = any(id(v) in self.dynamic for v in node.inputs)
            leaves = _flatten(out)
            for i, o in enumerate(leaves):
                if isinstance(o, Tensor):
                    v = self._new(o, "op", node=node, index=i)
                    if dyn:
                        self.dynamic.add(id(v))
                    node.outputs.append(v)
                elif o is None:
                    node.outputs.append(None)
                else:
                    raise TraceError(f"trace: module {path} ({name}) returned a {type(o).__name__}; a module "
                                     "recorded as one node must return tensors (nested in tuples)")
            node.out_tree = _shape_tree(out)
            self.nodes.append(node)
            return out
        finally:
            self.scope.pop()

    def rebind(self, t: Tensor, r: Tensor) -> None:
        """An in-place op wrote the recorded result ``r`` into ``t`` (autograd/views.py
        write_inplace): later reads of ``t`` are reads of ``r``'s Value."""
        if self.thread != threading.get_ident():
            return
        e = self.by_id.get(id(r))
        if e is None:
            return  # r is no graph value (e.g. computed while busy): t's stale entry makes reads fail
        v = e[0]
        self.by_id[id(t)] = (v, t._c, t._c._version)
        self.by_c[id(t._c)] = (v, t._c._version)
        self.keep.append(t)

    def python_value(self, t: Tensor, how: str) -> None:
        if not self.warn or self.thread != threading.get_ident():
            return
        e = self.by_id.get(id(t))
        if e is None and t.grad_fn is not None:
            e = self.by_node.get((id(t.grad_fn), getattr(t, "_output_nr", 0)))
        if e is not None and id(e[0]) in self.dynamic:
            warnings.warn(
                f"trace: converting traced tensor %{e[0].name} ({e[0].type_str}) to a Python value "
                f"({how}){self._where()}: the graph keeps the value seen now as a constant, so it will "
                "not follow other inputs", TracerWarning, stacklevel=4)

    # ---- the run ----
    def run(self, fn, inputs):
        with tracing(self):
            out = fn(*inputs)
        return out


def _shape_tree(x):
    """The nesting of a module's output (tuples/lists), with 0 at the leaves."""
    if isinstance(x, (list, tuple)):
        return type(x)(_shape_tree(v) for v in x)
    return 0


def constant_equal(a: Value, b: Value) -> bool:
    """Two constants from two traces hold the same tensor."""
    ca, cb = a.tensor._c, b.tensor._c
    if ca.shape != cb.shape or ca.dtype != cb.dtype:
        return False
    import numpy as np
    return bool(np.array_equal(ca.numpy(), cb.numpy(), equal_nan=True))

