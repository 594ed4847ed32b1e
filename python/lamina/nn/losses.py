"""Loss modules wrapping lamina.nn.functional's losses (PyTorch names and arguments)."""
from __future__ import annotations

from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none", "batchmean"):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class MSELoss(_Loss):
    """Mean squared error; reduction='sum' is the classic sum of squared errors (SSE).

    ``torch.nn.MSELoss(reduction="mean")``; Keras: ``keras.losses.MeanSquaredError``. input and
    target have the same shape (any); float32 or float64. ``reduction``: "mean" (default), "sum" or
    "none" (per element).

    Example::

        nn.MSELoss()(lamina.tensor([1.0, 2.0]), lamina.tensor([0.0, 4.0]))   # 2.5
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``; ``torch.nn.L1Loss`` (Keras: ``MeanAbsoluteError``).
    input and target have the same shape (any); float32 or float64.

    Args:
        reduction: ``"mean"`` (default: the average over elements), ``"sum"`` or ``"none"`` (per element).

    Example::

        nn.L1Loss()(lamina.tensor([1.0, 2.0]), lamina.tensor([0.0, 4.0]))   # 1.5
    """
    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """Log-softmax + negative log-likelihood, fused (class-index or probability targets).

    ``torch.nn.CrossEntropyLoss(weight=None, ignore_index=-100, reduction="mean",
    label_smoothing=0.0)``; Keras: ``SparseCategoricalCrossentropy(from_logits=True)`` (class
    indices) or ``CategoricalCrossentropy(from_logits=True)`` (probabilities). input: logits (N, C)
    or (N, C, d1, ...), float32/float64 (no softmax before it); target: int64 class indices (N) /
    (N, d1, ...) or class probabilities of the input's shape. ``weight``: (C,) per-class weights;
    targets equal to ``ignore_index`` count for nothing; ``reduction`` "mean" (default), "sum" or
    "none".

    Example::

        loss = nn.CrossEntropyLoss()(lamina.randn(8, 10), lamina.randint(0, 10, (8,)))
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities; ``torch.nn.NLLLoss``. input (N, C) or (N, C, d1, ...)
    holds log-probabilities (e.g. from :class:`LogSoftmax`); target (N) or (N, d1, ...) int64 class
    indices.

    Args:
        weight: a (C,) tensor of per-class weights, or None.
        ignore_index: targets equal to it contribute nothing (default -100).
        reduction: ``"mean"`` (default: the average over elements), ``"sum"`` or ``"none"`` (per element).
    """
    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities: ``-(t log p + (1 - t) log(1 - p))``; ``torch.nn.BCELoss``
    (Keras: ``BinaryCrossentropy(from_logits=False)``). input: probabilities in [0, 1] (e.g. after a
    Sigmoid), target: the same shape, values in [0, 1]. Prefer :class:`BCEWithLogitsLoss` on logits.

    Args:
        weight: per-element weights broadcast against input, or None.
        reduction: ``"mean"`` (default: the average over elements), ``"sum"`` or ``"none"`` (per element).
    """
    def __init__(self, weight=None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one numerically stable step; ``torch.nn.BCEWithLogitsLoss``
    (Keras: ``BinaryCrossentropy(from_logits=True)``). input: logits, target: the same shape in [0, 1].

    Args:
        weight: per-element weights broadcast against input, or None.
        reduction: ``"mean"`` (default: the average over elements), ``"sum"`` or ``"none"`` (per element).
        pos_weight: weight of the positive term per class (broadcast over the last axis), or None.

    Example::

        loss = nn.BCEWithLogitsLoss()(lamina.randn(8, 1), lamina.ones(8, 1))
    """
    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None) -> None:
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class HuberLoss(_Loss):
    """Huber loss: ``0.5 d^2`` where ``|d| <= delta``, ``delta * (|d| - 0.5 delta)`` beyond (``d = input
    - target``, default delta 1.0); ``torch.nn.HuberLoss`` (Keras: ``keras.losses.Huber``). Same-shape
    input and target.

    Args:
        reduction: ``"mean"`` (default: the average over elements), ``"sum"`` or ``"none"`` (per element).
        delta: where the loss turns from quadratic to linear.
    """
    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """Smooth L1: ``0.5 d^2 / beta`` where ``|d| < beta``, ``|d| - 0.5 beta`` beyond (default beta 1.0; equals
    HuberLoss / beta); ``torch.nn.SmoothL1Loss``. Same-shape input and target.

    Args:
        reduction: ``"mean"`` (default: the average over elements), ``"sum"`` or ``"none"`` (per element).
        beta: where the loss turns from quadratic to linear.
    """
    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence ``target * (log target - input)`` with input given as
    log-probabilities; ``torch.nn.KLDivLoss`` (Keras: ``KLDivergence``, which takes probabilities).

    Args:
        reduction: ``"mean"`` (over elements, PyTorch's default), ``"batchmean"`` (sum / batch size:
            the mathematical KL divergence), ``"sum"`` or ``"none"``.
        log_target: the target is given as log-probabilities too (default False).
    """
    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
