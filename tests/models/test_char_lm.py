"""Character-level language models: a short LSTM training run on Tiny Shakespeare must bring the
validation loss well below the unigram baseline; the Transformer variant learns too; sampling is
reproducible."""
import math
import os
import time

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina.data import BPTTBatches, CharVocab
from lamina.models import CharRNN, CharTransformer, evaluate_lm, sample


def _corpus(data_dir):
    path = os.path.join(data_dir, "tinyshakespeare", "input.txt")
    if not os.path.exists(path):
        pytest.skip("tinyshakespeare not available")
    with open(path, encoding="utf-8") as f:
        return f.read()


def _train(model, train, steps, lr):
    opt = lamina.optim.Adam(model.parameters(), lr=lr)
    state, it, losses = None, iter(train), []
    for _ in range(steps):
        try:
            x, y = next(it)
        except StopIteration:
            it, state = iter(train), None
            x, y = next(it)
        state = model.detach_state(state)
        logits, state = model(x, state)
        k = y.numel()
        loss = F.cross_entropy(logits.reshape(k, -1), y.reshape(k))
        opt.zero_grad()
        loss.backward()
        lamina.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses


def test_lstm_char_lm_learns_tinyshakespeare(data_dir):
    text = _corpus(data_dir)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    split = int(0.9 * len(ids))
    lamina.manual_seed(0)
    model = CharRNN(len(vocab), embed_dim=32, hidden_size=128, num_layers=1)
    train = BPTTBatches(ids[:split], 32, 64)
    val = BPTTBatches(ids[split:split + 20_000], 16, 128)
    unigram = np.bincount(ids[:split], minlength=len(vocab)) / split
    baseline = float(-np.mean(np.log(unigram[ids[split:split + 20_000]])))  # unigram cross-entropy
    t0 = time.perf_counter()
    losses = _train(model, train, 300, 1e-2)
    v = evaluate_lm(model, val)
    print(f"char-LM test: {time.perf_counter() - t0:.1f} s, train {np.mean(losses[-20:]):.3f}, "
          f"validation {v:.3f} nats/char, unigram baseline {baseline:.3f}")
    assert math.isfinite(v)
    assert v < 2.0 < baseline       # unigram entropy of the corpus is about 3.3 nats/char
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 1.0


def test_transformer_char_lm_learns(data_dir):
    text = _corpus(data_dir)[:60_000]
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    lamina.manual_seed(0)
    model = CharTransformer(len(vocab), d_model=64, nhead=4, num_layers=2, dim_feedforward=128,
                            dropout=0.0, max_len=64)
    losses = _train(model, BPTTBatches(ids, 16, 64), 150, 3e-3)
    assert np.mean(losses[-10:]) < 2.5 < np.mean(losses[:5])


def test_transformer_is_causal():
    lamina.manual_seed(0)
    model = CharTransformer(11, d_model=16, nhead=2, num_layers=1, dim_feedforward=32, dropout=0.0, max_len=32)
    model.eval()
    a = np.random.default_rng(0).integers(0, 11, (12, 2))
    b = a.copy()
    b[7:] = (b[7:] + 3) % 11                     # change only the future of position 6
    la = model(lamina.from_numpy(a))[0].detach().numpy()
    lb = model(lamina.from_numpy(b))[0].detach().numpy()
    np.testing.assert_allclose(la[:7], lb[:7], rtol=1e-5, atol=1e-6)
    assert np.abs(la[7:] - lb[7:]).max() > 1e-4


def test_sample_is_reproducible_and_uses_vocab():
    vocab = CharVocab.from_text("abcdefgh \n")
    lamina.manual_seed(1)
    model = CharRNN(len(vocab), embed_dim=8, hidden_size=16, num_layers=2, cell="gru")
    s1 = sample(model, vocab, "ab", 40, seed=5)
    s2 = sample(model, vocab, "ab", 40, seed=5)
    assert s1 == s2 and len(s1) == 42 and s1.startswith("ab") and set(s1) <= set(vocab.itos)
    with pytest.raises(ValueError, match="prompt"):
        sample(model, vocab, "", 5)
    with pytest.raises(ValueError, match="cell"):
        CharRNN(10, cell="transformer")
