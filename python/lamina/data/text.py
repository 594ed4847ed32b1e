"""Text for language models: a character vocabulary and the contiguous-stream batching used to
train recurrent LMs with truncated backpropagation through time.

    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)                    # int64 numpy array
    train = BPTTBatches(ids[:n], batch_size=64, seq_len=100)
    for x, y in train:                          # x, y: [seq_len, batch] int64 tensors, y = x shifted by one
        ...
"""
from __future__ import annotations

import numpy as np

from ..ops.creation import from_numpy


class CharVocab:
    """A bijection between the distinct characters of a text and ids 0..n-1 (sorted by code point,
    so the same text always gives the same ids)."""

    def __init__(self, chars) -> None:
        self.itos = list(chars)
        if len(set(self.itos)) != len(self.itos):
            raise ValueError("CharVocab: characters must be distinct")
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        """int64 ids of every character; an unknown character raises KeyError naming it and its
        position."""
        try:
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as e:
            pos = next(i for i, c in enumerate(text) if c not in self.stoi)
            raise KeyError(f"CharVocab.encode: character {e.args[0]!r} at position {pos} is not in the "
                           f"vocabulary of {len(self)} characters") from None

    def decode(self, ids) -> str:
        return "".join(self.itos[int(i)] for i in np.asarray(ids).reshape(-1))

    def state_dict(self) -> dict:
        return {"itos": "".join(self.itos)}

    @classmethod
    def from_state_dict(cls, state: dict) -> "CharVocab":
        return cls(list(state["itos"]))


class BPTTBatches:
    """Splits a 1-D id stream into ``batch_size`` contiguous streams (the tail that does not fill
    a whole column is dropped) and yields consecutive windows ``(x, y)`` of shape
    ``[seq_len, batch_size]`` (``[batch_size, seq_len]`` with ``batch_first``), ``y`` being ``x``
    shifted one character ahead. Row b of window k+1 continues row b of window k, so a recurrent
    model can carry its (detached) hidden state from one window to the next.

    ``random_offset=True`` starts each epoch at a random offset in ``[0, seq_len)`` (numpy
    generator ``seed``), so that window boundaries move between epochs."""

    def __init__(self, ids, batch_size: int, seq_len: int, batch_first: bool = False,
                 random_offset: bool = False, seed: int | None = None) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"BPTTBatches: batch_size and seq_len must be >= 1, got {batch_size} and {seq_len}")
        n = (len(ids) - 1) // batch_size
        if n < 1:
            raise ValueError(f"BPTTBatches: {len(ids)} ids are too few for batch_size {batch_size}")
        self.ids, self.batch_size, self.seq_len = ids, batch_size, seq_len
        self.batch_first, self.random_offset = batch_first, random_offset
        self.rng = np.random.default_rng(seed)
        self.column = n  # ids per stream (inputs); targets reach one further

    def __len__(self) -> int:
        return -(-self.column // self.seq_len)

    def __iter__(self):
        B, n = self.batch_size, self.column
        # streams[b] = ids[b*n : b*n + n + 1] (inputs and one more for the last target): [n+1, B]
        idx = np.arange(B)[None, :] * n + np.arange(n + 1)[:, None]
        streams = self.ids[idx]
        start = int(self.rng.integers(0, self.seq_len)) if self.random_offset else 0
        for t in range(start, n, self.seq_len):
            T = min(self.seq_len, n - t)
            x, y = streams[t:t + T], streams[t + 1:t + 1 + T]
            if self.batch_first:
                x, y = x.T, y.T
            yield from_numpy(np.ascontiguousarray(x)), from_numpy(np.ascontiguousarray(y))
