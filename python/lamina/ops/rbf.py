"""Two distance-based neuron layers from the classic RBF / MLP literature, as functional ops with
C++ forward and backward (cpp/ops/rbf.cpp):

* ``rbf``: Gaussian radial basis units, ``phi = exp(-||x - c_k||^2 / (2 sigma_k^2))``.
* ``conic``: conic section function network units (Dorffner 1994), which blend the perceptron's
  hyperplane and the RBF unit's hypersphere through an opening angle ``omega``.
"""
from __future__ import annotations

from .. import _C
from ..autograd.function import Function
from ..tensor import Tensor

W = Tensor._wrap

__all__: list = []
FUNCTIONAL: list = ["rbf", "conic"]
TENSOR_METHODS: dict = {}


class RBF(Function):
    @staticmethod
    def forward(ctx, x, centers, widths):
        out = W(_C.rbf_forward(x._c, centers._c, widths._c))
        ctx.save_for_backward(x, centers, widths, out)
        return out

    @staticmethod
    def backward(ctx, dout):
        x, c, w, out = ctx.saved_tensors
        nx, nc, nw = ctx.needs_input_grad
        dx, dc, dw = _C.rbf_backward(dout._c, x._c, c._c, w._c, out._c, nx, nc, nw)
        return (W(dx) if nx else None, W(dc) if nc else None, W(dw) if nw else None)


def rbf(input: Tensor, centers: Tensor, widths: Tensor) -> Tensor:
    """Gaussian radial basis units.

    ``out[n, k] = exp(-||input[n] - centers[k]||^2 / (2 * widths[k]^2))`` for input ``(N, D)``,
    centers ``(K, D)`` and widths ``(K,)``: ``widths`` is the standard deviation sigma_k of each
    Gaussian. Only sigma_k^2 enters, so the sign of a width does not matter, but a zero width does
    (division by zero). To keep widths positive and away from zero while training, parametrise them
    as ``widths = log_widths.exp()`` (what a layer module should do). Gradients flow to input,
    centers and widths.
    """
    return RBF.apply(input, centers, widths)


class Conic(Function):
    @staticmethod
    def forward(ctx, x, weight, centers, omega):
        ctx.save_for_backward(x, weight, centers, omega)
        return W(_C.conic_forward(x._c, weight._c, centers._c, omega._c))

    @staticmethod
    def backward(ctx, dout):
        x, w, c, om = ctx.saved_tensors
        nx, nw, nc, no = ctx.needs_input_grad
        grads = _C.conic_backward(dout._c, x._c, w._c, c._c, om._c, nx, nw, nc, no)
        return tuple(W(g) if need else None for g, need in zip(grads, (nx, nw, nc, no)))


def conic(input: Tensor, weight: Tensor, centers: Tensor, omega: Tensor) -> Tensor:
    """Conic section function network units (G. Dorffner, "Unified framework for MLPs and RBFNs:
    Introducing conic section function networks", Cybernetics and Systems 25(4), 1994).

    ``out[n, k] = sum_i (x[n, i] - c[k, i]) * w[k, i] - cos(omega[k]) * ||x[n] - c[k]||``

    for input ``(N, D)``, weight and centers ``(K, D)`` and opening angles omega ``(K,)`` (radians).
    This is the unit's net input (apply an activation afterwards). ``omega = pi/2`` removes the
    distance term and leaves the perceptron's hyperplane ``w.x + b`` with bias ``b = -w.c``; with
    ``w = 0`` and ``omega = pi`` it is the distance ``||x - c||`` of an RBF unit (a hypersphere);
    angles in between give the other conic sections as decision boundaries. The distance has no
    gradient where ``x == c`` (the gradient there is taken as 0).
    """
    return Conic.apply(input, weight, centers, omega)
