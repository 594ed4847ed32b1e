"""lamina.data.load_word_vectors on small files written here: word2vec text (header) and GloVe
(no header) formats, .gz, vocab / max_vectors filters, words with spaces, every malformed case
with its line number, embedding_matrix with missing words, and nn.Embedding.from_pretrained."""
import gzip
import re

import numpy as np
import pytest

import lamina
import lamina.nn as nn
from lamina.data import WordVectors, load_word_vectors

VECS = {"the": [0.1, -0.2, 0.3], "cat": [1.5, 2.0, -3.25], "sat": [0.0, 4.0, 1e-3], "on": [-1.0, -2.0, -3.0]}


def _lines(vecs):
    return [w + " " + " ".join(repr(float(x)) for x in v) for w, v in vecs.items()]


def _write(path, lines, gz=False):
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _check(wv, vecs, dtype=np.float32):
    assert wv.itos == list(vecs) and wv.stoi == {w: i for i, w in enumerate(vecs)}
    assert len(wv) == len(vecs) and wv.dim == 3 and wv.vectors.shape == (len(vecs), 3)
    np.testing.assert_array_equal(wv.vectors.numpy(), np.array(list(vecs.values()), dtype=dtype))
    for w, v in vecs.items():
        assert w in wv
        np.testing.assert_array_equal(wv[w].numpy(), np.array(v, dtype=dtype))


@pytest.mark.parametrize("fmt", ["glove", "word2vec"])
@pytest.mark.parametrize("gz", [False, True])
def test_load_formats(tmp_path, fmt, gz):
    lines = _lines(VECS)
    if fmt == "word2vec":
        lines = [f"{len(VECS)} 3"] + [ln + " " for ln in lines]  # word2vec writes a trailing space
    p = _write(tmp_path / ("v.txt.gz" if gz else "v.txt"), lines, gz)
    wv = load_word_vectors(p)
    assert isinstance(wv, WordVectors) and wv.vectors.dtype is lamina.float32
    _check(wv, VECS)
    assert "dog" not in wv
    with pytest.raises(KeyError, match="'dog' is not in these word vectors"):
        wv["dog"]


def test_dtype_crlf_bom_blank_lines(tmp_path):
    p = tmp_path / "v.txt"
    p.write_bytes(("\ufeff" + "\r\n".join(_lines(VECS)) + "\r\n\r\n").encode("utf-8"))
    wv = load_word_vectors(str(p), dtype=lamina.float64)
    assert wv.vectors.dtype is lamina.float64
    _check(wv, VECS, np.float64)
    with pytest.raises(TypeError, match="float32 or float64"):
        load_word_vectors(p, dtype=lamina.int64)


def test_vocab_filter_and_max_vectors(tmp_path):
    p = _write(tmp_path / "v.txt", ["4 3"] + _lines(VECS))
    wv = load_word_vectors(p, vocab=["on", "cat", "zebra"])
    _check(wv, {"cat": VECS["cat"], "on": VECS["on"]})  # file order, unknown vocab words ignored
    _check(load_word_vectors(p, max_vectors=2), {"the": VECS["the"], "cat": VECS["cat"]})
    _check(load_word_vectors(p, vocab={"sat", "on", "the"}, max_vectors=2), {"the": VECS["the"], "sat": VECS["sat"]})
    assert len(load_word_vectors(p, max_vectors=0)) == 0
    wv = load_word_vectors(_write(tmp_path / "h.txt", ["0 3"]))
    assert len(wv) == 0 and wv.vectors.shape == (0, 3)


def test_words_with_spaces_glove_840b_style(tmp_path):
    lines = _lines(VECS) + ["at name@domain.com 0.5 0.25 -1", ". . . 1 2 3"]
    wv = load_word_vectors(_write(tmp_path / "g.txt", lines))
    assert wv.itos[-2:] == ["at name@domain.com", ". . ."]
    np.testing.assert_array_equal(wv["at name@domain.com"].numpy(), [0.5, 0.25, -1])
    np.testing.assert_array_equal(wv[". . ."].numpy(), [1, 2, 3])


def test_unicode_and_nonbreaking_space_in_word(tmp_path):
    lines = ["caf\u00e9 1 2 3", "a\u00a0b 4 5 6"]  # a non-breaking space belongs to the word
    wv = load_word_vectors(_write(tmp_path / "u.txt", lines))
    assert wv.itos == ["caf\u00e9", "a\u00a0b"]
    np.testing.assert_array_equal(wv["a\u00a0b"].numpy(), [4, 5, 6])


def test_duplicates_keep_first_and_warn(tmp_path):
    lines = _lines(VECS) + ["cat 9 9 9"]
    with pytest.warns(UserWarning, match=r"1 repeated word.*'cat' \(line 5, first on line 2\)"):
        wv = load_word_vectors(_write(tmp_path / "d.txt", lines))
    _check(wv, VECS)


def _err(tmp_path, lines, msg, name="glove.txt", **kw):
    p = _write(tmp_path / name, lines)
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_word_vectors(p, **kw)


def test_malformed_lines_name_file_and_line(tmp_path):
    good = _lines(VECS)
    _err(tmp_path, good[:2] + ["dog 1 2"] + good[2:], "glove.txt line 3: expected 3 numbers after the word, got 2")
    _err(tmp_path, good[:3] + ["dog 1 abc 3"], "glove.txt line 4: could not parse 'abc' as a number")
    # A bad number is found in file order even when a later line is also broken.
    _err(tmp_path, good + ["dog 1 x 3", "eel 1"], "glove.txt line 5: could not parse 'x' as a number")
    _err(tmp_path, good + ["dog 1 2 3 4"], "glove.txt line 5: expected 3 numbers after the word, got 4")
    _err(tmp_path, good + ["dog"], "glove.txt line 5: expected 3 numbers after the word, got 0")
    _err(tmp_path, good[:1] + [" 1 2 3"], "glove.txt line 2: empty word")
    # Filtered-out lines are still checked for their field count.
    _err(tmp_path, good + ["dog 1"], "glove.txt line 5: expected 3 numbers", vocab=["the"])


def test_malformed_word2vec_header(tmp_path):
    good = _lines(VECS)
    _err(tmp_path, ["5 3"] + good, "w2v.txt line 5: the header promises 5 vectors but the file ends after 4",
         name="w2v.txt")
    _err(tmp_path, ["3 3"] + good, "w2v.txt line 5: the header promises 3 vectors but the file has more",
         name="w2v.txt")
    _err(tmp_path, ["4 4"] + good, "w2v.txt line 2: expected 4 numbers after the word, got 3", name="w2v.txt")
    _err(tmp_path, ["4 0"] + good, "w2v.txt line 1: bad word2vec header", name="w2v.txt")
    _err(tmp_path, ["4 3"] + good[:2] + ["x 1 2 nan", "y 1 2 3q"] + good[2:],
         "w2v.txt line 5: could not parse '3q' as a number", name="w2v.txt")
    p = tmp_path / "empty.txt"
    p.write_text("\n")
    with pytest.raises(ValueError, match="empty.txt: the file is empty"):
        load_word_vectors(p)
    with pytest.raises(FileNotFoundError):
        load_word_vectors(tmp_path / "missing.txt")


def test_embedding_matrix_missing_words(tmp_path):
    wv = load_word_vectors(_write(tmp_path / "v.txt", _lines(VECS)))
    vocab = ["<pad>", "cat", "dog", "the"]
    m = wv.embedding_matrix(vocab)
    assert m.shape == (4, 3) and m.dtype is lamina.float32 and wv.missing == ["<pad>", "dog"]
    np.testing.assert_array_equal(m.numpy(), np.array([[0, 0, 0], VECS["cat"], [0, 0, 0], VECS["the"]], np.float32))
    m1, miss = wv.embedding_matrix(vocab, unknown="normal", seed=3, return_missing=True)
    m2 = wv.embedding_matrix(vocab, unknown="normal", seed=3)
    assert miss == ["<pad>", "dog"]
    np.testing.assert_array_equal(m1.numpy(), m2.numpy())
    np.testing.assert_array_equal(m1.numpy()[[1, 3]], m.numpy()[[1, 3]])
    assert np.all(m1.numpy()[[0, 2]] != 0)
    m3 = wv.embedding_matrix(vocab, unknown=lambda w: [len(w)] * 3)
    np.testing.assert_array_equal(m3.numpy()[[0, 2]], [[5, 5, 5], [3, 3, 3]])
    with pytest.raises(ValueError, match=r"unknown\('<pad>'\) returned shape \[2\], expected \[3\]"):
        wv.embedding_matrix(vocab, unknown=lambda w: [0, 0])
    with pytest.raises(ValueError, match="'zeros', 'normal' or a callable"):
        wv.embedding_matrix(vocab, unknown="ones")


def test_end_to_end_from_pretrained(tmp_path):
    p = _write(tmp_path / "v.txt.gz", [f"{len(VECS)} 3"] + _lines(VECS), gz=True)
    wv = load_word_vectors(p)
    vocab = ["<unk>", "on", "cat", "the"]
    emb = nn.Embedding.from_pretrained(wv.embedding_matrix(vocab), freeze=True, padding_idx=0)
    assert not emb.weight.requires_grad and emb.num_embeddings == 4 and emb.embedding_dim == 3
    out = emb(lamina.tensor([[1, 2], [3, 0]]))
    np.testing.assert_array_equal(out.numpy(), np.array([[VECS["on"], VECS["cat"]], [VECS["the"], [0, 0, 0]]],
                                                        dtype=np.float32))
    emb = nn.Embedding.from_pretrained(wv.vectors, freeze=False)
    emb(lamina.tensor([wv.stoi["sat"]])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[wv.stoi["sat"]], [1, 1, 1])


def test_chunked_parsing_keeps_order_and_line_numbers(tmp_path, monkeypatch):
    import lamina.data.word_vectors as wvmod
    monkeypatch.setattr(wvmod, "_CHUNK", 3)  # exercise many numpy chunks on a small file
    rng = np.random.default_rng(0)
    vecs = {f"w{i}": rng.standard_normal(3).round(4).tolist() for i in range(20)}
    _check(load_word_vectors(_write(tmp_path / "v.txt", _lines(vecs))), vecs)
    lines = _lines(vecs)
    lines[13] = "w13 1 2 oops"
    _err(tmp_path, lines, "glove.txt line 14: could not parse 'oops' as a number")
