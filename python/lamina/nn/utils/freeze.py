"""``freeze(module, except_=...)`` / ``unfreeze(module)``: switch parameters' ``requires_grad``
off (or back on) for fine-tuning, optionally keeping frozen BatchNorm layers in inference mode
(Keras's ``trainable=False``) through a forward pre-hook that ``unfreeze`` removes."""
from __future__ import annotations

from collections.abc import Iterable

from ..layers.norm import _BatchNorm
from ..module import Module

__all__ = ["freeze", "unfreeze"]

_HOOK = "_lamina_freeze_bn_hook"  # attribute of a BatchNorm module holding its eval-forcing hook handle


def _prefixes(except_) -> list[str]:
    if except_ is None:
        return []
    if isinstance(except_, str):
        return [except_]
    out = list(except_)
    for p in out:
        if not isinstance(p, str):
            raise TypeError(f"freeze: except_ takes module/parameter names (str), got {type(p).__name__}")
    return out


def _under(name: str, prefix: str) -> bool:
    """``name`` is ``prefix`` itself or inside it (``"features.3"`` covers ``"features.3.weight"``,
    not ``"features.30.weight"``)."""
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def _force_eval(module: Module, args) -> None:
    # Runs before every forward: model.train() sets training=True on every submodule, so the
    # frozen BatchNorm is put back into inference mode (running statistics used, not updated).
    object.__setattr__(module, "training", False)


def freeze(module: Module, except_: str | Iterable[str] | None = None, *, bn_eval: bool = False) -> Module:
    """Sets ``requires_grad=False`` on every parameter of ``module`` except those under the names
    in ``except_`` (a dotted module or parameter name, or a list of them, as in
    ``module.named_parameters()``: ``freeze(model, except_="classifier")``). Returns ``module``.

    Frozen parameters get no gradient, so optimizers skip them (passing them to an optimizer is
    fine). Like PyTorch's ``requires_grad_(False)``, this alone does not change what BatchNorm does:
    in training mode a frozen BatchNorm still normalises with batch statistics and updates its
    running mean and variance. ``bn_eval=True`` makes frozen BatchNorm layers (those with no
    parameter left trainable) behave as Keras's ``trainable=False``: they run in inference mode —
    running statistics used and left unchanged — even after ``model.train()``, until ``unfreeze``.
    That is usually what fine-tuning on small batches wants, since batch statistics of a few
    samples from a new task would overwrite the pretrained ones.

    Raises ValueError when a name in ``except_`` matches no parameter (a typo would otherwise
    silently freeze everything).
    """
    if not isinstance(module, Module):
        raise TypeError(f"freeze: expected an nn.Module, got {type(module).__name__}")
    keep = _prefixes(except_)
    named = list(module.named_parameters())
    for p in keep:
        if not any(_under(n, p) for n, _ in named):
            tops = sorted({n.split(".")[0] for n, _ in named})
            raise ValueError(f"freeze: except_ name {p!r} matches no parameter of {type(module).__name__}; "
                             f"its parameters are under {tops}")
    for name, param in named:
        if not any(_under(name, p) for p in keep):
            param.requires_grad_(False)
    if bn_eval:
        for mname, m in module.named_modules():
            if not isinstance(m, _BatchNorm) or getattr(m, _HOOK, None) is not None:
                continue
            own = [p for p in m.parameters() if p.requires_grad]
            if own or any(_under(mname, p) for p in keep):
                continue  # trainable BatchNorm: left as it is
            object.__setattr__(m, _HOOK, m.register_forward_pre_hook(_force_eval))
            object.__setattr__(m, "training", False)
    return module


def unfreeze(module: Module) -> Module:
    """Sets ``requires_grad=True`` on every parameter of ``module`` and lets BatchNorm layers that
    ``freeze(..., bn_eval=True)`` held in inference mode follow ``train()``/``eval()`` again (they
    take ``module``'s current mode). Returns ``module``. Unfreeze a part with
    ``unfreeze(model.features[3])``."""
    if not isinstance(module, Module):
        raise TypeError(f"unfreeze: expected an nn.Module, got {type(module).__name__}")
    for p in module.parameters():
        p.requires_grad_(True)
    for m in module.modules():
        handle = getattr(m, _HOOK, None)
        if handle is not None:
            handle.remove()
            object.__setattr__(m, _HOOK, None)
            object.__setattr__(m, "training", module.training)
    return module
