"""``Adagrad`` (Duchi et al., 2011) with learning-rate decay, weight decay, an initial accumulator
value and maximize, as ``torch.optim.Adagrad``; the update is one fused C++ call per group."""
from __future__ import annotations

from .. import _C
from .optimizer import Optimizer, _new_state, _scalar


class Adagrad(Optimizer):
    r"""Adagrad, as in PyTorch:

    .. math::
        \tilde\gamma = \frac{\gamma}{1 + (t-1)\eta},\quad
        s \leftarrow s + g^2,\quad
        \theta \leftarrow \theta - \tilde\gamma \frac{g}{\sqrt{s} + \epsilon}

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of the sums of squares (default 0); a parameter
            group may set its own (torch.optim.Adagrad ignores a group's value and uses the
            constructor's for every group; lamina honours the group's).
        eps: added to the denominator (default 1e-10).
        maximize: maximize the objective instead of minimizing it.

    ``torch.optim.Adagrad``; Keras: ``keras.optimizers.Adagrad``.

    Example::

        opt = optim.Adagrad(model.parameters(), lr=0.01)
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if differentiable:
            raise NotImplementedError("Adagrad: differentiable=True is not supported")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        # Like PyTorch, the state exists from construction (so state_dict() has it at once).
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(group, p)

    def _init_state(self, group, p) -> None:
        st = self.state[p]
        st["step"] = 0.0
        st["sum"] = _new_state(p, _scalar(group["initial_accumulator_value"]))

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("maximize", False)

    def _update_group(self, group, params) -> None:
        steps = []
        for p in params:
            st = self.state[p]
            if "sum" not in st:  # a group added after construction
                self._init_state(group, p)
            st["step"] = float(st["step"]) + 1.0
            steps.append(st["step"])
        _C.adagrad_step([p._c for p in params], [p.grad._c for p in params],
                        [self.state[p]["sum"]._c for p in params], steps, _scalar(group["lr"]),
                        _scalar(group["lr_decay"]), _scalar(group["weight_decay"]),
                        _scalar(group["eps"]), bool(group["maximize"]))
