"""Tensor gradient hooks: ``Tensor.register_hook(fn)``, ``Tensor.retain_grad()`` and
``Tensor.register_post_accumulate_grad_hook(fn)``.

A hook sits on the graph node where the tensor's gradient arrives (the producing op's node, or
a leaf's AccumulateGrad) and sees the full gradient once it is summed; returning a tensor
replaces the gradient. A post-accumulate-grad hook (leaves only) runs after that gradient has
been added into ``.grad`` (what DistributedDataParallel waits for before reducing a gradient).
"""
from __future__ import annotations

import weakref

from .function import _edge


class RemovableHandle:
    """Returned by register_hook; ``handle.remove()`` unregisters the hook."""

    def __init__(self, node, entry, attr: str = "hooks") -> None:
        self._node = node
        self._entry = entry
        self._attr = attr

    def remove(self) -> None:
        hooks = getattr(self._node, self._attr)
        if hooks and self._entry in hooks:
            hooks.remove(self._entry)


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


def register_post_accumulate_grad_hook(t, fn) -> RemovableHandle:
    """``t.register_post_accumulate_grad_hook(fn)``: calls ``fn(t)`` each time backward has added a
    gradient into ``t.grad`` (leaf tensors only; ``autograd.grad``, which accumulates nothing, does
    not call it). The hook returns nothing. Returns a handle with ``.remove()``."""
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors "
                           f"(this tensor was made by {t.grad_fn.name})")
    node, _ = _edge(t)
    if node.post_hooks is None:
        node.post_hooks = []
    entry = fn
    node.post_hooks.append(entry)
    return RemovableHandle(node, entry, "post_hooks")


TENSOR_METHODS: dict = {"register_hook": register_hook, "retain_grad": retain_grad,
                        "register_post_accumulate_grad_hook": register_post_accumulate_grad_hook}
