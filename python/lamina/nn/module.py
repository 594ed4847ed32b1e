"""``nn.Module``: the base class of every layer and model — parameter/buffer/child registration,
train/eval, state_dict round trips, hooks, device moves, and errors that name the failing layer
by its attribute path (``features.3 (Conv2d 16->32, k=5): ...``).
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

from .. import _dtype as D
from .._state import _tracers as _TRACERS
from ..ops.creation import tensor
from ..tensor import Tensor
from .hooks import add_hook
from .parameter import Parameter

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

_call_depth = 0  # how many Module.__call__ frames are active (to find the outermost)


class Module:
    """Base class for layers and models: subclass, create children/parameters in ``__init__``,
    and compute in ``forward``.

    PyTorch: ``torch.nn.Module`` (``parameters``, ``named_parameters``, ``children``, ``modules``,
    ``train``/``eval``, ``zero_grad``, ``state_dict``/``load_state_dict``, ``to``, forward hooks);
    Keras: ``keras.layers.Layer`` / ``keras.Model``.

    Example::

        class TwoLayer(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 2)

            def forward(self, x):
                return self.fc2(nn.functional.relu(self.fc1(x)))

        TwoLayer()(lamina.randn(3, 4)).shape     # (3, 2)
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ----
    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError("cannot assign before Module.__init__() call")
        if name in self._parameters and value is not None and not isinstance(value, Parameter):
            raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                            "(nn.Parameter or None expected)")
        for d in (self._parameters, self._buffers, self._modules):
            if name in d and not (d is self._buffers and (value is None or isinstance(value, Tensor))) \
                    and not (d is self._parameters and value is None):
                del d[name]
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            self._modules[name] = value
        elif name in self._buffers:
            self._buffers[name] = value
        elif value is None and name in self._parameters:
            self._parameters[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' as parameter '{name}' (nn.Parameter or None expected)")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that is part of the module's state but not learnable (e.g. running_mean)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' as buffer '{name}' (Tensor or None expected)")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    # ---- traversal ----
    def named_modules(self, memo=None, prefix: str = ""):
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield mp + ("." if mp else "") + name, p

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield mp + ("." if mp else "") + name, b

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Calls ``fn(module)`` on every submodule (children first) and on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ----
    def train(self, mode: bool = True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = p.grad.detach()
                p.grad.zero_()

    # ---- state ----
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict of every parameter and persistent buffer by dotted name."""
        out = OrderedDict() if destination is None else destination
        for mp, m in self.named_modules(prefix=prefix.rstrip(".")):
            base = mp + ("." if mp else "")
            for name, p in m._parameters.items():
                if p is not None:
                    out[base + name] = p if keep_vars else p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[base + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copies values from ``state_dict`` into this module's parameters and buffers (in place).

        With ``strict`` every key must match; shape mismatches always raise, naming the key.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, v in state_dict.items():
            if k not in own:
                continue
            dst = own[k]
            if not isinstance(v, Tensor):
                v = tensor(v)
            if tuple(v.shape) != tuple(dst.shape):
                errors.append(f"size mismatch for {k}: copying a param with shape {list(v.shape)} from "
                              f"checkpoint, the shape in current model is {list(dst.shape)}.")
                continue
            dst._c.copy_(v._c)
        if strict:
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    def to(self, *args, **kwargs):
        """Moves/casts every parameter and buffer in place (``to(device)``, ``to(dtype)``)."""
        def convert(t):
            if t is None:
                return
            floating_only = any(isinstance(a, D.dtype) for a in args) or "dtype" in kwargs
            if floating_only and not t.dtype.is_floating_point:
                new = t.to(*[a for a in args if not isinstance(a, D.dtype)],
                           **{k: v for k, v in kwargs.items() if k != "dtype"})
            else:
                new = t.to(*args, **kwargs)
            t._c = new._c
            if t.grad is not None:
                t.grad = t.grad.to(*args, **kwargs)

        for t in list(self.parameters()) + list(self.buffers()):
            convert(t)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}")

    def float(self):
        return self.to(D.float32)

    def double(self):
        return self.to(D.float64)

    # ---- hooks and calling ----
    def register_forward_hook(self, hook):
        """``hook(module, inputs, output)`` runs after forward; a returned value replaces output."""
        return add_hook(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        """``hook(module, inputs)`` runs before forward; a returned tuple replaces the inputs."""
        return add_hook(self._forward_pre_hooks, hook)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required \"forward\" function")

    def __call__(self, *args, **kwargs):
        global _call_depth
        _call_depth += 1
        try:
            if self._forward_pre_hooks:
                for h in list(self._forward_pre_hooks.values()):
                    r = h(self, args)
                    if r is not None:
                        args = r if isinstance(r, tuple) else (r,)
            if _TRACERS and not _TRACERS[-1].busy:
                # lamina.jit.trace: the tracer notes the module path (or records it as one node)
                out = _TRACERS[-1].call_module(self, args, kwargs)
            else:
                out = self.forward(*args, **kwargs)
            if self._forward_hooks:
                for h in list(self._forward_hooks.values()):
                    r = h(self, args, out)
                    if r is not None:
                        out = r
            return out
        except (ValueError, TypeError, IndexError, RuntimeError) as e:
            if getattr(e, "_lamina_module", None) is None:
                e._lamina_module = self  # innermost module that saw the error
            if _call_depth == 1:
                _name_failing_layer(self, e)
            raise
        finally:
            _call_depth -= 1

    # ---- printing ----
    def extra_repr(self) -> str:
        return ""

    def describe(self) -> str:
        """Short description used in error messages, e.g. 'Conv2d 16->32, k=5'."""
        extra = self.extra_repr()
        return f"{type(self).__name__}({extra})" if extra else type(self).__name__

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            mod = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {mod}")
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._buffers) + list(self._modules)


def _name_failing_layer(root: Module, e: BaseException) -> None:
    """Prefixes the message with the failing layer's attribute path and description."""
    culprit = e._lamina_module
    if getattr(e, "_lamina_named", False):
        return
    path = None
    for name, m in root.named_modules():
        if m is culprit:
            path = name
            break
    where = f"{path} ({culprit.describe()})" if path else culprit.describe()
    msg = str(e.args[0]) if e.args else ""
    e.args = (f"{where}: {msg}",) + tuple(e.args[1:])
    e._lamina_named = True
    e._lamina_msg = msg
