"""Embedding: a lookup table of num_embeddings vectors, initialised N(0, 1)."""
from __future__ import annotations

from ... import _dtype as D
from ...ops.creation import empty
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


class Embedding(Module):
    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, _weight=None,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Padding_idx must be within num_embeddings ({num_embeddings}), got {padding_idx}")
            padding_idx = padding_idx % num_embeddings
        self.padding_idx = padding_idx
        dt = D.get_default_dtype() if dtype is None else dtype
        if _weight is not None:
            self.weight = Parameter(_weight)
        else:
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dt, device=device))
            init.normal_(self.weight)
            if padding_idx is not None:
                self.weight.detach()[padding_idx].fill_(0.0)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None) -> "Embedding":
        m = cls(embeddings.shape[0], embeddings.shape[1], padding_idx, _weight=embeddings.detach().clone())
        m.weight.requires_grad = not freeze
        return m

    def forward(self, idx):
        return F.embedding(idx, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
