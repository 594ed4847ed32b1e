"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d."""
from __future__ import annotations

from .. import functional as F
from ..module import Module


class MaxPool2d(Module):
    """Max over kernel_size windows (stride defaults to kernel_size).

    ``torch.nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
    ceil_mode=False)``; Keras: ``keras.layers.MaxPooling2D``. Shapes: (N, C, H, W) ->
    (N, C, H_out, W_out), ``H_out = floor((H + 2 * padding - dilation * (kernel_size - 1) - 1) /
    stride) + 1`` (ceil with ``ceil_mode``), likewise W_out. The gradient goes to the position of
    each window's maximum.

    Example::

        nn.MaxPool2d(2)(lamina.randn(1, 6, 28, 28)).shape    # (1, 6, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(MaxPool2d):
    """Max over windows of ``kernel_size`` along the last axis; ``torch.nn.MaxPool1d`` (Keras:
    ``MaxPooling1D``). Arguments as :class:`MaxPool2d` with one int each (``stride`` defaults to
    ``kernel_size``). Shapes: (N, C, L) -> (N, C, L_out),
    ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1`` (ceil with
    ``ceil_mode``).
    """
    def forward(self, x):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool2d(Module):
    """Mean over kernel_size windows.

    ``torch.nn.AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None)``; Keras: ``keras.layers.AveragePooling2D``.
    ``stride`` defaults to ``kernel_size``. Shapes: (N, C, H, W) -> (N, C, H_out, W_out),
    ``H_out = floor((H + 2 * padding - kernel_size) / stride) + 1`` (ceil with ``ceil_mode``).

    Example::

        nn.AvgPool2d(2)(lamina.randn(1, 6, 28, 28)).shape    # (1, 6, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """Mean over windows of ``kernel_size`` along the last axis; ``torch.nn.AvgPool1d`` (Keras:
    ``AveragePooling1D``). ``stride`` defaults to ``kernel_size``; ``count_include_pad`` (default True)
    counts padded zeros in the divisor. Shapes: (N, C, L) -> (N, C, L_out),
    ``L_out = floor((L + 2 * padding - kernel_size) / stride) + 1`` (ceil with ``ceil_mode``).
    """
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Averages to a fixed output size whatever the input size.

    PyTorch: ``torch.nn.AdaptiveAvgPool2d(output_size)``; Keras: ``GlobalAveragePooling2D`` for
    output size 1. Shapes: ``(N, C, H, W) -> (N, C, *output_size)``.

    Example::

        nn.AdaptiveAvgPool2d(1)(lamina.randn(2, 64, 7, 7)).shape   # (2, 64, 1, 1)
    """

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
