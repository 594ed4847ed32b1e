"""BatchNorm1d/2d (running statistics, train/eval) and LayerNorm."""
from __future__ import annotations

from ... import _dtype as D
from ...ops.creation import ones, zeros
from .. import functional as F
from ..module import Module
from ..parameter import Parameter


class _BatchNorm(Module):
    _ranks = (2, 3)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = D.get_default_dtype() if dtype is None else dtype
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dt, device=device))
            self.bias = Parameter(zeros(num_features, dtype=dt, device=device))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dt, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dt, device=device))
            self.register_buffer("num_batches_tracked", zeros((), dtype=D.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x):
        if x.ndim not in self._ranks:
            raise ValueError(f"expected {' or '.join(f'{r}D' for r in self._ranks)} input, got {x.ndim}D input "
                             f"of shape {list(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"expected {self.num_features} channels (dim 1), got input of shape {list(x.shape)}")
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
        # Batch statistics in training, or always when no running statistics are kept.
        use_batch_stats = self.training or self.running_mean is None
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch_stats,
                            self.momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L).

    ``torch.nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True)``; Keras: ``keras.layers.BatchNormalization`` (Keras's momentum is
    1 - PyTorch's). In training mode it normalises with the batch's mean and (biased) variance per
    feature C and updates the running statistics (unbiased variance); in eval mode it uses them.
    ``weight`` (gamma) starts at 1 and ``bias`` (beta) at 0, both (C,).

    Example::

        bn = nn.BatchNorm1d(64)
        bn(lamina.randn(32, 64)).shape           # (32, 64)
    """

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W), per channel.

    ``torch.nn.BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True)``; Keras: ``keras.layers.BatchNormalization(axis=1)``. Statistics per
    channel over (N, H, W); input and output (N, C, H, W). Training mode uses the batch's statistics
    and updates ``running_mean`` / ``running_var``; eval mode uses them. ``weight`` 1 and ``bias`` 0
    at the start, both (C,).

    Example::

        bn = nn.BatchNorm2d(16)
        y = bn(lamina.randn(8, 16, 12, 12))     # same shape; bn.eval() for inference
    """

    _ranks = (4,)


class LayerNorm(Module):
    """Normalises over the last len(normalized_shape) dims, with learned scale and shift.

    ``torch.nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True)``; Keras:
    ``keras.layers.LayerNormalization``. Each sample is normalised by its own mean and variance over
    the last dimensions (no running statistics; the same in training and eval); ``weight`` (ones)
    and ``bias`` (zeros) have shape ``normalized_shape``.

    Example::

        ln = nn.LayerNorm(512)
        ln(lamina.randn(4, 10, 512)).shape       # (4, 10, 512)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        dt = D.get_default_dtype() if dtype is None else dtype
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, dtype=dt, device=device))
            if bias:
                self.bias = Parameter(zeros(*self.normalized_shape, dtype=dt, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
