"""Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d: parameters, PyTorch-default init and
padding_mode; math in F.conv*. Arguments are normalised by lamina.ops._tuples, the same helper the
functionals use. output_padding exists only on the transposed layers, as in PyTorch."""
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

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias, padding_mode, device, dtype, output_padding) -> None:
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
        for op, st, dl in zip(self.output_padding, self.stride, self.dilation):
            if op < 0 or (op >= st and op >= dl):
                raise ValueError(f"{name}: output_padding {self.output_padding} must be >= 0 and smaller than "
                                 f"either stride {self.stride} or dilation {self.dilation} (per axis)")
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


_INIT_DOC = """
    Initialisation (PyTorch's ``reset_parameters``): ``weight`` ~ kaiming_uniform_(a=sqrt(5)), i.e.
    U(-b, b) with b = 1 / sqrt(fan_in); ``bias`` ~ U(-b, b) with the same b, where fan_in =
    ``weight.shape[1] * prod(kernel_size)`` (in_channels / groups x kernel area for a convolution;
    out_channels / groups x kernel area for a transposed one). Parameters are float32 unless
    ``dtype=`` (or ``lamina.set_default_dtype``) says otherwise."""


def _with_init_doc(cls):
    """Puts the shared initialisation paragraph where a layer's docstring says {init}."""
    cls.__doc__ = cls.__doc__.replace("    {init}\n", "\n" + _INIT_DOC.lstrip("\n") + "\n")
    return cls


@_with_init_doc
class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over (N, C_in, H, W) or unbatched (C_in, H, W) input.

    ``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True, padding_mode="zeros", device=None, dtype=None)`` — PyTorch's ``torch.nn.Conv2d``
    (same arguments, weight layout, init and output sizes); Keras: ``keras.layers.Conv2D`` with
    ``data_format="channels_first"`` (Keras stores its kernel as (KH, KW, C_in, C_out)).

    Args:
        in_channels, out_channels: channels of the input and of the output (C_in, C_out).
        kernel_size, stride, dilation: an int or an (h, w) pair.
        padding: an int or pair (zeros or ``padding_mode`` on both sides), ``"valid"`` (none) or
            ``"same"`` (output size = input size; stride 1 only; an even kernel pads one more at
            the bottom/right, as PyTorch).
        groups: split the channels into ``groups`` independent convolutions (``groups ==
            in_channels``: depthwise); in_channels and out_channels must both be divisible by it.
        bias: learn an additive bias per output channel (default True).
        padding_mode: ``"zeros"`` (default), ``"reflect"`` (mirror, edge not repeated),
            ``"replicate"`` (repeat the edge) or ``"circular"`` (wrap around), as in PyTorch;
            non-zero modes pad with ``F.pad`` first, so values and gradients equal torch's.
        device: where the parameters live (``"cpu"`` default, ``"cuda"``).
        dtype: their float type (default ``lamina.get_default_dtype()``, float32).

    There is no ``output_padding``: it only means something for transposed convolutions (use
    ``ConvTranspose2d``); passing it is a ``TypeError``, as in PyTorch.

    Shapes:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out) with
        H_out = floor((H + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) / stride[0]) + 1
        and likewise W_out.
        ``weight``: (C_out, C_in / groups, KH, KW); ``bias``: (C_out,) or None.
    {init}

    Example::

        conv = nn.Conv2d(1, 6, kernel_size=5, padding=2)        # LeNet-5's first layer
        y = conv(lamina.randn(8, 1, 28, 28))                   # (8, 6, 28, 28)
        nn.Conv2d(3, 8, 3, padding="same", padding_mode="reflect")(lamina.randn(1, 3, 9, 9)).shape  # (1, 8, 9, 9)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, 0)

    def forward(self, x):
        return self._conv_forward(F.conv2d, x)


@_with_init_doc
class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) over (N, C_in, L) or unbatched (C_in, L) input.

    ``Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True, padding_mode="zeros", device=None, dtype=None)`` — PyTorch's ``torch.nn.Conv1d``;
    Keras: ``keras.layers.Conv1D`` with ``data_format="channels_first"``. The arguments mean what
    they mean for :class:`Conv2d`, with one value per axis (ints); no ``output_padding``.

    Shapes:
        input (N, C_in, L) -> output (N, C_out, L_out),
        L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1.
        ``weight``: (C_out, C_in / groups, K); ``bias``: (C_out,) or None.
    {init}

    Example::

        conv = nn.Conv1d(16, 32, kernel_size=3, padding="same", padding_mode="circular")
        y = conv(lamina.randn(4, 16, 100))                     # (4, 32, 100)
    """

    _n = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, 0)

    def forward(self, x):
        return self._conv_forward(F.conv1d, x)


@_with_init_doc
class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of Conv2d with respect to its input; the decoder's
    learned upsampling layer) over (N, C_in, H, W) or unbatched (C_in, H, W) input.

    ``ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
    dtype=None)`` — PyTorch's ``torch.nn.ConvTranspose2d`` (same argument order); Keras:
    ``keras.layers.Conv2DTranspose``.

    Args:
        padding: an int or pair: ``dilation * (kernel_size - 1) - padding`` zeros are added around
            the (stride-dilated) input, so it *removes* rows and columns from the output.
        output_padding: extra rows/columns on one side (bottom/right) of the output, to pick the
            output size when ``stride > 1`` makes it ambiguous; each value must be smaller than
            the stride or the dilation of its axis (else ``ValueError``).
        padding_mode: only ``"zeros"`` (as in PyTorch).

    Shapes:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out) with
        H_out = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel_size[0] - 1)
        + output_padding[0] + 1, likewise W_out.
        ``weight``: (C_in, C_out / groups, KH, KW) — input channels first, as PyTorch;
        ``bias``: (C_out,) or None.
    {init}

    Example::

        up = nn.ConvTranspose2d(16, 8, kernel_size=3, stride=2, padding=1, output_padding=1)
        y = up(lamina.randn(2, 16, 7, 7))                      # (2, 8, 14, 14): exactly doubled
    """

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding)

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)


@_with_init_doc
class ConvTranspose1d(_ConvNd):
    """Transposed 1-D convolution over (N, C_in, L) or unbatched (C_in, L) input.

    ``ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
    dtype=None)`` — PyTorch's ``torch.nn.ConvTranspose1d``; Keras: ``keras.layers.Conv1DTranspose``.
    The arguments mean what they mean for :class:`ConvTranspose2d`, one int per axis.

    Shapes:
        input (N, C_in, L) -> output (N, C_out, L_out),
        L_out = (L - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1.
        ``weight``: (C_in, C_out / groups, K); ``bias``: (C_out,) or None.
    {init}

    Example::

        up = nn.ConvTranspose1d(4, 2, kernel_size=4, stride=2, padding=1)
        y = up(lamina.randn(3, 4, 10))                         # (3, 2, 20)
    """

    _n = 1
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding)

    def forward(self, x):
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)
