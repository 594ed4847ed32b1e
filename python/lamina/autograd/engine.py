"""Backpropagation: walks the graph from the outputs in reverse topological order, calling each
node's backward once every gradient for its outputs has arrived, and accumulating into leaves.

The engine sits below ``lamina.ops`` and imports nothing from it: where it needs an op on a
gradient (adding two, reducing a broadcast one) it uses the Tensor's operators and methods, as
PyTorch's engine does, so with ``create_graph=True`` those steps are recorded too.
"""
from __future__ import annotations

import sys
import threading

from .. import _C
from ..tensor import Tensor
from . import grad_mode
from .function import AccumulateGrad, Context, Node, _edge


def _sum_to(grad, shape, node_name):
    """Reduces a broadcast gradient back to an input's shape (or says which op got it wrong)."""
    try:
        return grad.sum_to_size(tuple(shape))  # ops/reduce.py's sum_to
    except ValueError:
        raise RuntimeError(
            f"{node_name} returned a gradient of shape {list(grad.shape)} for an input of shape "
            f"{list(shape)}"
        ) from None


def _check_finite(node, grads):
    for g in grads:
        if g is not None and g.dtype.is_floating_point and not _C.all_finite(g._c):
            raise RuntimeError(
                f"Function '{node.name}' returned nan or inf values in its gradient "
                f"(raised by lamina.autograd.detect_anomaly)"
            )


# Threads running backward through one model at once add into the same .grad: the read-add-write
# below must not interleave (the add releases the GIL), as PyTorch's AccumulateGrad holds a mutex.
_accumulate_lock = threading.Lock()


def _unshared(g, leaf) -> bool:
    """True when nothing but the engine can reach gradient ``g``'s memory, so the leaf may own it
    without a copy (PyTorch's AccumulateGrad steals a gradient whose use count says the same).

    Python references: the engine pops ``g`` from its buffer and passes it straight here, so it
    is held by the caller's variable, this argument and getrefcount's (3); its C++ handle by
    ``g``, ``c`` and getrefcount's (3). A numpy export, a second wrapper, or a copy a user hook or
    Function kept raises these counts. C++ views and saved tensors share the storage: use count 1
    rules them out. The layout must be the plain contiguous one the in-place accumulation below
    assumes."""
    c = g._c
    return (sys.getrefcount(g) <= 3 and sys.getrefcount(c) <= 3 and c._storage_use_count() == 1
            and g.grad_fn is None and not g.requires_grad and c.offset == 0 and c.is_contiguous()
            and c.dtype == leaf._c.dtype and c.storage_nbytes() == c.numel() * _C.dtype_itemsize(c.dtype))


def _accumulate_into_leaf(leaf, g, create_graph):
    if g._c.shape != leaf._c.shape:  # (C++ shapes are tuples: no Tensor.shape property calls)
        g = _sum_to(g, leaf.shape, "AccumulateGrad")
    with _accumulate_lock:
        if leaf.grad is None:
            # Own the memory unless building a higher-order graph: a later in-place accumulation
            # must not write into a tensor that an op (or the user) still holds.
            if create_graph or _unshared(g, leaf):
                leaf.grad = g
            else:
                leaf.grad = Tensor._wrap(g._c.clone())
        elif create_graph:
            leaf.grad = leaf.grad + g
        else:
            c, gc = leaf.grad._c, g._c
            if c.device == "cpu" and gc.device == "cpu" and c.dtype == gc.dtype:
                _C.binary_(c, gc, _ADD, 1.0)  # in place (as PyTorch's AccumulateGrad): one pass, no temporary
            else:
                c.copy_(_C.add_forward(c, gc, 1.0))


_ADD = _C.BinaryOp.add

# The innermost backward pass on this thread that accumulates into .grad (not autograd.grad, not
# create_graph): its (deps, pending), which take_grad_destination reads.
_pass = threading.local()


def take_grad_destination(leaf):
    """For an op's backward, while backward runs: ``(c, scale)`` when the op may write leaf's
    whole gradient, times ``scale``, straight into the C++ tensor ``c`` (which the engine then adopts
    as ``leaf.grad``), else None.

    ``AccumulateGrad.dest`` (a callable returning ``(c, scale)`` or None) is offered by whoever owns
    the gradient's next stop: DistributedDataParallel's shared-memory window, where writing the
    scaled gradient directly saves a pass over it. It is used only when nothing else can see the
    difference: this backward accumulates into ``.grad`` (not ``autograd.grad``, not
    ``create_graph``), ``leaf.grad`` is None, no tensor hook may replace the gradient, and this op's
    edge is the only one into the leaf (no other op has added a gradient, none will)."""
    st = getattr(_pass, "st", None)
    if st is None:
        return None
    acc = leaf._accum
    if acc is None or acc.dest is None or acc.hooks or leaf.grad is not None:
        return None
    deps, pending = st
    if deps.get(acc) != 1 or acc in pending:
        return None
    return acc.dest()


class _DelayedError:
    """Stands in the graph built by ``create_graph=True`` for a built-in op that has no
    differentiable backward: differentiating through it again raises, naming the op."""

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(
            f"double backward (create_graph=True, then backward again) is not implemented for "
            f"{ctx.op}: its gradient was computed by a fused kernel that is not differentiable"
        )


def _is_builtin(cls) -> bool:
    return cls.__module__.startswith("lamina.")


def _apply_graph(node, grads):
    """Backward of one node with ``create_graph=True``: the gradients it returns are themselves
    recorded, so they can be differentiated again."""
    node.check_alive()
    if node.saved:
        node.check_versions()
    cls, ctx = node.cls, node.ctx
    bg = getattr(cls, "backward_graph", None)
    if bg is not None:
        ctx._node = node
        try:
            return bg(ctx, *grads)
        finally:
            ctx.__dict__.pop("_node", None)
    if not _is_builtin(cls):
        return cls.backward(ctx, *grads)  # a user's Function: differentiable if written with lamina ops
    with grad_mode.no_grad():
        out = cls.backward(ctx, *grads)
    edges = tuple(_edge(g) for g in grads if g is not None and g.requires_grad)
    edges += tuple(e for e in node.next if e is not None)
    if not edges:
        return out
    single = not isinstance(out, tuple)
    res = []
    for g in ((out,) if single else out):
        if g is not None:
            c = Context()
            c.op = node.name
            d = Node(_DelayedError, c, edges, tuple((None, None) for _ in edges),
                     ((g._c.shape, g._c.dtype, g._c.device),), "NotImplemented(" + node.name + ")", ())
            g = Tensor._wrap(g._c)
            g.grad_fn, g._output_nr, g.requires_grad = d, 0, True
        res.append(g)
    return res[0] if single else tuple(res)


def run_backward(roots, grad_roots, retain_graph: bool, inputs=None, create_graph: bool = False,
                 allow_unused: bool = False):
    """Core of ``Tensor.backward`` and ``autograd.grad``.

    ``roots``: output tensors; ``grad_roots``: their gradients. With ``inputs`` (a list of
    tensors) it returns their gradients instead of accumulating into ``.grad``.
    """
    pending: dict = {}  # node -> gradients per output number (AccumulateGrad.out_meta is (None,))

    def add(node, nr, g):
        slot = pending.get(node)
        if slot is None:
            slot = pending[node] = [None] * len(node.out_meta)
        slot[nr] = g if slot[nr] is None else slot[nr] + g

    root_edges = []
    for i, r in enumerate(roots):
        e = _edge(r)
        if e is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        root_edges.append(e)

    # Count the edges into each node reachable from the roots.
    if len(root_edges) == 1:  # (the usual loss.backward())
        node = root_edges[0][0]
        deps: dict = {node: 0}
        stack = [node]
    else:
        deps = {}
        stack = []
        for node, _ in root_edges:
            if node not in deps:
                deps[node] = 0
                stack.append(node)
    parents = {} if inputs is not None else None  # child -> parents, to prune for `inputs`
    while stack:
        n = stack.pop()
        for e in n.next:
            if e is None:
                continue
            m = e[0]
            if parents is not None:
                parents.setdefault(m, []).append(n)
            d = deps.get(m)
            if d is None:
                deps[m] = 1
                stack.append(m)
            else:
                deps[m] = d + 1

    capture = None
    needed = None
    if inputs is not None:
        capture = {}
        for t in inputs:
            e = _edge(t)
            if e is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            capture[e] = None
        # Only nodes on a path to an input run (as in PyTorch): the rest of the graph is neither
        # computed nor required to be differentiable (create_graph through an op without a
        # backward_graph is fine when no input lies behind it).
        needed = set()
        stack = list(dict.fromkeys(n for n, _ in capture))
        while stack:
            for p in parents.get(stack.pop(), ()):
                if p not in needed:
                    needed.add(p)
                    stack.append(p)

    if len(root_edges) == 1:  # (the usual loss.backward(): no zip, no generator, no dict)
        node, nr = root_edges[0]
        pending[node] = slot = [None] * len(node.out_meta)
        slot[nr] = grad_roots[0]
        ready = [node] if not deps[node] else []
    else:
        for (node, nr), g in zip(root_edges, grad_roots):
            add(node, nr, g)
        ready = [n for n in dict.fromkeys(n for n, _ in root_edges) if deps[n] == 0]

    tls = grad_mode._tls
    prev_mode = tls.enabled
    tls.enabled = create_graph
    prev_pass = getattr(_pass, "st", None)
    _pass.st = (deps, pending) if capture is None and not create_graph else None
    try:
        while ready:
            node = ready.pop()
            grads = pending.pop(node, None)
            if node.hooks and grads is not None:
                for nr, hook in node.hooks:
                    if grads[nr] is not None:
                        r = hook(grads[nr])
                        if r is not None:
                            grads[nr] = r
            if capture is not None and grads is not None:
                for nr, g in enumerate(grads):
                    if (node, nr) in capture and g is not None:
                        capture[(node, nr)] = g
            if needed is not None and node not in needed:
                continue
            if type(node) is AccumulateGrad:  # (never subclassed; type() is cheaper than isinstance)
                if capture is None and grads is not None and grads[0] is not None:
                    # pop(): the buffer's reference goes, so _unshared can count the others.
                    _accumulate_into_leaf(node.leaf, grads.pop(), create_graph)
                    if node.post_hooks:
                        for hook in tuple(node.post_hooks):
                            hook(node.leaf)
                continue
            if grads is None:
                grads = [None] * len(node.out_meta)
            if len(grads) != 1 or grads[0] is None:  # (the usual single filled slot skips the scan)
                for i, g in enumerate(grads):
                    if g is None and node.out_meta[i] is not None:
                        shape, dt, dev = node.out_meta[i]
                        grads[i] = Tensor._zeros_c(shape, dt, dev)
            out = _apply_graph(node, grads) if create_graph else node.apply(grads)
            if not isinstance(out, tuple):
                out = (out,)
            if len(out) != len(node.next):
                raise RuntimeError(
                    f"function {node.name} returned an incorrect number of gradients "
                    f"(expected {len(node.next)}, got {len(out)})"
                )
            if tls.anomaly:
                _check_finite(node, out)
            if not retain_graph:
                node.release()
            for e, g, meta in zip(node.next, out, node.in_meta):
                if e is None:
                    continue
                m, nr = e
                if g is not None:
                    if g._c.shape != meta[0]:  # (both tuples; Tensor.shape is a property call)
                        g = _sum_to(g, meta[0], node.name)
                    slot = pending.get(m)  # add(), inlined: once per edge
                    if slot is None:
                        slot = pending[m] = [None] * len(m.out_meta)
                    slot[nr] = g if slot[nr] is None else slot[nr] + g
                d = deps[m] - 1
                deps[m] = d
                if not d:
                    ready.append(m)
            out = g = None  # drop this frame's references before a leaf may adopt one
    finally:
        tls.enabled = prev_mode
        _pass.st = prev_pass

    if capture is not None:
        result = []
        for t in inputs:
            g = capture[_edge(t)]
            if g is None and not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
            result.append(g)
        return result
    return None
