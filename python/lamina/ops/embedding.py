"""``F.embedding``: rows of a weight table looked up by int64 ids; the gradient index-adds each
output row back into its row (row ``padding_idx`` gets none, ``scale_grad_by_freq`` divides by id
counts). ``max_norm`` renormalises the referenced rows in place first. C++: cpp/ops/embedding.cpp.
"""
from __future__ import annotations

import math

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
    def forward(ctx, input, weight, padding_idx, scale_grad_by_freq):
        ctx.input, ctx.num_weights, ctx.padding_idx = input._c, weight.shape[0], padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return W(_C.embedding_forward(weight._c, input._c))

    @staticmethod
    def backward(ctx, dout):
        g = _C.embedding_backward(dout._c, ctx.input, ctx.num_weights, ctx.padding_idx, ctx.scale_grad_by_freq)
        return None, W(g), None, None

    @staticmethod
    def backward_graph(ctx, dout):
        g = EmbeddingBackward.apply(dout, ctx.input, ctx.num_weights, ctx.padding_idx, ctx.scale_grad_by_freq)
        return None, g, None, None


class EmbeddingBackward(Function):
    """dout ``ids.shape + (D,)`` -> the weight's gradient ``(num_weights, D)``: rows index-added
    (row ``padding_idx`` zero, scaled by 1 / count with scale_grad_by_freq). It is linear in dout;
    its adjoint looks the rows back up with the same per-row scale, through Embedding itself."""

    @staticmethod
    def forward(ctx, dout, ids_c, num_weights, padding_idx, scale_grad_by_freq):
        ctx.ids, ctx.args = ids_c, (num_weights, padding_idx, scale_grad_by_freq)
        return W(_C.embedding_backward(dout._c, ids_c, num_weights, padding_idx, scale_grad_by_freq))

    @staticmethod
    def backward(ctx, dg):
        n, pi, by_freq = ctx.args
        ones = _C.empty(list(ctx.ids.shape) + [1], dg._c.dtype, dg._c.device)
        _C.fill_(ones, 1.0)
        counts = W(_C.embedding_backward(ones, ctx.ids, n, pi, False))  # (n, 1); 0 at padding_idx
        scale = (counts > 0).to(dg.dtype)
        if by_freq:
            scale = scale / counts.clamp(min=1.0)
        return Embedding.apply(W(ctx.ids), dg * scale, -1, False), None, None, None, None

    backward_graph = backward


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Looks up rows of ``weight`` ``(num_embeddings, embedding_dim)`` for the int64 ids in
    ``input`` (any shape) -> ``input.shape + (embedding_dim,)``, like ``torch.nn.functional.embedding``.

    - ``padding_idx`` (negative counts from the end): that row receives no gradient.
    - ``max_norm``: before the lookup, every distinct row referenced by ``input`` whose
      ``norm_type``-norm exceeds ``max_norm`` is rescaled IN PLACE (outside autograd) by
      ``max_norm / (norm + 1e-7)``, as ``torch.embedding_renorm_`` does.
    - ``scale_grad_by_freq``: each row's gradient is divided by how often its id occurs in ``input``.
    - ``sparse=True`` is not supported (lamina has dense gradients only): NotImplementedError.

    An id outside ``[0, num_embeddings)`` raises IndexError."""
    if sparse:
        raise NotImplementedError("embedding: sparse=True (sparse gradients) is not supported in lamina; "
                                  "use sparse=False for a dense weight gradient")
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"embedding: expected Tensors, got {type(input).__name__} and {type(weight).__name__}")
    if input.dtype is not D.int64:
        raise TypeError(f"embedding: indices must be an int64 tensor, got {input.dtype} (shape {list(input.shape)})")
    if weight.ndim != 2:
        raise ValueError("embedding: weight must be 2-D (num_embeddings, embedding_dim), "
                         f"got shape {list(weight.shape)}")
    n = weight.shape[0]
    pi = -1
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings ({n})")
        pi = padding_idx % n
    if max_norm is not None:
        max_norm, norm_type = float(max_norm), float(norm_type)
        if math.isnan(max_norm) or max_norm < 0:
            raise ValueError(f"embedding: max_norm must be >= 0, got {max_norm}")
        _C.embedding_renorm_(weight._c, input._c, max_norm, norm_type)  # in place, no grad (like torch)
    return Embedding.apply(input, weight, pi, bool(scale_grad_by_freq))
