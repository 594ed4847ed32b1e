"""``F.embedding``: rows of a weight table looked up by int64 ids; the gradient index-adds each
output row back into its row (row ``padding_idx`` gets none). C++: cpp/ops/embedding.cpp.
"""
from __future__ import annotations

from .. import _C
from .. import _dtype as D
from ..autograd.function import Function
from ..tensor import Tensor

W = Tensor._wrap

__all__: list = []
FUNCTIONAL: list = ["embedding"]
TENSOR_METHODS: dict = {}


class Embedding(Function):
    @staticmethod
    def forward(ctx, input, weight, padding_idx):
        ctx.input, ctx.num_weights, ctx.padding_idx = input._c, weight.shape[0], padding_idx
        return W(_C.embedding_forward(weight._c, input._c))

    @staticmethod
    def backward(ctx, dout):
        g = _C.embedding_backward(dout._c, ctx.input, ctx.num_weights, ctx.padding_idx)
        return None, W(g), None


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm=None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Looks up rows of ``weight`` ``(num_embeddings, embedding_dim)`` for the int64 ids in
    ``input`` (any shape) -> ``input.shape + (embedding_dim,)``. Row ``padding_idx`` (negative counts
    from the end) receives no gradient. An id outside ``[0, num_embeddings)`` raises IndexError."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"embedding: expected Tensors, got {type(input).__name__} and {type(weight).__name__}")
    if input.dtype is not D.int64:
        raise TypeError(f"embedding: indices must be an int64 tensor, got {input.dtype} (shape {list(input.shape)})")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {list(weight.shape)}")
    n = weight.shape[0]
    pi = -1
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings ({n})")
        pi = padding_idx % n
    return Embedding.apply(input, weight, pi)
