"""Two classic neuron layers that are not pointwise functions:

- ``RBF``: Gaussian radial basis units, phi_k(x) = exp(-||x - c_k||^2 / (2 sigma_k^2)), with
  learned centres c_k and widths sigma_k.
- ``ConicSection``: Dorffner's conic section function units (CSFN), which blend a perceptron's
  hyperplane and an RBF unit's hypersphere through a learned opening angle per unit.
The math (forward and backward) is in C++: cpp/ops/rbf.cpp, via F.rbf and F.conic.
"""
from __future__ import annotations

import math

from ... import _dtype as D
from ...ops.creation import empty
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


class RBF(Module):
    """``RBF(in_features, out_features)``: (N, in) -> (N, out) Gaussian activations.

    Centres start U(-1, 1), widths at 1 (see F.rbf for how widths are parametrised)."""

    def __init__(self, in_features: int, out_features: int, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        dt = D.get_default_dtype() if dtype is None else dtype
        self.centers = Parameter(empty(out_features, in_features, dtype=dt, device=device))
        self.widths = Parameter(empty(out_features, dtype=dt, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.uniform_(self.centers, -1.0, 1.0)
        init.ones_(self.widths)

    def forward(self, x):
        return F.rbf(x, self.centers, self.widths)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class ConicSection(Module):
    """``ConicSection(in_features, out_features)``: conic section function units (see F.conic);
    weights start like nn.Linear's, centres at 0, opening angles at pi/2 (pure perceptrons)."""

    def __init__(self, in_features: int, out_features: int, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        dt = D.get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(empty(out_features, in_features, dtype=dt, device=device))
        self.centers = Parameter(empty(out_features, in_features, dtype=dt, device=device))
        self.omega = Parameter(empty(out_features, dtype=dt, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        init.zeros_(self.centers)
        init.constant_(self.omega, math.pi / 2)

    def forward(self, x):
        return F.conic(x, self.weight, self.centers, self.omega)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"
