"""``lamina.Tensor``: the user-facing tensor, the bottom of the Python layers. It wraps a C++ tensor
(``_c``) and carries the autograd fields (``requires_grad``, ``grad``, ``grad_fn``), and it defines
only what needs nothing above it: data, metadata, numpy and Python values.

It imports nothing from ``lamina.autograd`` or ``lamina.ops``. Methods implemented there (operators,
``reshape``, ``to``, ``backward``, ``register_hook``, ...) are declared by those modules in their
``TENSOR_METHODS`` and set on the class by ``lamina/_api.py``, the one place that does so.
"""
from __future__ import annotations

import numpy as np

from . import _C
from . import _dtype as D
from ._format import tensor_repr
from ._state import _tls, _tracers


class Tensor:
    """An n-dimensional array on a device, with an optional gradient.

    Create tensors with ``lamina.tensor``, ``lamina.zeros``, ``lamina.randn``, ... or
    ``lamina.from_numpy`` (zero-copy).

    PyTorch: ``torch.Tensor`` — the same method names (``sum``, ``reshape``, ``view``, ``t``,
    ``backward``, ``numpy``, in-place ``add_`` ...), dtypes float32 (default), float64, int64 and
    bool, NCHW layouts; Keras/TF: a ``tf.Tensor`` that can also be a leaf with ``.grad``.

    Example::

        x = lamina.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        (x @ x.t()).sum().backward()      # x.grad is d sum / d x
        x.shape, x.dtype, x.grad.numpy()
    """

    # _view: a ViewInfo (autograd/views.py) when this tensor is a view of another one, else None.
    __slots__ = ("_c", "requires_grad", "grad", "grad_fn", "_output_nr", "_accum", "_retains_grad",
                 "_view", "__weakref__")

    def __init__(self, data=None, dtype=None, device=None, requires_grad: bool = False) -> None:
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
        t._accum = None
        t._view = None
        # _output_nr is set together with grad_fn, _retains_grad by retain_grad(): leaving them
        # unset here keeps the wrapper every op returns a little cheaper.
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

    # ---- autograd fields (backward, register_hook, retain_grad: lamina/autograd) ----
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
        t = Tensor._wrap(src._c.clone())
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

    @property
    def data(self) -> "Tensor":
        return Tensor._wrap(self._c)

    @data.setter
    def data(self, value: "Tensor") -> None:
        self._c = value._c

    # ---- numpy and Python values ----
    def numpy(self) -> np.ndarray:
        """A numpy array sharing this tensor's memory (CPU only; call .detach() first if needed)."""
        if self.requires_grad and _tls.enabled:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if _tracers:
            _traced_value(self, "numpy()")
        return self._c.numpy()

    def __array__(self, dtype=None, copy=None):
        if _tracers:
            _traced_value(self, "__array__")
        a = self._cpu_c().numpy()
        return a.astype(dtype) if dtype is not None else a

    @property
    def is_cpu_(self) -> bool:
        return self._c.device == "cpu"

    def _cpu_c(self):
        """This tensor's C++ tensor, copied to the CPU when it lives elsewhere."""
        return self._c if self._c.device == "cpu" else self._c.to_device("cpu")

    def tolist(self):
        if _tracers:
            _traced_value(self, "tolist()")
        return self._cpu_c().numpy().tolist()

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise ValueError(f"item(): only one element tensors can be converted to Python scalars, got shape {list(self.shape)}")
        if _tracers:
            _traced_value(self, "item()")
        return self._cpu_c().numpy().reshape(()).item()

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
        return tensor_repr(self)

    def __hash__(self) -> int:
        return id(self)


def _traced_value(t: Tensor, how: str) -> None:
    # lamina.jit.trace is running: a traced value turned into a Python value is a constant in the
    # graph, so the tracer warns (autograd/tracing.py; this module cannot import it).
    tr = _tracers[-1]
    if not tr.busy:
        tr.python_value(t, how)


def _wrap_dim(dim: int, ndim: int, op: str) -> int:
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not lo <= dim <= hi:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim % max(ndim, 1)


def _device(device) -> str:
    if device is None:
        return "cpu"
    return str(device)


_PLAIN = frozenset((float, int, bool, complex))


def _python_leaves_dtype(data, arr: np.ndarray, dt) -> np.ndarray:
    """``arr`` (numpy's reading of nested Python ``data``) cast as ``torch.tensor(data)`` would.

    PyTorch infers the dtype from the leaves: Python floats give the default dtype, numpy values and
    arrays (and tensors) their own, promoted together; all-int data is int64, and an int outside
    int64 is then an error ("Overflow when unpacking long long", a ValueError) where numpy would
    silently pick uint64 or float64. With ``dtype=`` given, only an integer target refuses such
    ints (a float target converts them, a bool one reads them as True)."""
    py_float = False
    big = None
    own = []  # dtypes of numpy/tensor leaves
    lists = [data] if data.__class__ in (list, tuple) else []
    leaves = [] if lists else [data]
    while lists:  # one set of types per list (C speed over rows of plain numbers)
        x = lists.pop()
        kinds = set(map(type, x))
        if float in kinds or complex in kinds:
            py_float = True
        if int in kinds:
            ints = [v for v in x if v.__class__ is int] if len(kinds) > 1 else x
            lo, hi = min(ints), max(ints)
            if big is None and not -2**63 <= lo <= hi < 2**63:
                big = hi if hi >= 2**63 else lo
        if not kinds <= _PLAIN:
            for v in x:
                if v.__class__ in (list, tuple):
                    lists.append(v)
                elif v.__class__ not in _PLAIN:
                    leaves.append(v)
    for x in leaves:
        if x.__class__ is int:
            if not -2**63 <= x < 2**63:
                big = x
            continue
        if x.__class__ in _PLAIN:
            py_float = py_float or x.__class__ in (float, complex)
            continue
        d = getattr(x, "dtype", None)
        if isinstance(d, np.dtype):
            own.append(d)
        elif d is not None and hasattr(d, "_np"):  # a lamina Tensor
            own.append(np.dtype(d._np))
        elif hasattr(x, "__array__"):
            own.append(np.asarray(x).dtype)
    target_int = dt is not None and np.dtype(dt._np).kind in "iu"
    if big is not None and (target_int or (dt is None and not py_float and
                                           not any(d.kind in "fc" for d in own))):
        raise ValueError(f"tensor(): the integer {big} does not fit in int64 (Overflow when unpacking "
                         f"long long); pass dtype=lamina.float32/float64 to store it as a float")
    if arr.dtype == object and (big is not None):
        arr = np.asarray(data, dtype=np.float64)  # floats and ints beyond int64: float, as PyTorch
    if dt is None and arr.dtype.kind == "f":
        floats = {d for d in own if d.kind == "f"}  # a set: result_type takes few arguments
        want = D.get_default_dtype()._np
        if floats:  # numpy float leaves win over Python floats, promoted among themselves
            want = np.result_type(*floats) if not py_float else np.result_type(want, *floats)
        with np.errstate(over="ignore"):  # beyond float32's range is inf, as in PyTorch
            arr = arr.astype(want)
    return arr


def _to_c(data, dtype=None, device=None):
    """A new C++ tensor holding a copy of ``data`` (nested lists, numbers, numpy arrays, Tensors)."""
    dt = None if dtype is None else D.as_dtype(dtype)
    if isinstance(data, Tensor):
        c = data._c.clone()
        if dt is not None:
            c = c.to_dtype(dt._c)
        return c.to_device(_device(device)) if device is not None else c
    if isinstance(data, (np.ndarray, np.generic)) or (
            hasattr(data, "__array__") and not isinstance(data, (list, tuple))):
        arr = np.asarray(data)  # numpy scalars and array-likes keep their dtype (float64 stays)
    else:
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise ValueError(f"tensor(): could not build a tensor from {type(data).__name__}: {e}") from None
        kind = arr.dtype.kind
        if kind in "fuO":
            # A Python int beyond int64 (numpy made uint64, float64 or object of it), or float64
            # from numpy values inside a list: decide as PyTorch does, from the leaves.
            arr = _python_leaves_dtype(data, arr, dt)
        if arr.dtype == object:
            try:  # lists of 0-d tensors
                arr = np.asarray([np.asarray(x) for x in data])
            except Exception:
                raise TypeError(f"tensor(): could not infer a dtype for {data!r}") from None
            if arr.dtype.kind == "f":
                arr = _python_leaves_dtype(data, arr, dt)
    if dt is None:
        kind = arr.dtype.kind
        if kind == "f":
            dt = D.float64 if arr.dtype == np.float64 else D.float32
        elif kind in "iu":
            dt = D.int64
        elif kind == "b":
            dt = D.bool_
        else:
            raise TypeError(f"tensor(): unsupported data of numpy dtype {arr.dtype}")
    arr = np.array(arr, dtype=dt._np, copy=True, order="C")
    c = _C.from_numpy(arr)
    return c.to_device(_device(device)) if device is not None and _device(device) != "cpu" else c
