"""Pretrained word vectors from text files: ``load_word_vectors`` reads the word2vec text format
(first line ``"count dim"``) and the GloVe format (no header), plain or ``.gz``, into a
``WordVectors`` table whose ``embedding_matrix(vocab)`` feeds ``nn.Embedding.from_pretrained``.

    wv = lamina.data.load_word_vectors("glove.6B.100d.txt", vocab=my_words)
    emb = lamina.nn.Embedding.from_pretrained(wv.embedding_matrix(my_words), freeze=False)
"""
from __future__ import annotations

import gzip
import os
import warnings
import zlib
from typing import Callable, Iterable, Sequence

import numpy as np

from .. import _dtype as D
from ..ops.creation import from_numpy
from ..tensor import Tensor

__all__ = ["WordVectors", "load_word_vectors"]

_CHUNK = 8192  # vectors parsed per numpy call: big enough to be fast, small enough to bound memory


class WordVectors:
    """A table of word vectors: ``itos`` (words in file order), ``stoi`` (word -> row),
    ``vectors`` (Tensor ``[len(itos), dim]``). ``wv["king"]`` is that word's vector (KeyError if
    absent), ``"king" in wv`` tests membership, ``len(wv)`` counts words."""

    def __init__(self, itos: list, vectors: Tensor, source: str | None = None) -> None:
        if vectors.ndim != 2 or vectors.shape[0] != len(itos):
            raise ValueError(f"WordVectors: vectors of shape {list(vectors.shape)} do not match {len(itos)} words")
        self.itos = list(itos)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("WordVectors: itos contains duplicate words")
        self.vectors = vectors
        self.source = source
        self.missing: list = []  # words the last embedding_matrix() call did not find

    @property
    def dim(self) -> int:
        """The length of each vector."""
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word) -> bool:
        return word in self.stoi

    def __getitem__(self, word: str) -> Tensor:
        try:
            return self.vectors[self.stoi[word]]
        except KeyError:
            raise KeyError(f"word {word!r} is not in these word vectors ({len(self)} words"
                           + (f" from {self.source}" if self.source else "") + ")") from None

    def __repr__(self) -> str:
        src = f", source={self.source!r}" if self.source else ""
        return f"WordVectors({len(self)} words, dim={self.dim}, dtype={self.vectors.dtype}{src})"

    def embedding_matrix(self, vocab_words: Sequence[str], unknown: str | Callable = "zeros", seed: int | None = None,
                         return_missing: bool = False):
        """A ``[len(vocab_words), dim]`` Tensor whose row i is the vector of ``vocab_words[i]``
        (ready for ``nn.Embedding.from_pretrained``). Rows of words not in the table come from
        ``unknown``: ``"zeros"``; ``"normal"`` draws N(0, s^2) with s the standard deviation of all
        loaded values (so they match the pretrained scale; ``seed`` makes it reproducible); or a
        callable ``f(word) -> vector of length dim``. The missing words (in vocab order) are stored
        in ``self.missing``; ``return_missing=True`` returns ``(matrix, missing)`` instead."""
        words = list(vocab_words)
        vecs = self.vectors.detach().numpy()
        out = np.zeros((len(words), self.dim), dtype=vecs.dtype)
        rows = [self.stoi.get(w, -1) for w in words]
        idx = np.asarray(rows, dtype=np.int64)
        hit = idx >= 0
        out[hit] = vecs[idx[hit]]
        missing = [w for w, r in zip(words, rows) if r < 0]
        miss_pos = np.nonzero(~hit)[0]
        if len(miss_pos):
            if isinstance(unknown, str) and unknown == "zeros":
                pass
            elif isinstance(unknown, str) and unknown == "normal":
                std = float(vecs.std()) if vecs.size else 1.0
                rng = np.random.default_rng(seed)
                out[miss_pos] = rng.normal(0.0, std if std > 0 else 1.0, (len(miss_pos), self.dim))
            elif callable(unknown):
                for p in miss_pos:
                    v = unknown(words[p])
                    v = v.numpy() if isinstance(v, Tensor) else np.asarray(v, dtype=np.float64)
                    if v.shape != (self.dim,):
                        raise ValueError(f"embedding_matrix: unknown({words[p]!r}) returned shape {list(v.shape)}, "
                                         f"expected [{self.dim}]")
                    out[p] = v
            else:
                raise ValueError(f"embedding_matrix: unknown must be 'zeros', 'normal' or a callable, got {unknown!r}")
        self.missing = missing
        m = from_numpy(out)
        return (m, missing) if return_missing else m


def _open(path: str, encoding: str):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"  # gzip magic, whatever the file is called
    if gz:
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def _lines(f, path: str):
    """The lines of ``f``; a corrupt or truncated gzip stream raises ValueError naming the file
    (found by tests/fuzz: b"\\x1f\\x8b" alone raised EOFError)."""
    try:
        yield from f
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from None


def _is_int(s: str) -> bool:
    try:
        int(s)
        return True
    except ValueError:
        return False


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def load_word_vectors(path, vocab: Iterable[str] | None = None, max_vectors: int | None = None, dtype=None,
                      encoding: str = "utf-8") -> WordVectors:
    """Loads word vectors from a text file in word2vec format (a first line ``"count dim"``, then
    ``"word v1 ... vdim"`` lines) or GloVe format (no header; dim is taken from the first line),
    detected from the first line; gzip-compressed files are read transparently.

    - ``vocab``: keep only these words (lines of other words are checked for their field count only).
    - ``max_vectors``: stop after keeping this many vectors (the rest of the file is not read).
    - ``dtype``: of ``.vectors`` (float32 unless given).
    - A line with more than dim + 1 fields (GloVe 840B has words containing spaces) takes its last
      dim fields as the vector and the rest as the word. Without a header, extra fields that are
      all numbers are an error instead (a vector longer than the first line's).
    - A first line of exactly two integers is a word2vec header (so a GloVe file of 1-d vectors
      whose first word is an integer is misread: add a header to it).
    - A repeated word keeps its FIRST vector (as gensim does) and one UserWarning lists the repeats.
    - Blank lines are skipped; a leading UTF-8 byte-order mark is ignored.

    Malformed input raises ValueError naming the file and the 1-based line number: too few numbers
    on a line, a field that is not a number, a bad header, or a header count that does not match
    the number of vector lines."""
    path = os.fspath(path)
    name = os.path.basename(path)
    dt = D.float32 if dtype is None else D.as_dtype(dtype)
    if not dt.is_floating_point:
        raise TypeError(f"load_word_vectors: dtype must be float32 or float64, got {dt}")
    if max_vectors is not None and (int(max_vectors) != max_vectors or max_vectors < 0):
        raise ValueError(f"load_word_vectors: max_vectors must be a non-negative integer, got {max_vectors!r}")
    want = None if vocab is None else set(vocab)
    npdt = dt._np

    itos: list = []
    seen: dict = {}  # word -> line it was kept from
    dups: list = []  # (word, line, first line)
    blocks: list = []  # parsed [n, dim] arrays
    toks: list = []  # number strings of the chunk not yet parsed
    tok_lines: list = []  # line number of each pending row
    dim = None
    header_count = None
    n_rows = 0  # vector lines seen (for the header count check)

    def fail(lineno: int, what: str):
        raise ValueError(f"{name} line {lineno}: {what}")

    def flush():
        if not tok_lines:
            return
        try:
            arr = np.array(toks, dtype=npdt)
        except ValueError:  # find the first bad field, in file order
            for r, ln in enumerate(tok_lines):
                for t in toks[r * dim:(r + 1) * dim]:
                    try:
                        float(t)
                    except ValueError:
                        fail(ln, f"could not parse {t!r} as a number")
            raise
        blocks.append(arr.reshape(len(tok_lines), dim))
        toks.clear()
        tok_lines.clear()

    with _open(path, encoding) as f:
        first = True
        lineno = 0
        for lineno, line in enumerate(_lines(f, path), 1):
            line = line.rstrip("\r\n ")
            if first:
                line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            if first:
                first = False
                head = line.split()
                if len(head) == 2 and _is_int(head[0]) and _is_int(head[1]):  # word2vec header
                    header_count, dim = int(head[0]), int(head[1])
                    if header_count < 0 or dim <= 0:
                        fail(lineno, f"bad word2vec header {line!r}: expected 'count dim' with count >= 0, dim > 0")
                    continue
                parts = line.split(" ")
                if len(parts) < 2:
                    fail(lineno, f"expected a word followed by numbers, got {line!r}")
                dim = len(parts) - 1
            if max_vectors is not None and len(itos) >= max_vectors:
                break
            n_rows += 1
            if header_count is not None and n_rows > header_count:
                flush()
                fail(lineno, f"the header promises {header_count} vectors but the file has more")
            parts = line.rsplit(" ", dim)
            if len(parts) < dim + 1:
                flush()
                got = len(parts) - 1
                fail(lineno, f"expected {dim} numbers after the word, got {got}")
            word = parts[0]
            if header_count is None and " " in word and all(map(_is_float, word.split(" ")[1:])):
                # GloVe has no header: a line with extra fields that are all numbers is far more
                # likely a vector of the wrong length than a word ending in numbers.
                flush()
                fail(lineno, f"expected {dim} numbers after the word, got {len(line.split(' ')) - 1} "
                             f"(dim {dim} was taken from the first line)")
            if not word:
                flush()
                fail(lineno, "empty word (line starts with a space)")
            if want is not None and word not in want:
                continue
            if word in seen:
                dups.append((word, lineno, seen[word]))
                continue
            seen[word] = lineno
            itos.append(word)
            toks.extend(parts[1:])
            tok_lines.append(lineno)
            if len(tok_lines) >= _CHUNK:
                flush()
        else:
            flush()
            if first:
                raise ValueError(f"{name}: the file is empty (no header and no vectors)")
            if header_count is not None and n_rows != header_count:
                raise ValueError(f"{name} line {lineno}: the header promises {header_count} vectors "
                                 f"but the file ends after {n_rows}")
        flush()
    if dups:
        shown = ", ".join(f"{w!r} (line {ln}, first on line {f1})" for w, ln, f1 in dups[:5])
        more = f" and {len(dups) - 5} more" if len(dups) > 5 else ""
        warnings.warn(f"{name}: {len(dups)} repeated word(s) kept their first vector: {shown}{more}", UserWarning,
                      stacklevel=2)
    arr = np.concatenate(blocks) if blocks else np.zeros((0, dim or 0), dtype=npdt)
    return WordVectors(itos, from_numpy(np.ascontiguousarray(arr, dtype=npdt)), source=path)
