"""``lamina.jit.trace``: runs a module or function on example inputs with a Tracer active, at the
example's batch size and at one or two others, and merges the runs into one Graph whose sizes that
follow the batch are symbolic (``Sym``).
"""
from __future__ import annotations

import numpy as np

from .. import _C
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tracing import TracerWarning  # noqa: F401  (re-exported by lamina.jit)
from ..nn.layers.rnn import GRU, LSTM, RNN
from ..nn.module import Module
from ..ops.shape import clone
from ..tensor import Tensor
from .ir import CRef, Graph, Node, Sym, Value
from .tracer import TraceError, Tracer, constant_equal

__all__ = ["trace"]


# RNN/LSTM/GRU are one op in ONNX (and one C++ call per layer here): recorded whole by default.
DEFAULT_LEAF_MODULES = (RNN, LSTM, GRU)


def trace(module_or_fn, example_inputs, *, batch_dim=0, leaf_modules=None, check: bool = True) -> Graph:
    """Record the ops one forward pass of ``module_or_fn(*example_inputs)`` runs into a Graph.

    Nodes are lamina ops (the autograd Functions, their non-tensor arguments as attributes); edges
    are tensors with shapes and dtypes; a module's parameters and buffers are named inputs
    (``fc1.weight``). ``batch_dim``: the batch axis of every input (an int, or one entry per input,
    None for an input without one); sizes that follow it stay symbolic (``B``), so the graph runs
    at any batch size. To find them the function runs at the example's batch size and at one or
    two others (with the module's buffers restored afterwards); ``check`` compares the graph's
    output with the module's at the example inputs.

    ``leaf_modules``: module classes recorded as one node, not traced into (default: RNN, LSTM,
    GRU, which ONNX has as single ops); the graph calls the module itself for them.

    Out of scope, as in ``torch.jit.trace``: data-dependent Python control flow (``if x.sum() > 0``)
    is frozen into the path the example took. Turning a traced tensor into a Python value
    (``item()``, ``float()``, ``bool()``, ``tolist()``, ``numpy()``) warns with a
    ``TracerWarning``; a graph that would come out different for other inputs of the same shapes
    (different ops, or a tensor made outside the recorded ops that changes) raises TraceError.
    """
    if isinstance(example_inputs, Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    for i, x in enumerate(example_inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"trace: example input {i} must be a Tensor, got {type(x).__name__}")
    module = module_or_fn if isinstance(module_or_fn, Module) else None
    bdims = _batch_dims(batch_dim, example_inputs)
    leaf = DEFAULT_LEAF_MODULES if leaf_modules is None else tuple(leaf_modules)
    batch = next((x.shape[d] for x, d in zip(example_inputs, bdims) if d is not None), None)
    if batch == 0:
        raise ValueError("trace: the example inputs have an empty batch; give at least one row")

    main = _run(module_or_fn, module, leaf, example_inputs, bdims, True)
    g = main[0]
    if batch is not None:
        # Runs at other batch sizes, each followed by putting the buffers back, so the module's
        # state changes exactly as after the one call above.
        def other(k):
            saved = _save_buffers(module)
            try:
                return _run(module_or_fn, module, leaf, _variant(example_inputs, bdims, k), bdims, False)
            except TraceError:
                raise
            except Exception as e:
                raise TraceError(
                    f"trace: the function runs at batch {batch} but fails at batch {batch + k} (trace runs it at "
                    f"other batch sizes to find the sizes that follow the batch): {type(e).__name__}: {e}. For a "
                    "function that works at one batch size only, pass batch_dim=None") from e
            finally:
                _restore_buffers(module, saved)

        syms = _merge(main, other(1), batch, batch + 1, None)
        if syms:  # something follows the batch: check the fit at a third size
            _merge(main, other(3), batch, batch + 3, syms)
    g.module, g.example_batch = module, batch if batch is not None else 1
    _drop_dead_nodes(g)
    for v, d in zip(g.data_inputs, bdims):
        v.batch_axis = d
    if check:  # (the check's run must not update running statistics a second time)
        saved = _save_buffers(module)
        try:
            _check(g, main[2], example_inputs)
        finally:
            _restore_buffers(module, saved)
    return g


def _batch_dims(batch_dim, inputs):
    if batch_dim is None or isinstance(batch_dim, int):
        bd = [batch_dim] * len(inputs)
    else:
        bd = list(batch_dim)
        if len(bd) != len(inputs):
            raise ValueError(f"trace: batch_dim has {len(bd)} entries for {len(inputs)} inputs")
    out = []
    for x, d in zip(inputs, bd):
        if d is not None:
            if not -x.ndim <= d < max(x.ndim, 1) or x.ndim == 0:
                raise ValueError(f"trace: batch_dim {d} is out of range for an input of shape {list(x.shape)}")
            d %= x.ndim
        out.append(d)
    sizes = {x.shape[d] for x, d in zip(inputs, out) if d is not None}
    if len(sizes) > 1:
        raise ValueError(f"trace: the inputs disagree on the batch size along batch_dim: {sorted(sizes)}")
    return out


def _variant(inputs, bdims, k: int):
    """The inputs with ``k`` more rows along the batch axis (copies of the first rows) and, for
    floating-point inputs, other values: a trace that changes with them was data dependent."""
    out = []
    for x, d in zip(inputs, bdims):
        a = x.detach()._c.numpy()
        if d is not None:
            n = a.shape[d]
            a = np.take(a, list(range(n)) + [i % max(n, 1) for i in range(k)], axis=d)
        # Other values within the example's range (probabilities stay in [0, 1], indices valid):
        # the same values moved around and, for floats, shrunk towards 0 a little.
        if a.size > 1:
            a = np.roll(a.reshape(-1), k).reshape(a.shape)
        if a.dtype.kind == "f":
            a = (a * (1.0 - k / 64.0)).astype(a.dtype)
        out.append(Tensor._wrap(_C.from_numpy(np.ascontiguousarray(a))))
    return out


def _run(fn, module, leaf, inputs, bdims, warn: bool):
    tr = Tracer(module, leaf, warn=warn)
    ins = []
    for i, x in enumerate(inputs):
        t = Tensor._wrap(x._c.clone())
        if t._c.dtype in (_C.DType.float32, _C.DType.float64):
            # requiring grad: every op on it records its autograd node, which is how an in-place
            # op's target is followed; not a leaf (a clone made before tracing), so in-place ops
            # on the input itself are allowed, as they are on the caller's tensor
            t.requires_grad = True
            with enable_grad():
                t = clone(t)
        ins.append(t)
        tr.add_input(t, f"input{i}" if len(inputs) > 1 else "input")
    with enable_grad():
        out = tr.run(fn, ins)
    tree = tr._template(out, "the output")
    g = Graph(tr.inputs, list(tr.params.values()), tr.constants, tr.nodes, _leaves(tree), tree, module)
    return g, tr, out


def _drop_dead_nodes(g: Graph) -> None:
    """Removes nodes whose outputs nothing reads (e.g. a chunk of a bias the code computed and did
    not use), except those with effects beyond their outputs: module nodes and batch norm in
    training mode (running statistics). Constants only dead nodes read go too."""
    used = {id(v) for v in g.outputs}
    keep = []
    for n in reversed(g.nodes):
        effect = n.is_module or (n.kind == "BatchNorm" and n.attrs().get("training"))
        if effect or any(o is not None and id(o) in used for o in n.outputs):
            keep.append(n)
            used.update(id(v) for v in n.inputs)
    g.nodes = keep[::-1]
    for i, n in enumerate(g.nodes):
        n.index = i
    g.constants = [c for c in g.constants if id(c) in used]


def _leaves(tree):
    if isinstance(tree, Value):
        return [tree]
    if isinstance(tree, dict):
        tree = list(tree.values())
    if isinstance(tree, (list, tuple)):
        out = []
        for v in tree:
            out += _leaves(v)
        return out
    return []


def _save_buffers(module):
    if module is None:
        return []
    return [(b, b._c.clone()) for _, b in module.named_buffers() if b is not None]


def _restore_buffers(module, saved) -> None:
    for b, c in saved:
        b._c.copy_(c)


# ---- merging two runs: sizes that differ follow the batch ----
def _merge(a, b, na: int, nb: int, syms):
    """Walks run ``a`` (batch na) against run ``b`` (batch nb): ops must match one to one; ints that
    differ become Sym(a * B + c) in ``a``'s graph (shapes and attributes); constants must be equal.
    With ``syms`` (the fit from an earlier merge) the fit is checked instead. Returns the fit."""
    ga, gb = a[0], b[0]
    fit = {} if syms is None else syms
    if len(ga.nodes) != len(gb.nodes) or any(_op_key(x) != _op_key(y) for x, y in zip(ga.nodes, gb.nodes)):
        i = next((i for i, (x, y) in enumerate(zip(ga.nodes, gb.nodes)) if _op_key(x) != _op_key(y)),
                 min(len(ga.nodes), len(gb.nodes)))
        what = (f"node {i} is {ga.nodes[i].kind}{_at(ga.nodes[i])} at batch {na} but "
                f"{gb.nodes[i].kind}{_at(gb.nodes[i])} at batch {nb}") if i < min(len(ga.nodes), len(gb.nodes)) \
            else f"{len(ga.nodes)} ops at batch {na} but {len(gb.nodes)} at batch {nb}"
        raise TraceError(f"trace: the function ran different ops for another input of the same kind ({what}): "
                         "data-dependent Python control flow cannot be traced")
    if len(ga.constants) != len(gb.constants):
        raise TraceError(f"trace: {len(ga.constants)} captured constants at batch {na} but {len(gb.constants)} "
                         f"at batch {nb}")
    for ca, cb in zip(ga.constants, gb.constants):
        if not constant_equal(ca, cb):
            user, where = ca.node
            raise TraceError(
                f"trace: %{ca.name} ({ca.type_str}), an argument of {user}{where}, was made by an op the tracer "
                "does not record, and it changes with the input ("
                + (f"shape {list(ca.tensor.shape)} at batch {na}, {list(cb.tensor.shape)} at batch {nb}"
                   if ca.tensor.shape != cb.tensor.shape else "its values differ for other input values")
                + "): creation ops "
                "other than zeros/ones/full (randn, arange...), ops run under no_grad, .detach(), numpy round "
                "trips and some ops on integer tensors are not recorded; compute it from the inputs with "
                "lamina ops outside no_grad, or pass it as an input")

    def unify(x, y, where):
        tx = type(x)
        if tx is not type(y) and not (isinstance(x, Sym)):
            if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
                pass
            else:
                raise TraceError(f"trace: {where} differs between batch {na} and {nb} ({x!r} vs {y!r})")
        if isinstance(x, Sym):
            if x(nb) != y:
                raise TraceError(f"trace: {where} is {x!r} = {x(na)} at batch {na} but {y!r} at batch {nb}, "
                                 "not a linear function of the batch size")
            return x
        if tx is bool or x is None or tx is str:
            if x != y:
                raise TraceError(f"trace: {where} differs between batch {na} and {nb} ({x!r} vs {y!r})")
            return x
        if tx is int or isinstance(x, int):
            if x == y:
                return x
            key = (where, x)
            if syms is not None:
                raise TraceError(f"trace: {where} is {x!r} at batch {na} but {y!r} at batch {nb}: it does not "
                                 "follow the batch size (data-dependent value?)")
            d = (y - x)
            if d % (nb - na):
                raise TraceError(f"trace: {where} is {x} at batch {na} but {y} at batch {nb}: not a multiple of "
                                 "the batch size (data-dependent value?)")
            s = Sym(d // (nb - na), x - d // (nb - na) * na)
            fit[key] = s
            return s
        if tx is float:
            if x != y and x == int(x) and y == int(y) and syms is None and (y - x) % (nb - na) == 0:
                # a whole number that moved with the batch (e.g. x * len(x)): fitted like an int
                a_ = int(y - x) // (nb - na)
                s = Sym(a_, int(x) - a_ * na, is_float=True)
                fit[(where, x)] = s
                return s
            if x != y and not (x != x and y != y):
                raise TraceError(f"trace: {where} is {x!r} at batch {na} but {y!r} at batch {nb}: a value computed "
                                 "from the input became a Python number (see TracerWarning)")
            return x
        if tx is list or tx is tuple:
            if len(x) != len(y):
                raise TraceError(f"trace: {where} has {len(x)} entries at batch {na} but {len(y)} at batch {nb}")
            return tx(unify(u, w, where) for u, w in zip(x, y))
        if tx is slice:
            return slice(unify(x.start, y.start, where), unify(x.stop, y.stop, where), unify(x.step, y.step, where))
        if isinstance(x, CRef):
            if not isinstance(y, CRef):
                raise TraceError(f"trace: {where} takes a graph tensor at batch {na} but not at batch {nb}")
            unify(x.value, y.value, where)
            return x
        if isinstance(x, Value):
            if x.kind != y.kind or x.name != y.name and x.kind != "op":
                raise TraceError(f"trace: {where} takes %{x.name} at batch {na} but %{y.name} at batch {nb}")
            return x
        if isinstance(x, _C.Tensor):
            if x.shape != y.shape or not np.array_equal(x.numpy(), y.numpy()):
                raise TraceError(f"trace: {where} holds a tensor computed outside the graph that changes with "
                                 "the input; it cannot be traced")
            return x
        if getattr(type(x), "__slots__", None) and not isinstance(x, (Value, Sym)) and type(x) is type(y):
            # plain records (e.g. an indexing plan): equal field by field
            for f in type(x).__slots__:
                unify(getattr(x, f, None), getattr(y, f, None), f"{where} ({type(x).__name__}.{f})")
            return x
        if isinstance(x, (_C.ConvParams,)):
            return x
        if isinstance(x, _C.PoolParams):
            return x
        if x != y and x is not y:
            if hasattr(x, "__dict__") or not (x == y):
                raise TraceError(f"trace: {where} differs between batch {na} and {nb} ({x!r} vs {y!r})")
        return x

    # Values: shapes. Inputs, params, constants first, then node outputs.
    def shapes(va, vb, where):
        va.shape = tuple(unify(p, q, f"dimension {i} of %{va.name}{where}")
                         for i, (p, q) in enumerate(zip(va.shape, vb.shape)))

    for va, vb in zip(ga.data_inputs, gb.data_inputs):
        shapes(va, vb, "")
    for na_, nb_ in zip(ga.nodes, gb.nodes):
        where = f"an argument of {na_.kind} (node {na_.index}){_at(na_)}"
        # positions of Values are checked by identity of names for named inputs; op outputs by order
        na_.args = unify(na_.args, nb_.args, where)
        if na_.kwargs:
            na_.kwargs = {k: unify(v, nb_.kwargs.get(k), where) for k, v in na_.kwargs.items()}
        for oa, ob in zip(na_.outputs, nb_.outputs):
            if oa is not None and ob is not None:
                shapes(oa, ob, f" (output of {na_.kind}{_at(na_)})")
        # op output Values must line up too: same producing position
        for xa, xb in zip(na_.inputs, nb_.inputs):
            if xa.kind == "op" and (xb.kind != "op" or xa.node.index != xb.node.index or xa.index != xb.index):
                raise TraceError(f"trace: {where} comes from a different op at batch {nb}: data-dependent control "
                                 "flow cannot be traced")
    return fit


def _op_key(n: Node):
    return (type(n.op) if n.is_module else n.op, n.scope)


def _at(n: Node) -> str:
    return f" in {n.scope}" if n.scope else ""


def _check(g: Graph, expected, inputs) -> None:
    """The graph's outputs at the example inputs equal the traced run's (bit for bit, except ops
    with randomness)."""
    if any(n.kind in ("Dropout",) for n in g.nodes):
        return
    with no_grad():
        got = g(*[Tensor._wrap(x._c) for x in inputs])
    for i, (e, o) in enumerate(zip(_tensors(expected), _tensors(got))):
        a, b = e.detach()._c.numpy(), o.detach()._c.numpy()
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True):
            raise TraceError(f"trace: re-running the graph gives a different output {i} than the traced run "
                             f"(shapes {list(a.shape)} vs {list(b.shape)}); an op outside the recorded ones "
                             "changed it")


def _tensors(x):
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            out += _tensors(v)
        return out
    return []

