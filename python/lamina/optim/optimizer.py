"""``Optimizer``: the base class of lamina's optimizers — parameter groups with defaults, per-
parameter state, ``zero_grad``, ``step(closure)`` and torch-shaped ``state_dict`` /
``load_state_dict``. Subclasses implement ``_update_group(group)`` with one fused C++ call.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from itertools import chain
from typing import Any, Callable

from .. import _C
from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor


class _RequiredParameter:
    """Marks a hyper-parameter that every parameter group must give (e.g. ``lr`` with no default)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(x) -> str:
    return type(x).__module__ + "." + type(x).__qualname__


def _new_state(p: Tensor, fill: float | None = 0.0) -> Tensor:
    """A fresh contiguous state tensor shaped like ``p`` (zeros, a constant, or uninitialised)."""
    c = _C.empty(list(p.shape), p._c.dtype, p._c.device)
    if fill is not None:
        _C.fill_(c, float(fill))
    return Tensor._wrap(c)


def _check_grad(opt: str, gi: int, pi: int, p: Tensor) -> None:
    """The fused step's own gradient checks (cpp/ops/optim.cpp, same wording), made for every group
    before any is updated, so a bad gradient in a later group cannot leave earlier groups stepped."""
    g = p.grad
    where = f"{opt}.step: group {gi}: "
    if tuple(g.shape) != tuple(p.shape):
        raise ValueError(f"{where}grads[{pi}] has shape {list(g.shape)} but params[{pi}] has shape "
                         f"{list(p.shape)}; nothing was updated")
    if g.dtype != p.dtype:
        raise TypeError(f"{where}grads[{pi}] is {g.dtype.name} but params[{pi}] is {p.dtype.name}; "
                        f"nothing was updated")


def _scalar(v) -> float:
    """A hyper-parameter as a Python float (accepts 1-element tensors, like torch's lr tensors)."""
    return float(v)


class Optimizer:
    """Base class for all optimizers.

    Args:
        params: an iterable of tensors (or ``(name, tensor)`` pairs), or of dicts defining
            parameter groups (each with a ``"params"`` entry and optional per-group options).
        defaults: the default value of every option, used where a group does not set it.

    PyTorch: ``torch.optim.Optimizer``.
    """

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ---- pickling / repr ----
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += "\n" + f"Parameter Group {i}"
            for key in sorted(group.keys()):
                if key != "params":
                    s += "\n" + f"    {key}: {group[key]}"
        return s + "\n)"

    # ---- parameter groups ----
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a parameter group (a dict with ``"params"`` and optional options) — for example to
        start training frozen layers partway through."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        param_group = dict(param_group)
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                            "the ordering of tensors in sets will change between runs. Please use "
                            "a list instead.")
        else:
            params = list(params)

        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names

        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not (p.is_leaf or getattr(p, "_retains_grad", False)):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            param_group.setdefault(name, default)

        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; "
                          "see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {txt} to the optimizer")
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ---- gradients and steps ----
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients of all optimized tensors: to ``None`` (default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad = False
                    _C.fill_(g._c, 0.0)

    def step(self, closure: Callable[[], Any] | None = None):
        """Performs one optimization step over every parameter with a gradient.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss; it runs
                with gradients enabled, the update itself records no graph.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        work = []
        for gi, group in enumerate(self.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            for pi, p in enumerate(params):
                _check_grad(type(self).__name__, gi, pi, p)
            if params:
                work.append((group, params))
        # All or nothing: every gradient is checked above before anything is written; if an update
        # still raises (out of memory creating state), the per-parameter state dicts are put back
        # (step counts, new buffers). Groups updated before the failing one stay updated, which is
        # why the checks come first; one group (the common case) is always all or nothing.
        saved = {id(p): (p, dict(self.state[p]) if p in self.state else None) for _, ps in work for p in ps}
        try:
            with no_grad():
                for group, params in work:
                    self._update_group(group, params)
        except BaseException:
            for p, st in saved.values():
                if st is None:
                    self.state.pop(p, None)
                else:
                    self.state[p] = st
            raise
        return loss

    def _update_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        raise NotImplementedError

    # ---- saving and loading ----
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as ``{'state': {index: {...}}, 'param_groups': [{..., 'params':
        [indices]}]}``, parameters numbered in group order as in PyTorch. State tensors are
        references (save them, or ``load_state_dict`` copies them)."""
        mapping: dict[int, int] = {}
        start = 0

        def pack_group(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(mapping[id(k)] if isinstance(k, Tensor) else k): dict(v)
                        for k, v in self.state.items()}
        return {"state": packed_state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads a state produced by ``state_dict()`` (tensors are copied, cast to each
        parameter's dtype and device)."""
        groups = self.param_groups
        saved_groups = [dict(g) for g in state_dict["param_groups"]]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the "
                             "size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param: Tensor, value, key=None):
            if isinstance(value, Tensor):
                if key == "step":
                    return float(value.item())
                c = value._c
                if param.is_floating_point() and c.dtype != param._c.dtype:
                    c = c.to_dtype(param._c.dtype)
                if c.device != param._c.device:
                    c = c.to_device(param._c.device)
                c = c.clone()  # our own memory, contiguous: the fused step writes it in place
                if not c.is_contiguous():
                    c = c.contiguous()
                return Tensor._wrap(c)
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.__setstate__({"state": state, "param_groups": new_groups})
