"""``SGD``: stochastic gradient descent with optional momentum (heavy-ball or Nesterov),
dampening, weight decay and maximize, as ``torch.optim.SGD``; the update is one fused C++ call."""
from __future__ import annotations

from .. import _C
from .optimizer import Optimizer, _new_state, _scalar


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as in PyTorch:

    .. math::
        g \leftarrow \pm\nabla + \lambda\theta,\quad
        b \leftarrow \mu b + (1-\tau) g,\quad
        g \leftarrow g + \mu b \text{ (nesterov) or } b,\quad
        \theta \leftarrow \theta - \gamma g

    The momentum buffer starts as the first step's ``g`` (not zeros).

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening for momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.

    ``torch.optim.SGD``; Keras: ``keras.optimizers.SGD(learning_rate, momentum, nesterov)`` (Keras's
    momentum update differs by the lr scaling when the lr changes). Each ``step()`` is one fused C++
    call over every parameter of a group.

    Example::

        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if differentiable:
            raise NotImplementedError("SGD: differentiable=True is not supported")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def _update_group(self, group, params) -> None:
        lr, momentum = _scalar(group["lr"]), _scalar(group["momentum"])
        args = (lr, momentum, _scalar(group["dampening"]), _scalar(group["weight_decay"]),
                bool(group["nesterov"]), bool(group["maximize"]))
        if momentum == 0:
            _C.sgd_step([p._c for p in params], [p.grad._c for p in params], [], *args, False)
            return
        # Parameters seeing their first momentum step get a buffer equal to their first update
        # direction; the others continue theirs. At most two fused calls.
        old, new = [], []
        for p in params:
            st = self.state[p]
            if st.get("momentum_buffer") is None:
                st["momentum_buffer"] = _new_state(p, None)
                new.append(p)
            else:
                old.append(p)
        for ps, first in ((old, False), (new, True)):
            if ps:
                _C.sgd_step([p._c for p in ps], [p.grad._c for p in ps],
                            [self.state[p]["momentum_buffer"]._c for p in ps], *args, first)
