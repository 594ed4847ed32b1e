"""Dropout: zeroes elements with probability p in training (seeded), identity in eval."""
from __future__ import annotations

from .. import functional as F
from ..module import Module


class Dropout(Module):
    """Zeroes each element with probability ``p`` (default 0.5) in training mode and scales the kept ones
    by ``1 / (1 - p)``; the identity in eval mode. ``torch.nn.Dropout`` (Keras: ``keras.layers.Dropout``,
    ``rate=p``). Any shape, same shape out. Masks come from the seeded generator
    (``lamina.manual_seed``); backward reuses the forward's mask.

    Example::

        drop = nn.Dropout(0.2)
        y = drop(lamina.ones(4, 5))     # training: entries 0 or 1.25
        drop.eval(); drop(lamina.ones(4, 5))   # eval: unchanged
    """
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
