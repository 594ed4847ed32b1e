"""Tensor gradient hooks: ``Tensor.register_hook(fn)`` and ``Tensor.retain_grad()``.

A hook sits on the graph node where the tensor's gradient arrives (the producing op's node, or
a leaf's AccumulateGrad) and sees the full gradient once it is summed; returning a tensor
replaces the gradient.
"""
from __future__ import annotations

import weakref

from .function import _edge


class RemovableHandle:
    """Returned by register_hook; ``handle.remove()`` unregisters the hook."""

    def __init__(self, node, entry) -> None:
        self._node = node
        self._entry = entry

    def remove(self) -> None:
        if self._node.hooks and self._entry in self._node.hooks:
            self._node.hooks.remove(self._entry)


def register_hook(t, fn) -> RemovableHandle:
    """``t.register_hook(fn)``: calls ``fn(grad)`` when t's gradient is computed; a returned tensor
    replaces the gradient. Returns a handle with ``.remove()``."""
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    node, nr = _edge(t)
    if node.hooks is None:
        node.hooks = []
    entry = (nr, fn)
    node.hooks.append(entry)
    return RemovableHandle(node, entry)


def retain_grad(t) -> None:
    """``t.retain_grad()``: keeps ``.grad`` for a non-leaf tensor after backward."""
    if t.grad_fn is None:
        if not t.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        return  # leaves keep .grad anyway
    if getattr(t, "_retains_grad", False):
        return
    t._retains_grad = True
    ref = weakref.ref(t)

    def keep(g):
        owner = ref()
        if owner is not None:
            owner.grad = g.detach() if owner.grad is None else owner.grad.detach() + g.detach()

    register_hook(t, keep)


TENSOR_METHODS: dict = {"register_hook": register_hook, "retain_grad": retain_grad}
