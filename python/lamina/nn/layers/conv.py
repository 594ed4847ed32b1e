"""Conv1d, Conv2d, ConvTranspose2d: parameters, PyTorch-default init and padding_mode; math in F.conv*.
Arguments are normalised by lamina.ops._tuples, the same helper the functionals use."""
from __future__ import annotations

import math

from ... import _dtype as D
from ...ops._tuples import conv_padding, ntuple, same_padding
from ...ops.creation import empty
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _n = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, output_padding=0) -> None:
        super().__init__()
        n = self._n
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must both be divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        name = type(self).__name__
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", name)
        self.stride = ntuple(stride, n, "stride", name)
        self.dilation = ntuple(dilation, n, "dilation", name)
        # 'same' / 'valid' stay strings (as in PyTorch); transposed convolutions take ints only.
        self.padding = (ntuple(padding, n, "padding", name) if self._transposed
                        else conv_padding(padding, n, name, self.stride))
        self.output_padding = ntuple(output_padding, n, "output_padding", name)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding mode is supported, got {padding_mode!r}')
        self.padding_mode = padding_mode
        # F.pad's (last axis left, right, ..., first axis left, right) for non-zero padding modes.
        if self.padding == "valid":
            lr = [(0, 0)] * n
        elif self.padding == "same":
            lr = list(zip(*same_padding(self.kernel_size, self.dilation)))
        else:
            lr = [(p, p) for p in self.padding]
        self._reversed_padding_repeated_twice = tuple(v for a in reversed(lr) for v in a)
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
        # PyTorch's format, field for field: padding=same / padding=(1, 1), padding_mode=reflect.
        n = self._n
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _conv_forward(self, fn, x):
        if self.padding_mode != "zeros":
            x = F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def describe(self) -> str:
        k = self.kernel_size
        ks = str(k[0]) if len(set(k)) == 1 else "x".join(map(str, k))
        s = f"{type(self).__name__} {self.in_channels}->{self.out_channels}, k={ks}"
        if any(v != 1 for v in self.stride):
            s += f", stride={self.stride[0] if len(set(self.stride)) == 1 else self.stride}"
        if isinstance(self.padding, str):
            s += f", padding={self.padding}" if self.padding == "same" else ""
        elif any(self.padding):
            s += f", padding={self.padding[0] if len(set(self.padding)) == 1 else self.padding}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W): ``Conv2d(in_channels, out_channels, kernel_size,
    stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')``. padding is an
    int, a pair, 'valid' (none) or 'same' (output size = input size; stride 1 only; an even
    kernel pads one more at the bottom/right, as PyTorch); padding_mode 'zeros', 'reflect',
    'replicate' or 'circular'."""

    def forward(self, x):
        return self._conv_forward(F.conv2d, x)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L); the arguments of Conv2d, one value per axis."""

    _n = 1

    def forward(self, x):
        return self._conv_forward(F.conv1d, x)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the decoder's upsampling layer); weight (in, out/groups, KH, KW)."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding)

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)
