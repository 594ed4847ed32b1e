"""CharVocab and BPTTBatches: ids, round trips, stream layout, window shapes and error messages."""
import numpy as np
import pytest

from lamina.data import BPTTBatches, CharVocab


def test_vocab_round_trip_and_order():
    v = CharVocab.from_text("banana!")
    assert v.itos == ["!", "a", "b", "n"]
    ids = v.encode("banana")
    assert ids.dtype == np.int64 and ids.tolist() == [2, 1, 3, 1, 3, 1]
    assert v.decode(ids) == "banana"
    assert CharVocab.from_state_dict(v.state_dict()).itos == v.itos


def test_vocab_unknown_character_names_it_and_its_position():
    v = CharVocab.from_text("abc")
    with pytest.raises(KeyError, match=r"'z' at position 2"):
        v.encode("abz")
    with pytest.raises(ValueError, match="distinct"):
        CharVocab(["a", "a"])


def test_bptt_streams_are_contiguous_and_targets_shifted():
    ids = np.arange(103)
    b = BPTTBatches(ids, batch_size=4, seq_len=7)
    n = 102 // 4                       # 25 inputs per stream (+1 target)
    wins = list(b)
    assert len(wins) == len(b) == -(-n // 7)
    x = np.concatenate([w[0].numpy() for w in wins])
    y = np.concatenate([w[1].numpy() for w in wins])
    assert x.shape == (n, 4) and wins[-1][0].shape == (n % 7, 4)
    for r in range(4):                 # stream r is ids[r*n : r*n + n], its target one ahead
        np.testing.assert_array_equal(x[:, r], ids[r * n:r * n + n])
        np.testing.assert_array_equal(y[:, r], ids[r * n + 1:r * n + n + 1])


def test_bptt_batch_first_and_random_offset():
    ids = np.arange(1000)
    x, y = next(iter(BPTTBatches(ids, 8, 10, batch_first=True)))
    assert x.shape == (8, 10)
    np.testing.assert_array_equal(y.numpy(), x.numpy() + 1)
    a = [w[0].numpy()[0, 0] for w in BPTTBatches(ids, 8, 10, random_offset=True, seed=3)][:1]
    b = [w[0].numpy()[0, 0] for w in BPTTBatches(ids, 8, 10, random_offset=True, seed=3)][:1]
    assert a == b and 0 <= a[0] < 10


def test_bptt_errors():
    with pytest.raises(ValueError, match="too few"):
        BPTTBatches(np.arange(3), 4, 2)
    with pytest.raises(ValueError, match="seq_len"):
        BPTTBatches(np.arange(30), 4, 0)
