"""``GradBucket``: what a DDP communication hook receives, PyTorch's ``dist.GradBucket``: one
bucket's flat gradient buffer, its index, its parameters and their gradients (views of the
buffer), and whether it is the last bucket of the iteration."""
from __future__ import annotations

from ..tensor import Tensor


class GradBucket:
    """One gradient bucket of ``DistributedDataParallel``, handed to a communication hook.

    ``buffer()`` is a flat 1-D tensor holding the bucket's gradients (this rank's, not yet
    reduced; the hook's future must complete with a tensor of the same number of elements, the
    reduced result, which DDP copies into the parameters' ``.grad`` unless it *is* the buffer).
    ``gradients()[k]`` is a view of the buffer shaped like ``parameters()[k]``."""

    __slots__ = ("_buffer", "_grads", "_index", "_last", "_params")

    def __init__(self, index: int, buffer: Tensor, parameters: list, gradients: list, is_last: bool) -> None:
        self._index, self._buffer, self._params, self._grads, self._last = index, buffer, parameters, gradients, is_last

    def index(self) -> int:
        """Position of the bucket in launch order (0 first: the gradients produced first in backward)."""
        return self._index

    def buffer(self) -> Tensor:
        """The flat gradient buffer of this bucket (1-D, contiguous, the parameters' dtype)."""
        return self._buffer

    def set_buffer(self, buffer: Tensor) -> None:
        """Copies ``buffer`` (same number of elements) into the bucket's buffer."""
        if not isinstance(buffer, Tensor) or buffer.numel() != self._buffer.numel():
            raise ValueError(f"GradBucket.set_buffer: expected a tensor of {self._buffer.numel()} elements, got "
                             f"{buffer.numel() if isinstance(buffer, Tensor) else type(buffer).__name__}")
        self._buffer.copy_(buffer.reshape(self._buffer.shape))

    def gradients(self) -> list:
        """The gradients in this bucket, one per parameter, as views of ``buffer()``."""
        return list(self._grads)

    def parameters(self) -> list:
        """The parameters whose gradients this bucket holds (in the order of ``gradients()``)."""
        return list(self._params)

    def is_last(self) -> bool:
        """True for the last bucket of the iteration (its reduction is launched last)."""
        return self._last

    def __repr__(self) -> str:
        return f"GradBucket(index={self._index}, numel={self._buffer.numel()}, parameters={len(self._params)})"
