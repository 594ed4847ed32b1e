"""``nn.Parameter``: a tensor that a Module registers as learnable (requires_grad by default)."""
from __future__ import annotations

from ..ops.creation import empty
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight. Assigning one to a Module attribute
    registers it, so it appears in ``parameters()`` and ``state_dict()``.

    PyTorch: ``torch.nn.Parameter``.
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__}")
        p = cls._wrap(data._c)
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data=None, requires_grad: bool = True) -> None:  # fields set in __new__
        pass

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    @classmethod
    def _from_copy(cls, src: Tensor) -> "Parameter":  # used by Tensor.__deepcopy__
        return cls(src.detach().clone(), src.requires_grad)

    def __reduce_ex__(self, proto):
        raise TypeError("lamina Parameters are saved with lamina.save(model.state_dict(), path)")
