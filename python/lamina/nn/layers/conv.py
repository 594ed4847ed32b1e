"""Conv1d, Conv2d, ConvTranspose2d: parameters and PyTorch-default init; math in F.conv*."""
from __future__ import annotations

import math

from ... import _dtype as D
from ...ops.creation import empty
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


def _pair(v, n=2):
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"expected an int or a {n}-tuple, got {v!r}")
        return tuple(int(x) for x in v)
    return (int(v),) * n


class _ConvNd(Module):
    _n = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, output_padding=0, device=None, dtype=None) -> None:
        super().__init__()
        n = self._n
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must both be divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size, self.stride = _pair(kernel_size, n), _pair(stride, n)
        self.padding, self.dilation = _pair(padding, n), _pair(dilation, n)
        self.output_padding = _pair(output_padding, n)
        dt = D.get_default_dtype() if dtype is None else dtype
        if self._transposed:
            wshape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            wshape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(*wshape, dtype=dt, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dt, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if any(self.padding):
            s += f", padding={self.padding}"
        if any(d != 1 for d in self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def describe(self) -> str:
        k = self.kernel_size
        ks = str(k[0]) if len(set(k)) == 1 else "x".join(map(str, k))
        s = f"{type(self).__name__} {self.in_channels}->{self.out_channels}, k={ks}"
        if any(v != 1 for v in self.stride):
            s += f", stride={self.stride[0] if len(set(self.stride)) == 1 else self.stride}"
        if any(self.padding):
            s += f", padding={self.padding[0] if len(set(self.padding)) == 1 else self.padding}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W): ``Conv2d(in_channels, out_channels, kernel_size,
    stride=1, padding=0, dilation=1, groups=1, bias=True)``."""

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L)."""

    _n = 1

    def forward(self, x):
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the decoder's upsampling layer); weight (in, out/groups, KH, KW)."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         output_padding, device, dtype)

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)
