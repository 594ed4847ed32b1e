"""Tensor creation: ``tensor``, ``from_numpy``, ``zeros``/``ones``/``full``/``empty``, ``arange``,
``linspace``, ``eye``, the seeded random ``rand``/``randn``/``randint`` and their ``*_like`` forms.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from .. import _dtype as D
from .._state import _tracers
from ..autograd.function import Function
from ..tensor import Tensor, _device, _to_c  # noqa: F401  (_to_c: kept importable here)


def _shape(size) -> list:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"size must be a sequence of ints, got {size!r}")
        if s < 0:
            raise ValueError(f"negative dimension in size {tuple(size)}")
        out.append(int(s))
    return out


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor copying ``data`` (a number, nested list, numpy array or tensor).

    Python floats become the default dtype (float32), ints int64, bools bool; numpy arrays keep
    their dtype (float64 stays float64), as in PyTorch.

    PyTorch: ``torch.tensor(data, dtype=None, device=None, requires_grad=False)``.

    Example::

        lamina.tensor([[1, 2], [3, 4]])                   # int64, shape (2, 2)
        lamina.tensor([0.5, 1.5], requires_grad=True)     # float32 leaf
    """
    t = Tensor._wrap(_to_c(data, dtype, device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a numpy array or tensor when nothing must change.

    PyTorch: ``torch.as_tensor``.
    """
    if isinstance(data, Tensor) and (dtype is None or D.as_dtype(dtype) is data.dtype) and (
            device is None or _device(device) == data.device):
        return data
    if isinstance(data, np.ndarray) and device in (None, "cpu"):
        try:
            t = from_numpy(data)
            return t if dtype is None else t.to(dtype)
        except TypeError:
            pass
    return tensor(data, dtype, device)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing ``arr``'s memory (writes through either side are seen by the other).

    PyTorch: ``torch.from_numpy``.
    """
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(arr).__name__}")
    return Tensor._wrap(_C.from_numpy(arr))


class Full(Function):
    """zeros / ones / full as an op, used only while lamina.jit.trace records: a graph then holds
    the fill (with its shape, which may follow the batch) instead of a constant."""

    @staticmethod
    def forward(ctx, shape, value, dtype, device):
        c = _C.empty(list(shape), dtype._c, device)
        _C.fill_(c, value)
        return Tensor._wrap(c)

    @staticmethod
    def backward(ctx, dout):
        return None, None, None, None


def _new(size, dtype, device, requires_grad, fill=None) -> Tensor:
    dt = D.get_default_dtype() if dtype is None else D.as_dtype(dtype)
    if _tracers and fill is not None and not requires_grad:
        return Full.apply(_shape(size), fill, dt, _device(device))
    c = _C.empty(_shape(size), dt._c, _device(device))
    if fill is not None:
        _C.fill_(c, fill)
    t = Tensor._wrap(c)
    if requires_grad:
        t.requires_grad_(True)
    return t


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uninitialised memory of the given shape.

    PyTorch: ``torch.empty``.
    """
    return _new(size, dtype, device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros; ``torch.zeros`` (Keras: ``keras.ops.zeros``).

    Args:
        *size: the shape, as ints or one tuple/list: ``zeros(2, 3)`` or ``zeros((2, 3))``.
        dtype: default ``lamina.get_default_dtype()`` (float32).
        device: ``"cpu"`` (default) or ``"cuda"``.
        requires_grad: make it a leaf that records gradients (default False).

    Example::

        lamina.zeros(2, 3)                        # shape (2, 3), float32
        lamina.zeros((4,), dtype=lamina.int64)
    """
    return _new(size, dtype, device, requires_grad, 0.0)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones; ``torch.ones``. Arguments as :func:`zeros`.

    Example::

        lamina.ones(2, 3, dtype=lamina.float64)
    """
    return _new(size, dtype, device, requires_grad, 1.0)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; the dtype follows the value when not given.

    PyTorch: ``torch.full``.
    """
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = D.bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = D.int64
    return _new((tuple(size),) if not isinstance(size, numbers.Integral) else (size,), dtype, device,
                requires_grad, float(fill_value))


def _like(t: Tensor, dtype, device):
    return (t.shape, t.dtype if dtype is None else dtype, t.device if device is None else device)


def empty_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uninitialised memory with ``t``'s shape, dtype and device (each overridable); ``torch.empty_like``."""
    s, d, dev = _like(t, dtype, device)
    return empty(s, dtype=d, device=dev, requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros with ``t``'s shape, dtype and device unless ``dtype=`` / ``device=`` say otherwise;
    ``torch.zeros_like``.

    Example::

        lamina.zeros_like(lamina.randn(2, 3))    # (2, 3) float32 zeros
    """
    s, d, dev = _like(t, dtype, device)
    return zeros(s, dtype=d, device=dev, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Ones with ``t``'s shape, dtype and device (each overridable); ``torch.ones_like``."""
    s, d, dev = _like(t, dtype, device)
    return ones(s, dtype=d, device=dev, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``fill_value`` everywhere, with ``t``'s shape, dtype and device (each overridable);
    ``torch.full_like``.
    """
    s, d, dev = _like(t, dtype, device)
    return full(s, fill_value, dtype=d, device=dev, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to end (exclusive); int64 unless a bound is a float.

    PyTorch: ``torch.arange``; NumPy: ``np.arange``.

    Example::

        lamina.arange(5)                # tensor([0, 1, 2, 3, 4]), int64
        lamina.arange(0, 1, 0.25)       # float32
    """
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = D.int64 if ints else D.get_default_dtype()
    dt = D.as_dtype(dtype)
    t = Tensor._wrap(_C.arange(float(start), float(end), float(step), dt._c, _device(device)))
    if requires_grad:
        t.requires_grad_(True)
    return t


def linspace(start, end, steps: int, dtype=None, device=None) -> Tensor:
    """``steps`` evenly spaced values from start to end inclusive.

    PyTorch: ``torch.linspace``.
    """
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    dt = D.get_default_dtype() if dtype is None else D.as_dtype(dtype)
    return tensor(np.linspace(start, end, steps), dtype=dt, device=device)


def eye(n: int, m: int | None = None, dtype=None, device=None) -> Tensor:
    """The identity matrix (n x m).

    PyTorch: ``torch.eye``.
    """
    dt = D.get_default_dtype() if dtype is None else D.as_dtype(dtype)
    return tensor(np.eye(n, m), dtype=dt, device=device)


def rand(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1), from the seeded generator (``lamina.manual_seed``).

    PyTorch: ``torch.rand``; float32 unless ``dtype=``.

    Example::

        lamina.rand(2, 3)
    """
    t = _new(size, dtype, device, False)
    _C.uniform_(t._c, 0.0, 1.0)
    return t.requires_grad_(True) if requires_grad else t


def randn(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal, from the seeded generator.

    PyTorch: ``torch.randn(*size, dtype=None, device=None, requires_grad=False)``; float32 unless
    ``dtype=``. Element i depends only on (seed, offset + i), so results are the same for any thread
    count.

    Example::

        lamina.manual_seed(0); x = lamina.randn(64, 784)
    """
    t = _new(size, dtype, device, False)
    _C.normal_(t._c, 0.0, 1.0)
    return t.requires_grad_(True) if requires_grad else t


def randint(low, high=None, size=None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``.

    PyTorch: ``torch.randint``; int64 unless ``dtype=``.

    Example::

        lamina.randint(0, 10, (64,))    # 64 labels in 0..9
    """
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() needs a size, e.g. randint(10, (3, 4))")
        low, high, size = 0, low, high
    t = _new((tuple(size),), D.int64 if dtype is None else dtype, device, False)
    _C.randint_(t._c, int(low), int(high))
    return t


def randperm(n: int, dtype=None, device=None) -> Tensor:
    """A seeded random permutation of 0..n-1.

    PyTorch: ``torch.randperm``.
    """
    keys = rand(n, dtype=D.float64)
    return tensor(np.argsort(keys.numpy(), kind="stable"), dtype=D.int64 if dtype is None else dtype,
                  device=device)


def rand_like(t, dtype=None, device=None) -> Tensor:
    """Uniform on [0, 1) with ``t``'s shape, dtype (a float type) and device, from the seeded generator
    (``lamina.manual_seed``); ``torch.rand_like``.
    """
    s, d, dev = _like(t, dtype, device)
    return rand(s, dtype=d, device=dev)


def randn_like(t, dtype=None, device=None) -> Tensor:
    """Standard normal with ``t``'s shape, dtype (a float type) and device, from the seeded generator;
    ``torch.randn_like``.
    """
    s, d, dev = _like(t, dtype, device)
    return randn(s, dtype=d, device=dev)


__all__: list = [
    "arange", "as_tensor", "empty", "empty_like", "eye", "from_numpy", "full", "full_like", "linspace",
    "ones", "ones_like", "rand", "rand_like", "randint", "randn", "randn_like", "randperm", "tensor",
    "zeros", "zeros_like",
]
FUNCTIONAL: list = []
TENSOR_METHODS: dict = {}
