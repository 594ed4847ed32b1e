"""``lamina.Tensor``: the user-facing tensor. It wraps a C++ tensor (``_c``) and carries the
autograd fields (``requires_grad``, ``grad``, ``grad_fn``). Every method here is a thin call into
``lamina.ops``, where each op's autograd Function lives next to its functional form.
"""
from __future__ import annotations

import numpy as np

from . import _C
from . import _dtype as D
from .autograd import grad_mode


class Tensor:
    """An n-dimensional array on a device, with an optional gradient.

    Create tensors with ``lamina.tensor``, ``lamina.zeros``, ``lamina.randn``, ... or
    ``lamina.from_numpy`` (zero-copy).
    """

    # _view: a ViewInfo (autograd/views.py) when this tensor is a view of another one, else None.
    __slots__ = ("_c", "requires_grad", "grad", "grad_fn", "_output_nr", "_accum", "_retains_grad",
                 "_view", "__weakref__")

    def __init__(self, data=None, dtype=None, device=None, requires_grad: bool = False) -> None:
        from .ops.creation import _to_c

        self._c = _to_c([] if data is None else data, dtype, device)
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._accum = None
        self._retains_grad = False
        self._view = None

    # ---- construction from a C++ tensor (the fast path every op uses) ----
    @classmethod
    def _wrap(cls, c, requires_grad: bool = False) -> "Tensor":
        t = object.__new__(cls)
        t._c = c
        t.requires_grad = requires_grad
        t.grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._accum = None
        t._retains_grad = False
        t._view = None
        return t

    @staticmethod
    def _zeros_c(shape, dt, device) -> "Tensor":
        c = _C.empty(list(shape), dt, device)
        _C.fill_(c, 0.0)
        return Tensor._wrap(c)

    # ---- metadata ----
    @property
    def shape(self) -> tuple:
        """The size of each dimension, as a tuple (PyTorch returns torch.Size, also a tuple)."""
        return self._c.shape

    def size(self, dim: int | None = None):
        """``size()`` is the shape; ``size(d)`` the length of dimension d."""
        if dim is None:
            return self._c.shape
        return self._c.shape[_wrap_dim(dim, self._c.ndim, "size")]

    def stride(self, dim: int | None = None):
        """Strides in elements, like PyTorch (numpy uses bytes)."""
        if dim is None:
            return self._c.strides
        return self._c.strides[_wrap_dim(dim, self._c.ndim, "stride")]

    @property
    def dtype(self) -> D.dtype:
        return D.from_c(self._c.dtype)

    @property
    def device(self) -> str:
        return self._c.device

    @property
    def is_cuda(self) -> bool:
        return self._c.device.startswith("cuda")

    @property
    def ndim(self) -> int:
        return self._c.ndim

    def dim(self) -> int:
        return self._c.ndim

    def numel(self) -> int:
        return self._c.numel()

    def element_size(self) -> int:
        return self.dtype.itemsize

    def is_contiguous(self) -> bool:
        return self._c.is_contiguous()

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has seen (shared by all its views)."""
        return self._c._version

    @property
    def _base(self):
        """The tensor this one is a view of (None when it is not a view), as in PyTorch."""
        return None if self._view is None else self._view.base

    def _is_view(self) -> bool:
        return self._view is not None

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def data_ptr(self) -> int:
        return self._c.data_ptr()

    def __len__(self) -> int:
        if self._c.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._c.shape[0]

    # ---- autograd ----
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs=None) -> None:
        """Computes gradients of this tensor with respect to the graph's leaves (into ``.grad``)."""
        from .autograd import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def detach(self) -> "Tensor":
        """A tensor sharing this one's memory, cut off from the graph."""
        return Tensor._wrap(self._c)

    def __deepcopy__(self, memo) -> "Tensor":
        """copy.deepcopy: a leaf with its own copy of the data (and of ``.grad``), like PyTorch;
        tensors computed inside a graph refuse, since the graph cannot be copied."""
        if id(self) in memo:
            return memo[id(self)]
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol; call .detach() first")
        new = type(self)._from_copy(self)
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    @classmethod
    def _from_copy(cls, src: "Tensor") -> "Tensor":
        t = src.detach().clone()
        t.requires_grad = src.requires_grad
        return t

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(f"only floating-point tensors can require gradients, got {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keeps ``.grad`` for a non-leaf tensor after backward."""
        from .autograd.hooks import retain_grad

        retain_grad(self)

    def register_hook(self, hook):
        """Calls ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle with ``.remove()``."""
        from .autograd.hooks import register_hook

        return register_hook(self, hook)

    @property
    def data(self) -> "Tensor":
        return Tensor._wrap(self._c)

    @data.setter
    def data(self, value: "Tensor") -> None:
        self._c = value._c

    # ---- numpy and Python values ----
    def numpy(self) -> np.ndarray:
        """A numpy array sharing this tensor's memory (CPU only; call .detach() first if needed)."""
        if self.requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._c.numpy()

    def __array__(self, dtype=None, copy=None):
        a = self._c.numpy() if self.is_cpu_ else self.cpu()._c.numpy()
        return a.astype(dtype) if dtype is not None else a

    @property
    def is_cpu_(self) -> bool:
        return self._c.device == "cpu"

    def tolist(self):
        return self.cpu()._c.numpy().tolist()

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise ValueError(f"item(): only one element tensors can be converted to Python scalars, got shape {list(self.shape)}")
        return self.cpu()._c.numpy().reshape(()).item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.numel()} values is ambiguous")
        return bool(self.item())

    def __index__(self) -> int:
        if self.dtype is not D.int64 or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __repr__(self) -> str:
        from ._format import tensor_repr

        return tensor_repr(self)

    def __iter__(self):
        if self._c.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self._c.shape[0]):
            yield self[i]

    def __hash__(self) -> int:
        return id(self)

    # ---- dtype and device conversion ----
    def to(self, *args, dtype=None, device=None, copy: bool = False) -> "Tensor":
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (D.dtype,)) or a in (float, int, bool):
                dtype = a
            elif isinstance(a, str):
                device = a
            else:
                raise TypeError(f"to(): unexpected argument {a!r}")
        from .ops.shape import to

        return to(self, None if dtype is None else D.as_dtype(dtype), device, copy)

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self, device: int | None = None) -> "Tensor":
        return self.to("cuda" if device is None else f"cuda:{device}")

    def float(self) -> "Tensor":
        return self.to(D.float32)

    def double(self) -> "Tensor":
        return self.to(D.float64)

    def long(self) -> "Tensor":
        return self.to(D.int64)

    def bool(self) -> "Tensor":
        return self.to(D.bool_)

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other.dtype)


def _wrap_dim(dim: int, ndim: int, op: str) -> int:
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not lo <= dim <= hi:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim % max(ndim, 1)


from .autograd import engine as _engine, function as _function  # noqa: E402

_function.Tensor = _engine.Tensor = Tensor
from . import _tensor_methods  # noqa: E402,F401  (attaches op methods and operators)
