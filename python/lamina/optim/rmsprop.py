"""``RMSprop`` (Hinton's lecture 6e; centered variant of Graves 2013) with momentum, weight decay and
maximize, as ``torch.optim.RMSprop``; the update is one fused C++ call per group."""
from __future__ import annotations

from .. import _C
from .optimizer import Optimizer, _new_state, _scalar


class RMSprop(Optimizer):
    r"""RMSprop, as in PyTorch:

    .. math::
        v \leftarrow \alpha v + (1-\alpha) g^2,\quad
        \bar g \leftarrow \alpha \bar g + (1-\alpha) g \text{ (centered)},\quad
        d = \sqrt{v - \bar g^2} + \epsilon,\quad
        b \leftarrow \mu b + g/d,\quad \theta \leftarrow \theta - \gamma b

    (without momentum, ``theta -= lr * g / d``).

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant (default 0.99).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by the estimated variance of the gradient.
        maximize: maximize the objective instead of minimizing it.

    ``torch.optim.RMSprop``; Keras: ``keras.optimizers.RMSprop`` (``rho`` = alpha).

    Example::

        opt = optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9)
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        if differentiable:
            raise NotImplementedError("RMSprop: differentiable=True is not supported")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("maximize", False)

    def _update_group(self, group, params) -> None:
        momentum = _scalar(group["momentum"])
        centered = bool(group["centered"])
        for p in params:
            st = self.state[p]
            if len(st) == 0:
                st["step"] = 0.0
                st["square_avg"] = _new_state(p)
            # options can change between steps (param_groups are editable): create what is missing
            if momentum > 0 and "momentum_buffer" not in st:
                st["momentum_buffer"] = _new_state(p)
            if centered and "grad_avg" not in st:
                st["grad_avg"] = _new_state(p)
            st["step"] = float(st["step"]) + 1.0
        states = [self.state[p] for p in params]
        _C.rmsprop_step([p._c for p in params], [p.grad._c for p in params],
                        [s["square_avg"]._c for s in states],
                        [s["grad_avg"]._c for s in states] if centered else [],
                        [s["momentum_buffer"]._c for s in states] if momentum > 0 else [],
                        _scalar(group["lr"]), _scalar(group["alpha"]), _scalar(group["eps"]),
                        _scalar(group["weight_decay"]), momentum, centered, bool(group["maximize"]))
