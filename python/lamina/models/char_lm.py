"""Character-level language models: a recurrent one (embedding -> LSTM/GRU/RNN -> linear) and a
causal Transformer one, both mapping ids ``[T, B]`` (time-major) to next-character logits
``[T, B, vocab]``, plus ``evaluate_lm`` (nats per character) and ``sample`` to generate text."""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..ops.creation import from_numpy
from ..ops.loss import cross_entropy
from ..ops.softmax import softmax


class CharRNN(nn.Module):
    """``Embedding(vocab, embed_dim) -> {LSTM, GRU, RNN}(embed_dim, hidden_size, num_layers,
    dropout) -> Dropout -> Linear(hidden_size, vocab)``.

    forward(ids [T, B], state=None) -> (logits [T, B, vocab], state); pass the returned state
    (detached with ``CharRNN.detach_state``) into the next window for truncated BPTT."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256, num_layers: int = 2,
                 dropout: float = 0.0, cell: str = "lstm") -> None:
        super().__init__()
        kinds = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
        if cell not in kinds:
            raise ValueError(f"CharRNN: cell must be one of {sorted(kinds)}, got {cell!r}")
        self.vocab_size, self.cell = vocab_size, cell
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = kinds[cell](embed_dim, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embed(ids), state)
        return self.head(self.drop(out)), state

    @staticmethod
    def detach_state(state):
        if state is None:
            return None
        if isinstance(state, tuple):
            return tuple(s.detach() for s in state)
        return state.detach()


class CharTransformer(nn.Module):
    """``Embedding + sinusoidal positions -> TransformerEncoder (causal mask, pre-norm) ->
    LayerNorm -> Linear(d_model, vocab)``. forward(ids [T, B]) -> logits [T, B, vocab]; position t
    sees characters 0..t only. The embedding keeps its N(0, 1) init unscaled: multiplying it by
    sqrt(d_model), as done for small-init embeddings, would drown the unit-amplitude positions."""

    def __init__(self, vocab_size: int, d_model: int = 128, nhead: int = 4, num_layers: int = 3,
                 dim_feedforward: int = 512, dropout: float = 0.1, max_len: int = 1024) -> None:
        super().__init__()
        self.vocab_size, self.d_model, self.max_len = vocab_size, d_model, max_len
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.PositionalEncoding(d_model, max_len=max_len, dropout=dropout)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids, state=None):
        T = ids.shape[0]
        if T > self.max_len:
            raise ValueError(f"CharTransformer: sequence of length {T} exceeds max_len {self.max_len}")
        x = self.pos(self.embed(ids))
        return self.head(self.encoder(x, mask=_causal_mask(T))), None

    detach_state = staticmethod(lambda state: None)


def _causal_mask(T: int):
    """[T, T] bool in nn.MultiheadAttention's convention: True marks a key position that query
    position t may NOT attend to (the future, k > t)."""
    return from_numpy(np.triu(np.ones((T, T), dtype=bool), k=1))


def evaluate_lm(model, batches) -> float:
    """Mean next-character cross-entropy (nats per character) of ``model`` over every target in
    ``batches`` (e.g. a BPTTBatches), in eval mode and without gradients, the recurrent state carried
    from one window to the next."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        with no_grad():
            for x, y in batches:
                logits, state = model(x, state)
                n = y.numel()
                total += cross_entropy(logits.reshape(n, -1), y.reshape(n)).item() * n
                count += n
    finally:
        model.train(was_training)
    return total / count


def sample(model, vocab, prompt: str, length: int, temperature: float = 0.8, seed: int | None = None,
           context: int = 256) -> str:
    """Generates ``length`` characters after ``prompt`` (non-empty), drawing each from
    softmax(logits / temperature) with a numpy generator (``seed``). Recurrent models carry their
    state one character at a time; others re-read the last ``context`` characters each step."""
    if not prompt:
        raise ValueError("sample: prompt must contain at least one character")
    if temperature <= 0:
        raise ValueError(f"sample: temperature must be > 0, got {temperature}")
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    ids = list(vocab.encode(prompt))
    recurrent = isinstance(model, CharRNN)
    try:
        with no_grad():
            state = None
            feed = ids
            for _ in range(length):
                if recurrent:
                    x = from_numpy(np.asarray(feed, dtype=np.int64).reshape(-1, 1))
                    logits, state = model(x, state)
                else:
                    x = from_numpy(np.asarray(ids[-context:], dtype=np.int64).reshape(-1, 1))
                    logits, _ = model(x)
                p = softmax(logits[-1, 0] / temperature, 0).numpy().astype(np.float64)
                nxt = int(rng.choice(len(p), p=p / p.sum()))
                ids.append(nxt)
                feed = [nxt]
    finally:
        model.train(was_training)
    return vocab.decode(ids)
