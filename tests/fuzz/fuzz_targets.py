"""Fuzz targets over the readers (lamina.load, read_idx, load_word_vectors): each takes raw bytes
and must return or raise ValueError naming the input, never crash or raise anything else. Shared by
the hypothesis tests (tests/fuzz/test_*.py) and the coverage-guided atheris driver (run_atheris.py)."""
from __future__ import annotations

import io
import json
import os
import struct
import tempfile
import warnings
import zlib

import lamina
from lamina import serialization
from lamina.data.datasets.mnist import read_idx
from lamina.data.word_vectors import load_word_vectors

_DIR = tempfile.mkdtemp(prefix="lamina-fuzz-")


def _file(name: str, data: bytes) -> str:
    path = os.path.join(_DIR, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def fuzz_load(data: bytes) -> None:
    """lamina.load on arbitrary bytes (from a file object and from a path)."""
    for src in (io.BytesIO(data), _file("x.lam", data)):
        try:
            lamina.load(src)
        except ValueError:
            pass


def seed_checkpoint() -> bytes:
    """A valid checkpoint with a little of everything (the seed the mutations start from)."""
    buf = io.BytesIO()
    t = lamina.arange(6, dtype=lamina.float32).reshape(2, 3)
    lamina.save({"w": t, "same": t, "b": lamina.tensor([1, 2], dtype=lamina.int64), "n": [1, 2.5, None, "s"],
                 "t": (True, b"\x00\x01"), "dt": lamina.float64}, buf)
    return buf.getvalue()


def reseal(header: bytes, data: bytes) -> bytes:
    """A checkpoint file around ``header`` (any bytes) and ``data`` with correct lengths and CRCs,
    so mutations reach the JSON decoder and the tensor table instead of failing the checksum."""
    prefix = serialization._PREFIX.pack(serialization.MAGIC, serialization.VERSION, 0, len(header), len(data),
                                        zlib.crc32(header), zlib.crc32(data))
    head = len(prefix) + len(header)
    return prefix + header + bytes(serialization._align(head) - head) + data


def split(blob: bytes) -> tuple:
    """(header JSON object, data bytes) of a checkpoint."""
    _, _, _, hl, dl, _, _ = serialization._PREFIX.unpack_from(blob, 0)
    p = serialization._PREFIX.size
    start = serialization._align(p + hl)
    return json.loads(blob[p:p + hl]), blob[start:start + dl]


def fuzz_load_header(header: bytes, data: bytes) -> None:
    fuzz_load(reseal(header, data))


def fuzz_idx(data: bytes) -> None:
    """read_idx on arbitrary bytes, raw and gzip-compressed."""
    for name, raw in (("x-idx3-ubyte", data), ("x-idx3-ubyte.gz", _gzip(data))):
        try:
            read_idx(_file(name, raw))
        except ValueError:
            pass


def _gzip(data: bytes) -> bytes:
    import gzip
    return gzip.compress(data, compresslevel=1)


def fuzz_word_vectors(data: bytes) -> None:
    """load_word_vectors on arbitrary bytes (word2vec and GloVe text)."""
    path = _file("vectors.txt", data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repeated words warn; that is allowed
        try:
            load_word_vectors(path)
        except ValueError:
            pass


def idx_blob(type_code: int, dims: list, payload: bytes) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


TARGETS = {"load": fuzz_load, "idx": fuzz_idx, "word_vectors": fuzz_word_vectors}


# ---- run length: short in the normal suite, long by environment variable ----
# LAMINA_FUZZ_EXAMPLES=N: N examples per hypothesis target instead of the short default (e.g.
# 20000 for a long run); LAMINA_FUZZ_SEED: hypothesis' seed (the short run is derandomized).
EXAMPLES = int(os.environ.get("LAMINA_FUZZ_EXAMPLES", "0"))


def examples(short: int) -> int:
    return EXAMPLES or short


def fuzz_settings(short: int):
    from hypothesis import HealthCheck, settings
    return settings(max_examples=examples(short), deadline=None, database=None,
                    derandomize=not EXAMPLES and "LAMINA_FUZZ_SEED" not in os.environ,
                    suppress_health_check=list(HealthCheck))
