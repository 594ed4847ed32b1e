"""Linear (fully connected), Identity, Flatten, Unflatten."""
from __future__ import annotations

import math

from ... import _dtype as D
from ...ops.creation import empty
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


class Linear(Module):
    """y = x W^T + b with W (out_features, in_features); PyTorch's default init
    (kaiming_uniform_(a=sqrt(5)) for W, U(-1/sqrt(in), 1/sqrt(in)) for b).

    ``torch.nn.Linear(in_features, out_features, bias=True, device=None, dtype=None)``; Keras:
    ``keras.layers.Dense(out_features)`` (Keras stores the kernel transposed, (in, out), and
    initialises it with Glorot uniform). Shapes: input (*, in_features) -> output (*, out_features),
    any number of leading dimensions; ``weight`` (out_features, in_features), ``bias``
    (out_features,). Parameters are float32 unless ``dtype=`` says otherwise; forward and backward are
    one fused GEMM + bias (``F.linear``).

    Example::

        fc = nn.Linear(784, 10)
        fc(lamina.randn(32, 784)).shape          # (32, 10)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        dt = D.get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(empty(out_features, in_features, dtype=dt, device=device))
        self.bias = Parameter(empty(out_features, dtype=dt, device=device)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"expected input with last dimension {self.in_features} (in_features), "
                             f"got input of shape {list(x.shape)}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def describe(self) -> str:
        return f"Linear {self.in_features}->{self.out_features}"


class Identity(Module):
    """Returns its input (a placeholder layer; also the 'linear' activation).

    PyTorch: ``torch.nn.Identity``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Flattens dims start_dim..end_dim (default: all but the batch dim).

    ``torch.nn.Flatten(start_dim=1, end_dim=-1)``; Keras: ``keras.layers.Flatten``. Shapes:
    (N, C, H, W) -> (N, C*H*W) with the defaults; a view when the input's layout allows.

    Example::

        nn.Flatten()(lamina.randn(8, 16, 5, 5)).shape    # (8, 400)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dimension ``dim`` into ``unflattened_size``.

    PyTorch: ``torch.nn.Unflatten``.
    """

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        d = self.dim % x.ndim
        return x.reshape(*x.shape[:d], *self.unflattened_size, *x.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
