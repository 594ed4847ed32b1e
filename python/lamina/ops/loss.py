"""Loss functions with PyTorch's names and options: cross_entropy (fused log-softmax + NLL, class
indices or probabilities, weight, ignore_index, label_smoothing), nll_loss, mse_loss, l1_loss,
huber_loss, smooth_l1_loss, binary_cross_entropy(_with_logits), kl_div. C++: cpp/ops/loss.cpp.
"""
from __future__ import annotations

import math

from .. import _C
from .._state import _tracers
from ..autograd.function import Function
from ..tensor import Tensor

W = Tensor._wrap

_RED = {"none": 0, "mean": 1, "sum": 2}
# Pointwise loss kinds (cpp/ops/loss.h PointwiseLoss).
_MSE, _L1, _HUBER, _SMOOTH_L1, _BCE, _BCE_LOGITS, _KL = range(7)


def _reduction(op: str, reduction: str, allowed=("none", "mean", "sum")) -> str:
    if reduction not in allowed:
        opts = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{op}: reduction must be one of {opts}, got {reduction!r}")
    return reduction


def _check(op: str, **tensors) -> None:
    for name, t in tensors.items():
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")


def _broadcast_shape(op: str, a, b) -> tuple:
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{op}: input shape {list(a)} and target shape {list(b)} cannot be broadcast together")
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


def _opt_c(t):
    return None if t is None else t._c


# ---- cross_entropy / nll_loss ---------------------------------------------------------------

def _class_dim(x) -> int:
    return 1 if x.ndim >= 2 else 0


def _per_position(dout, red, divisor, x):
    """The upstream gradient per position, broadcastable against the logits (double backward)."""
    if red == 0:
        return dout.unsqueeze(1) if x.ndim >= 2 else dout
    return dout / divisor if red == 1 else dout


def _class_weight_b(weight_c, x):
    """weight [C] shaped to broadcast over the logits' class dimension (a constant), or 1.0."""
    if weight_c is None:
        return 1.0
    return W(weight_c).reshape([x.shape[_class_dim(x)]] + [1] * (x.ndim - _class_dim(x) - 1))


def _class_targets(x, target_c, weight_c, ignore_index, ls):
    """q (logits' shape, a constant): each position's weight on each class, (1 - ls) * w[t] at the
    target class plus ls / C * w[c], zero at ignored positions. Cross-entropy's gradient is
    s * (sum_c q * softmax(x) - q); NLL's is -s * q (with ls = 0)."""
    xc = x._c
    ones = _C.empty(list(target_c.shape), xc.dtype, xc.device)
    _C.fill_(ones, 1.0)
    q = W(_C.nll_backward(ones, xc, target_c, weight_c, 1.0, ignore_index, 0)) * (-(1.0 - ls))
    if ls > 0:
        cd = _class_dim(x)
        valid = (W(target_c) != ignore_index).to(x.dtype)
        q = q + (valid.unsqueeze(cd) if x.ndim >= 2 else valid) * _class_weight_b(weight_c, x) * (ls / x.shape[cd])
    return q


class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, logits, target, weight, ignore_index, label_smoothing, red):
        loss, lse, denom = _C.cross_entropy_forward(logits._c, target._c, _opt_c(weight), ignore_index,
                                                    label_smoothing, red)
        # lse stays a C++ tensor on ctx (still version-checked): wrapping it was ~0.3 us of a
        # 256 x 10 forward's ~3 us of Python
        ctx.save_for_backward(logits, target, weight)
        ctx.lse = lse
        ctx.args = (denom, ignore_index, label_smoothing, red)
        return W(loss)

    @staticmethod
    def backward(ctx, dout):
        logits, target, weight = ctx.saved_tensors
        denom, ignore_index, ls, red = ctx.args
        dx = _C.cross_entropy_backward(dout._c, logits._c, target._c, _opt_c(weight), ctx.lse, denom,
                                       ignore_index, ls, red)
        return W(dx), None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, dout):
        logits, target, weight = ctx.saved_tensors
        denom, ignore_index, ls, red = ctx.args
        x = ctx.input(0, logits._c)
        cd = _class_dim(x)
        q = _class_targets(x, target._c, _opt_c(weight), ignore_index, ls)
        dx = _per_position(dout, red, denom, x) * (q.sum(cd, keepdim=True) * x.softmax(cd) - q)
        return dx, None, None, None, None, None


class CrossEntropyProb(Function):
    @staticmethod
    def forward(ctx, logits, target, weight, label_smoothing, red):
        loss, lse = _C.cross_entropy_prob_forward(logits._c, target._c, _opt_c(weight), label_smoothing, red)
        ctx.save_for_backward(logits, target, weight, W(lse))
        ctx.args = (label_smoothing, red)
        return W(loss)

    @staticmethod
    def backward(ctx, dout):
        logits, target, weight, lse = ctx.saved_tensors
        ls, red = ctx.args
        need = ctx.needs_input_grad
        dx, dt = _C.cross_entropy_prob_backward(dout._c, logits._c, target._c, _opt_c(weight), lse._c, ls, red,
                                                bool(need[0]), bool(need[1]))
        return (W(dx) if need[0] else None), (W(dt) if need[1] else None), None, None, None

    @staticmethod
    def backward_graph(ctx, dout):
        logits, target, weight, _ = ctx.saved_tensors
        ls, red = ctx.args
        need = ctx.needs_input_grad
        x, t = ctx.input(0, logits._c), ctx.input(1, target._c)
        cd = _class_dim(x)
        C = x.shape[cd]
        s = _per_position(dout, red, float(x.numel() // C) if C else 1.0, x)
        wb = _class_weight_b(_opt_c(weight), x)
        dx = dt = None
        if need[0]:
            wq = (t * (1.0 - ls) + ls / C) * wb
            dx = s * (wq.sum(cd, keepdim=True) * x.softmax(cd) - wq)
        if need[1]:
            dt = -(s * (1.0 - ls)) * wb * x.log_softmax(cd)
        return dx, dt, None, None, None


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits ``input`` [N, C, d...] (or [C]) and ``target``: class indices
    [N, d...] (int64) or class probabilities of the input's shape. Log-softmax and NLL run fused.

    PyTorch: ``torch.nn.functional.cross_entropy``; Keras: ``sparse_categorical_crossentropy(...,
    from_logits=True)``. The module form is :class:`lamina.nn.CrossEntropyLoss`.

    Example::

        loss = F.cross_entropy(lamina.randn(8, 10), lamina.randint(0, 10, (8,)), label_smoothing=0.1)
    """
    if not (isinstance(input, Tensor) and isinstance(target, Tensor)
            and (weight is None or isinstance(weight, Tensor))):
        _check("cross_entropy", input=input, target=target, weight=weight)  # raises (its kwargs cost)
    red = _RED.get(reduction) if type(reduction) is str else None
    if red is None:
        red = _RED[_reduction("cross_entropy", reduction)]
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if target._c.is_floating_point:  # (Tensor.dtype costs ~0.8 us)
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(
                f"cross_entropy: expected a floating target of the input's shape {list(input.shape)} with "
                f"class probabilities (or int64 class indices of shape [N, d1, ...]), got {list(target.shape)}")
        return CrossEntropyProb.apply(input, target, weight, float(label_smoothing), red)
    return CrossEntropy.apply(input, target, weight, int(ignore_index), float(label_smoothing), red)


class NLL(Function):
    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, red):
        loss, denom = _C.nll_forward(x._c, target._c, _opt_c(weight), ignore_index, red)
        ctx.save_for_backward(x, target, weight)
        ctx.args = (float(denom.numpy()), ignore_index, red)
        return W(loss)

    @staticmethod
    def backward(ctx, dout):
        x, target, weight = ctx.saved_tensors
        denom, ignore_index, red = ctx.args
        return W(_C.nll_backward(dout._c, x._c, target._c, _opt_c(weight), denom, ignore_index, red)), \
            None, None, None, None

    @staticmethod
    def backward_graph(ctx, dout):
        x, target, weight = ctx.saved_tensors
        denom, ignore_index, red = ctx.args
        q = _class_targets(x, target._c, _opt_c(weight), ignore_index, 0.0)
        return -(_per_position(dout, red, denom, x) * q), None, None, None, None


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices ``target`` [N, d...] under log-probabilities
    ``input`` [N, C, d...]; mean divides by the summed weights of the non-ignored targets.

    PyTorch: ``torch.nn.functional.nll_loss``.
    """
    _check("nll_loss", input=input, target=target, weight=weight)
    red = _RED[_reduction("nll_loss", reduction)]
    return NLL.apply(input, target, weight, int(ignore_index), red)


# ---- pointwise losses -----------------------------------------------------------------------

class Pointwise(Function):
    @staticmethod
    def forward(ctx, x, target, weight, pos_weight, kind, param, reduce, divisor):
        ctx.save_for_backward(x, target, weight, pos_weight)
        ctx.args = (kind, param, reduce, divisor)
        return W(_C.pointwise_loss_forward(kind, x._c, target._c, _opt_c(weight), _opt_c(pos_weight), param,
                                           reduce, divisor))

    @staticmethod
    def backward(ctx, dout):
        x, target, weight, pos_weight = ctx.saved_tensors
        kind, param, reduce, divisor = ctx.args
        need = ctx.needs_input_grad
        dx, dt = _C.pointwise_loss_backward(kind, dout._c, x._c, target._c, _opt_c(weight), _opt_c(pos_weight),
                                            param, reduce, divisor, bool(need[0]), bool(need[1]))
        return (W(dx) if need[0] else None), (W(dt) if need[1] else None), None, None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, dout):
        x, target, weight, pos_weight = ctx.saved_tensors
        kind, param, reduce, divisor = ctx.args
        need = ctx.needs_input_grad
        x, t = ctx.input(0, x._c), ctx.input(1, target._c)
        g = dout / divisor if reduce else dout
        if weight is not None:
            g = g * weight
        dx, dt = _pointwise_grads(kind, x, t, pos_weight, param, need[0], need[1])
        return (g * dx if need[0] else None), (g * dt if need[1] else None), None, None, None, None, None, None


def _pointwise_grads(kind, x, t, pw, param, need_x, need_t):
    """d loss / d input and d loss / d target per element, as differentiable lamina ops (the
    formulas of cpp/ops/loss.cpp pointwise_grad)."""
    if kind in (_MSE, _L1, _HUBER, _SMOOTH_L1):
        d = x - t
        if kind == _MSE:
            a = d * 2.0
        elif kind == _L1 or (kind == _SMOOTH_L1 and param == 0):
            a = d.sign()
        elif kind == _HUBER:
            a = d.where(d.abs() < param, d.sign() * param)
        else:
            a = (d / param).where(d.abs() < param, d.sign())
        return a, -a
    dx = dt = None
    if kind == _BCE:
        if need_x:
            dx = (x - t) / (x * (1.0 - x)).clamp(min=1e-12)
        if need_t:
            dt = (1.0 - x).log() - x.log()
    elif kind == _BCE_LOGITS:
        if need_x:
            dx = x.sigmoid() - t if pw is None else ((pw - 1.0) * t + 1.0) * x.sigmoid() - pw * t
        if need_t:
            if pw is None:
                dt = -x
            else:
                softplus_neg = (-x).clamp(min=0.0) + ((-x.abs()).exp() + 1.0).log()
                dt = (pw - 1.0) * softplus_neg - x
    else:  # KL divergence; param != 0: the target holds log-probabilities
        if param != 0:
            et = t.exp()
            dx, dt = -et, et * (t - x + 1.0)
        else:
            dx, dt = -t, t.log() + 1.0 - x
    return dx, dt


def _pointwise(op, kind, input, target, reduction, param=0.0, weight=None, pos_weight=None, same_shape=False,
               allowed=("none", "mean", "sum")):
    _check(op, input=input, target=target, weight=weight, pos_weight=pos_weight)
    reduction = _reduction(op, reduction, allowed)
    if not input._c.is_floating_point:
        raise TypeError(f"{op}: expected a floating-point input, got {input.dtype}")
    if target.dtype is not input.dtype:
        if target.dtype.is_floating_point or kind in (_BCE, _BCE_LOGITS):
            raise TypeError(f"{op}: target dtype {target.dtype} does not match input dtype {input.dtype} "
                            f"(input shape {list(input.shape)}, target shape {list(target.shape)})")
        target = target.to(input.dtype)
    if tuple(input.shape) != tuple(target.shape):
        if same_shape:
            raise ValueError(f"{op}: target shape {list(target.shape)} must be the same as input shape "
                             f"{list(input.shape)}")
        shape = _broadcast_shape(op, input.shape, target.shape)
        input, target = input.expand(*shape), target.expand(*shape)
    shape = tuple(input.shape)
    extra = []
    for name, t in (("weight", weight), ("pos_weight", pos_weight)):
        if t is None:
            extra.append(None)
            continue
        try:
            bs = _broadcast_shape(op, t.shape, shape)
        except ValueError:
            bs = None
        if bs != shape:
            raise ValueError(f"{op}: {name} of shape {list(t.shape)} cannot be broadcast to the input shape "
                             f"{list(shape)}")
        if _tracers:  # lamina.jit.trace: as recorded ops, so the expanded size can follow the batch
            extra.append(t.detach().to(input.dtype).expand(*shape))
            continue
        extra.append(W(t.detach()._c.to_dtype(input.dtype._c).expand(list(shape))))
    n = math.prod(shape)
    divisor = {"mean": float(n), "sum": 1.0, "none": 1.0,
               "batchmean": float(shape[0]) if shape else 1.0}[reduction]
    return Pointwise.apply(input, target, extra[0], extra[1], kind, float(param), reduction != "none", divisor)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)^2``, averaged (or summed) over every element.

    PyTorch: ``torch.nn.functional.mse_loss``; Keras: ``keras.losses.mean_squared_error``.

    Example::

        F.mse_loss(lamina.tensor([1.0, 2.0]), lamina.tensor([0.0, 4.0]))   # 2.5
    """
    return _pointwise("mse_loss", _MSE, input, target, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Absolute error ``|input - target|``, averaged (or summed) over every element.

    PyTorch: ``torch.nn.functional.l1_loss``.
    """
    return _pointwise("l1_loss", _L1, input, target, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Quadratic for ``|d| < delta``, linear (``delta * (|d| - delta/2)``) beyond.

    PyTorch: ``torch.nn.functional.huber_loss``.
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pointwise("huber_loss", _HUBER, input, target, reduction, delta)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` for ``|d| < beta``, ``|d| - beta/2`` beyond (beta=0: L1).

    PyTorch: ``torch.nn.functional.smooth_l1_loss``.
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _pointwise("smooth_l1_loss", _SMOOTH_L1, input, target, reduction, beta)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """BCE on probabilities in [0, 1]; logs are clamped at -100 like PyTorch."""
    return _pointwise("binary_cross_entropy", _BCE, input, target, reduction, weight=weight, same_shape=True)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + BCE in one stable formula; ``pos_weight`` scales the positive term per class.

    PyTorch: ``torch.nn.functional.binary_cross_entropy_with_logits``.
    """
    return _pointwise("binary_cross_entropy_with_logits", _BCE_LOGITS, input, target, reduction, weight=weight,
                      pos_weight=pos_weight, same_shape=True)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL divergence with ``input`` as log-probabilities: ``target * (log target - input)``
    (``log_target``: target given as log-probabilities). 'batchmean' divides by the batch size.

    PyTorch: ``torch.nn.functional.kl_div``.
    """
    return _pointwise("kl_div", _KL, input, target, reduction, 1.0 if log_target else 0.0,
                      allowed=("none", "mean", "sum", "batchmean"))


__all__: list = []
FUNCTIONAL: list = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss",
                    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]
TENSOR_METHODS: dict = {}
