"""Embedding: a lookup table of num_embeddings vectors, initialised N(0, 1), with PyTorch's
options (padding_idx, max_norm, norm_type, scale_grad_by_freq) and ``from_pretrained``."""
from __future__ import annotations

from ... import _dtype as D
from ...ops.creation import empty
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter

_SPARSE_MSG = ("Embedding: sparse=True (sparse gradients) is not supported in lamina; "
               "use sparse=False for a dense weight gradient")


class Embedding(Module):
    """``nn.Embedding(num_embeddings, embedding_dim, ...)``: ``forward(ids)`` returns
    ``ids.shape + (embedding_dim,)``. See ``lamina.nn.functional.embedding`` for the options.
    ``_weight`` uses the given tensor as the weight (shared, not copied); ``_freeze`` stops its gradient.

    PyTorch: ``torch.nn.Embedding``; Keras: ``keras.layers.Embedding(input_dim, output_dim)``.
    ``weight`` (num_embeddings, embedding_dim) starts N(0, 1) (the ``padding_idx`` row zero); ids are
    int64 of any shape.

    Example::

        emb = nn.Embedding(1000, 32, padding_idx=0)
        emb(lamina.randint(0, 1000, (8, 20))).shape   # (8, 20, 32)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        if sparse:
            raise NotImplementedError(_SPARSE_MSG)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Padding_idx must be within num_embeddings ({num_embeddings}), got {padding_idx}")
            padding_idx = padding_idx % num_embeddings
        self.padding_idx = padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            dt = D.get_default_dtype() if dtype is None else dtype
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dt, device=device),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if list(_weight.shape) != [self.num_embeddings, self.embedding_dim]:
                raise ValueError(f"Embedding: shape of weight {list(_weight.shape)} does not match "
                                 f"num_embeddings and embedding_dim [{num_embeddings}, {embedding_dim}]")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Redraws the weight from N(0, 1) and zeroes row padding_idx."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.detach()[self.padding_idx].fill_(0.0)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An Embedding whose weight IS ``embeddings`` (2-D, shared like torch, not copied);
        ``freeze=True`` sets ``weight.requires_grad = False``. Row padding_idx is left as given."""
        if not isinstance(embeddings, Tensor):
            raise TypeError(f"Embedding.from_pretrained: expected a Tensor, got {type(embeddings).__name__}")
        if embeddings.ndim != 2:
            raise ValueError("Embedding.from_pretrained: embeddings are expected to be 2-dimensional "
                             f"(num_embeddings, embedding_dim), got shape {list(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings, _freeze=freeze)

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s
