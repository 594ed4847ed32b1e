"""Fuzzing the readers with hypothesis: lamina.load (random bytes, byte mutations of a real
checkpoint, and JSON-header mutations re-sealed with correct CRCs so they reach the decoder), the
MNIST IDX reader and load_word_vectors. Each input must load or raise ValueError, nothing else."""
from __future__ import annotations

import copy
import json

from hypothesis import given
from hypothesis import strategies as st

import lamina
from lamina.data.word_vectors import load_word_vectors
from fuzz_targets import (fuzz_idx, fuzz_load, fuzz_load_header, fuzz_settings, fuzz_word_vectors, idx_blob,
                          reseal, seed_checkpoint, split)

SEED = seed_checkpoint()
HEADER, DATA = split(SEED)


@fuzz_settings(150)
@given(st.binary(max_size=512))
def test_load_random_bytes(data):
    fuzz_load(data)


@fuzz_settings(150)
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, len(SEED)))
def test_load_mutated_checkpoint(edits, cut):
    b = bytearray(SEED)
    for i, v in edits:
        b[i] = v
    fuzz_load(bytes(b[:cut]) if cut < len(b) else bytes(b))


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                      st.text(max_size=8))
json_val = st.recursive(json_leaf, lambda c: st.one_of(st.lists(c, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), c, max_size=4)),
                        max_leaves=12)
PATHS = ["format", "version", "tensors", "root"]


def _set(obj, path, value):
    cur = obj
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value


def _paths(obj, prefix=()):
    """Every (container, key) path in the header: where a mutation can land."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append(prefix + (i,))
            out += _paths(v, prefix + (i,))
    return out


ALL_PATHS = _paths(HEADER)
SPECIAL = st.sampled_from([-1, 0, 1, 2**31, 2**62, 2**63, 2**64, -2**63, 10**30, 1.5, "0", None, [], {}, [2**40, 2**40],
                           "float32", "complex64", "$tensor", {"$tensor": 99}, {"$tensor": -1}, {"$tensor": "0"},
                           {"$ndarray": 0}, {"$dict": [[1]]}, {"$bytes": "zz"}, {"$dtype": "nope"}, {"a": 1, "b": 2}])


@fuzz_settings(300)
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), st.one_of(SPECIAL, json_val)), min_size=1, max_size=3),
       st.binary(max_size=64))
def test_load_mutated_header_with_valid_checksums(edits, extra):
    h = json.loads(json.dumps(HEADER))
    for path, value in edits:
        try:
            _set(h, path, copy.deepcopy(value))  # (SPECIAL's dicts are shared between examples)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier edit replaced the container
    data = DATA if not extra else DATA + extra
    fuzz_load_header(json.dumps(h).encode(), data)


@fuzz_settings(100)
@given(st.binary(max_size=256))
def test_load_garbage_header_with_valid_checksums(header):
    fuzz_load_header(header, DATA)


def test_seed_checkpoint_loads():
    out = lamina.load(__import__("io").BytesIO(SEED))
    assert out["same"] is out["w"] and out["n"] == [1, 2.5, None, "s"]
    assert lamina.load(__import__("io").BytesIO(reseal(json.dumps(HEADER).encode(), DATA)))["dt"] == lamina.float64


IDX_TYPES = [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]


@fuzz_settings(150)
@given(st.sampled_from(IDX_TYPES + [0, 7, 0x0A, 0xFF]),
       st.lists(st.one_of(st.integers(0, 6), st.sampled_from([2**16, 2**31, 2**32 - 1])), min_size=0, max_size=5),
       st.binary(max_size=300))
def test_idx_structured(code, dims, payload):
    fuzz_idx(idx_blob(code, dims, payload))


@fuzz_settings(100)
@given(st.binary(max_size=200))
def test_idx_random_bytes(data):
    fuzz_idx(data)


def test_idx_overflowing_dims_are_refused(tmp_path):
    # 8 dimensions of 2^32-1 elements: the byte count overflows int64 and once wrapped around.
    from lamina.data.datasets.mnist import read_idx
    import pytest
    p = tmp_path / "big-idx"
    p.write_bytes(idx_blob(0x08, [2**32 - 1] * 8, b"\x00" * 16))
    with pytest.raises(ValueError, match="big-idx"):
        read_idx(str(p))


word = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6)
number = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**20, 10**20).map(str),
                   st.sampled_from(["nan", "inf", "-inf", "1e400", "0x10", "1_000", "", "--1", "١"]))


@fuzz_settings(150)
@given(st.one_of(st.none(), st.tuples(st.integers(-2, 5), st.integers(-2, 5))),
       st.lists(st.tuples(word, st.lists(number, max_size=5)), max_size=6),
       st.sampled_from(["\n", "\r\n", "\n\n"]), st.booleans())
def test_word_vectors_structured(header, rows, sep, bom):
    lines = ([f"{header[0]} {header[1]}"] if header else []) + [" ".join([w] + v) for w, v in rows]
    data = sep.join(lines).encode("utf-8", "surrogatepass")
    fuzz_word_vectors((b"\xef\xbb\xbf" if bom else b"") + data)


@fuzz_settings(100)
@given(st.binary(max_size=200))
def test_word_vectors_random_bytes(data):
    fuzz_word_vectors(data)


# ---- regressions found by the fuzzers above ----
def test_regression_header_with_wrong_types_is_value_error(tmp_path):
    import pytest
    cases = [{"$tensor": "0"}, {"$tensor": 99}, {"$bytes": 5}, {"$dict": [[{"$list": []}, 1]]}, {"$dict": 3},
             {"$dtype": -1}]
    for root in cases:
        h = json.loads(json.dumps(HEADER))
        h["root"] = root
        with pytest.raises(ValueError, match="malformed checkpoint header"):
            lamina.load(__import__("io").BytesIO(reseal(json.dumps(h).encode(), DATA)))
    h = json.loads(json.dumps(HEADER))
    h["tensors"][0]["shape"] = [2**40, 2**40]
    with pytest.raises(ValueError, match="malformed checkpoint"):
        lamina.load(__import__("io").BytesIO(reseal(json.dumps(h).encode(), DATA)))
    with pytest.raises(ValueError, match="malformed checkpoint header"):
        lamina.load(__import__("io").BytesIO(reseal(b"[" * 100000, DATA)))


def test_regression_truncated_gzip_word_vectors(tmp_path):
    import pytest
    p = tmp_path / "v.txt"
    for data in (b"\x1f\x8b", b"\x1f\x8b\x08\x00\x00\x00", __import__("gzip").compress(b"a 1 2\nb 3 4\n")[:-9]):
        p.write_bytes(data)
        with pytest.raises(ValueError, match="v.txt: corrupt or truncated gzip"):
            load_word_vectors(str(p))
