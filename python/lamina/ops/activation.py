"""Pointwise activations: sigmoid, bipolar_sigmoid, tanh, relu, leaky_relu, elu, softplus, gelu,
identity and ``step`` (Heaviside with a surrogate gradient). C++: cpp/ops/activation.cpp, element
formulas in cpp/ops/formulas.h. Sigmoid-like activations and relu differentiate from the saved
output, the others from the saved input. In-place forms follow the rules in ops/elementwise.py.
"""
from __future__ import annotations

from .. import _C
from .. import _dtype as D
from .._state import _tracers
from ..autograd import grad_mode
from ..autograd.function import Function
from ..tensor import Tensor
from .elementwise import _FLOATS, _record_inplace, _records
from .elementwise import _stand_in

W = Tensor._wrap
_A = _C.Act


class _Act(Function):
    act = None
    saves_out = False

    @classmethod
    def forward(cls, ctx, x, p0, p1):
        c = _C.activation_forward(x._c, cls.act, p0, p1)
        saved = c if cls.saves_out else x._c
        if cls.act == _A.identity:
            saved = _stand_in(saved)  # its gradient reads no values
        ctx.saved, ctx.p = saved, (p0, p1)
        return W(c)

    @classmethod
    def backward(cls, ctx, dout):
        p0, p1 = ctx.p
        return W(_C.activation_backward(dout._c, ctx.saved, cls.act, p0, p1)), None, None

    @classmethod
    def backward_graph(cls, ctx, dout):
        """The same gradient as differentiable lamina ops (create_graph=True)."""
        act, (p0, p1), s = cls.act, ctx.p, ctx.saved
        if act == _A.identity:
            return dout, None, None
        if act in _PIECEWISE_CONSTANT:
            # relu, leaky_relu, step (straight-through): the slope is constant between kinks, so
            # the C++ backward of ones gives it exactly, kinks and ties included.
            ones = _C.empty(list(s.shape), s.dtype, s.device)
            _C.fill_(ones, 1.0)
            return dout * W(_C.activation_backward(ones, s, act, p0, p1)), None, None
        if cls.saves_out:
            y = ctx.output(s)
            if act == _A.sigmoid:
                return dout * y * (1.0 - y), None, None
            if act == _A.tanh:
                return dout * (1.0 - y * y), None, None
            return dout * (1.0 - y * y) * 0.5, None, None  # bipolar sigmoid
        if act == _A.gelu:  # needs erf, which is no lamina op: its gradient is an op of its own
            return _GeluGrad.apply(dout, ctx.input(0, s)), None, None
        x = ctx.input(0, s)
        if act == _A.elu:  # x > 0: 1, else alpha * exp(x)
            return dout.where(W(s) > 0.0, dout * x.exp() * p0), None, None
        if act == _A.softplus:  # beta * x > threshold: 1 (linear part), else sigmoid(beta * x)
            return dout.where(W(s) * p0 > p1, dout * sigmoid(x * p0)), None, None
        if act == _A.gelu_tanh:
            k, c = 0.79788456080286535588, 0.044715
            x2 = x * x
            t = tanh((x + x2 * x * c) * k)
            slope = (1.0 + t) * 0.5 + x * (1.0 - t * t) * (1.0 + x2 * (3.0 * c)) * (0.5 * k)
            return dout * slope, None, None
        # step with the sigmoid surrogate: beta * s * (1 - s), s = sigmoid(beta * (x - threshold))
        sg = sigmoid((x - p0) * p1)
        return dout * sg * (1.0 - sg) * p1, None, None


class _GeluGrad(Function):
    """``dout * gelu'(x)`` (exact GELU) as an op of its own: gelu' needs erf, which is no lamina
    op, so double backward goes through this Function; its own gradients are written with lamina
    ops (gelu''(x) = pdf(x) * (2 - x^2)) and with itself, so every order is differentiable."""

    @staticmethod
    def forward(ctx, dout, x):
        ctx.dout, ctx.x = dout._c, x._c
        return W(_C.activation_backward(dout._c, x._c, _A.gelu, 0.0, 0.0))

    @staticmethod
    def _grads(ctx, g, dout, x):
        nd, nx = ctx.needs_input_grad
        dd = _GeluGrad.apply(g, x) if nd else None
        dx = None
        if nx:
            pdf = (x * x * -0.5).exp() * 0.39894228040143267794
            dx = g * dout * pdf * (2.0 - x * x)
        return dd, dx

    @staticmethod
    def backward(ctx, g):
        return _GeluGrad._grads(ctx, g, W(ctx.dout), W(ctx.x))

    @staticmethod
    def backward_graph(ctx, g):
        return _GeluGrad._grads(ctx, g, ctx.input(0, ctx.dout), ctx.input(1, ctx.x))


_PIECEWISE_CONSTANT = frozenset((_A.relu, _A.leaky_relu, _A.step_ste))


_FN = {a: type(n, (_Act,), {"act": a, "saves_out": _C.activation_saves_output(a)}) for n, a in (
    ("Identity", _A.identity), ("Sigmoid", _A.sigmoid), ("BipolarSigmoid", _A.bipolar_sigmoid),
    ("Tanh", _A.tanh), ("Relu", _A.relu), ("LeakyRelu", _A.leaky_relu), ("Elu", _A.elu),
    ("Softplus", _A.softplus), ("Gelu", _A.gelu), ("GeluTanh", _A.gelu_tanh), ("Step", _A.step_ste),
    ("StepSigmoid", _A.step_sigmoid))}


def _apply(act, x, p0=0.0, p1=0.0, promote=False):
    if not isinstance(x, Tensor):
        raise TypeError(f"{act.name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if promote and not x._c.is_floating_point:  # (a dtype hash costs ~0.35 us a call)
        x = x.to(D._default)  # torch.sigmoid / torch.tanh of integers give floats
    if not (x.requires_grad and grad_mode._tls.enabled) and not _tracers:  # cheap test first
        return W(_C.activation_forward(x._c, act, p0, p1))  # fast path: nothing to record
    return _FN[act].apply(x, p0, p1)


def _apply_(act, name, x, p0=0.0, p1=0.0):
    if _records(x):
        return _record_inplace(x, lambda src: _FN[act].apply(src, p0, p1), name)
    _C.activation_(x._c, act, p0, p1)
    return x


def identity(input: Tensor) -> Tensor:
    """The identity activation (a "linear" layer output); gradient 1. (lamina extra)"""
    return _apply(_A.identity, input)


linear_activation = identity


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow for large ``|x|``.

    PyTorch: ``torch.nn.functional.sigmoid``.
    """
    return _apply(_A.sigmoid, input, promote=True)


def sigmoid_(input: Tensor) -> Tensor:
    """In-place :func:`sigmoid`: writes into ``input`` and returns it; ``torch.sigmoid_``."""
    return _apply_(_A.sigmoid, "sigmoid_", input)


def bipolar_sigmoid(input: Tensor) -> Tensor:
    """2 * sigmoid(x) - 1 (= tanh(x / 2)), values in (-1, 1). (lamina extra)"""
    return _apply(_A.bipolar_sigmoid, input, promote=True)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent.

    PyTorch: ``torch.nn.functional.tanh``.
    """
    return _apply(_A.tanh, input, promote=True)


def tanh_(input: Tensor) -> Tensor:
    """In-place :func:`tanh`: writes into ``input`` and returns it; ``torch.tanh_``."""
    return _apply_(_A.tanh, "tanh_", input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); gradient 0 at x == 0, as in PyTorch.

    PyTorch: ``torch.relu`` / ``torch.nn.functional.relu``; Keras: ``keras.activations.relu``. Any
    shape and float dtype; ``inplace=True`` writes into ``input``.

    Example::

        F.relu(lamina.tensor([-1.0, 0.5]))       # tensor([0.0, 0.5])
    """
    if inplace:
        return _apply_(_A.relu, "relu_", input)
    return _apply(_A.relu, input)


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`: writes max(x, 0) into ``input`` and returns it; ``torch.relu_``."""
    return _apply_(_A.relu, "relu_", input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise.

    PyTorch: ``torch.nn.functional.leaky_relu``.
    """
    if inplace:
        return _apply_(_A.leaky_relu, "leaky_relu_", input, float(negative_slope))
    return _apply(_A.leaky_relu, input, float(negative_slope))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place :func:`leaky_relu`; ``torch.nn.functional.leaky_relu_``."""
    return _apply_(_A.leaky_relu, "leaky_relu_", input, float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    PyTorch: ``torch.nn.functional.elu``.
    """
    if inplace:
        return _apply_(_A.elu, "elu_", input, float(alpha))
    return _apply(_A.elu, input, float(alpha))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`elu`; ``torch.nn.functional.elu_``."""
    return _apply_(_A.elu, "elu_", input, float(alpha))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold.

    PyTorch: ``torch.nn.functional.softplus``.
    """
    return _apply(_A.softplus, input, float(beta), float(threshold))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (approximate='none', with erf) or its tanh approximation (approximate='tanh').

    PyTorch: ``torch.nn.functional.gelu``.
    """
    if approximate == "none":
        return _apply(_A.gelu, input)
    if approximate == "tanh":
        return _apply(_A.gelu_tanh, input)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def step(x: Tensor, threshold: float = 0.0, surrogate: str = "ste", beta: float = 1.0) -> Tensor:
    """Heaviside step: 1 where x >= threshold, else 0. (lamina extra)

    Its true derivative is zero almost everywhere, so backward uses a surrogate:
    ``"ste"`` (straight-through: 1 where ``|x - threshold| <= 1``, else 0) or ``"sigmoid"``
    (beta * s * (1 - s) with s = sigmoid(beta * (x - threshold))).
    """
    if surrogate == "ste":
        return _apply(_A.step_ste, x, float(threshold), float(beta))
    if surrogate == "sigmoid":
        return _apply(_A.step_sigmoid, x, float(threshold), float(beta))
    raise ValueError(f"step: surrogate must be 'ste' or 'sigmoid', got {surrogate!r}")


__all__ = ["sigmoid", "sigmoid_", "tanh", "tanh_", "relu", "relu_"]
FUNCTIONAL: list = ["identity", "linear_activation", "sigmoid", "bipolar_sigmoid", "tanh", "relu",
                    "relu_", "leaky_relu", "leaky_relu_", "elu", "elu_", "softplus", "gelu", "step"]
TENSOR_METHODS: dict = {"sigmoid": sigmoid, "sigmoid_": sigmoid_, "tanh": tanh, "tanh_": tanh_,
                        "relu": relu, "relu_": relu_}
