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

    @staticmethod
    def backward_graph(ctx, dout):
        # With a = dout * out / w^2 (N, K): dx = a @ c - rowsum(a) x, dc = a^T @ x - colsum(a) c,
        # dw = colsum(dout * out * d2) / w^3, d2 = ||x_n - c_k||^2. out is attached to this op.
        x, c, w, out = ctx.saved_tensors
        nx, nc, nw = ctx.needs_input_grad
        g = dout * out
        a = g / (w * w)
        dx = dc = dw = None
        if nx:
            dx = a @ c - a.sum(1, keepdim=True) * x
        if nc:
            dc = a.transpose(0, 1) @ x - a.sum(0).unsqueeze(1) * c
        if nw:
            diff = x.unsqueeze(1) - c.unsqueeze(0)
            dw = (g * (diff * diff).sum(2)).sum(0) / (w * w * w)
        return dx, dc, dw


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

    @staticmethod
    def backward_graph(ctx, dout):
        # As the C++: r = ||x_n - c_k||, E = dout * cos(omega) / r (0 where r == 0);
        # dx = dout @ w + E @ c - rowsum(E) x, dw = dout^T @ x - colsum(dout) c,
        # dc = E^T @ x - colsum(dout) w - colsum(E) c, domega = sin(omega) * colsum(dout * r).
        x, w, c, om = ctx.saved_tensors
        nx, nw, nc, no = ctx.needs_input_grad
        diff = x.unsqueeze(1) - c.unsqueeze(0)
        d2 = (diff * diff).sum(2)
        pos = W(d2._c) > 0.0
        r = d2.where(pos, 1.0).sqrt()  # 1 where r == 0 keeps every derivative finite there
        e = (dout * om.cos() / r).where(pos, 0.0)
        cg = dout.sum(0).unsqueeze(1)
        gx = gw = gc = go = None
        if nx:
            gx = dout @ w + e @ c - e.sum(1, keepdim=True) * x
        if nw:
            gw = dout.transpose(0, 1) @ x - cg * c
        if nc:
            gc = e.transpose(0, 1) @ x - cg * w - e.sum(0).unsqueeze(1) * c
        if no:
            go = om.sin() * (dout * r.where(pos, 0.0)).sum(0)
        return gx, gw, gc, go


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
