"""``Adam`` and ``AdamW`` (decoupled weight decay), with amsgrad and maximize, as
``torch.optim.Adam`` / ``torch.optim.AdamW``; the update is one fused C++ call per group."""
from __future__ import annotations

from .. import _C
from .optimizer import Optimizer, _new_state, _scalar


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2014), as in PyTorch:

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
        \theta \leftarrow \theta - \frac{\gamma}{1-\beta_1^t}\,
            \frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}

    with ``g = ±grad + weight_decay * theta`` (L2), or, when ``decoupled_weight_decay`` (AdamW),
    ``theta *= 1 - lr * weight_decay`` first. ``amsgrad`` uses the running maximum of ``v``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square.
        eps: added to the denominator (default 1e-8).
        weight_decay: weight decay (default 0).
        amsgrad: use the AMSGrad variant.
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: AdamW's decoupled weight decay.

    ``torch.optim.Adam``; Keras: ``keras.optimizers.Adam`` (Keras puts ``epsilon`` inside the
    bias-corrected denominator the same way, default 1e-7 there).

    Example::

        opt = optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if differentiable:
            raise NotImplementedError(f"{type(self).__name__}: differentiable=True is not supported")
        defaults = dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("decoupled_weight_decay", False)

    def _update_group(self, group, params) -> None:
        amsgrad = bool(group["amsgrad"])
        steps = []
        for p in params:
            st = self.state[p]
            if len(st) == 0:
                st["step"] = 0.0
                st["exp_avg"] = _new_state(p)
                st["exp_avg_sq"] = _new_state(p)
                if amsgrad:
                    st["max_exp_avg_sq"] = _new_state(p)
            elif amsgrad and "max_exp_avg_sq" not in st:
                st["max_exp_avg_sq"] = _new_state(p)
            st["step"] = float(st["step"]) + 1.0
            steps.append(st["step"])
        states = [self.state[p] for p in params]
        beta1, beta2 = group["betas"]
        _C.adam_step([p._c for p in params], [p.grad._c for p in params],
                     [s["exp_avg"]._c for s in states], [s["exp_avg_sq"]._c for s in states],
                     [s["max_exp_avg_sq"]._c for s in states] if amsgrad else [],
                     steps, _scalar(group["lr"]), _scalar(beta1), _scalar(beta2),
                     _scalar(group["eps"]), _scalar(group["weight_decay"]), amsgrad,
                     bool(group["decoupled_weight_decay"]), bool(group["maximize"]))


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter): ``theta *= 1 - lr * weight_decay``
    before the Adam update, as ``torch.optim.AdamW``. Arguments as :class:`Adam`, with
    ``weight_decay`` defaulting to 1e-2.

    Keras: ``keras.optimizers.AdamW``.

    Example::

        opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         differentiable=differentiable, decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
