"""lamina.serialization (lamina.save / lamina.load): round trips, corruption, truncation, atomicity."""
import collections
import io
import os
import pathlib

import numpy as np
import pytest

import lamina
from lamina import serialization as S
from lamina.serialization import load, save


def _state():
    w = lamina.randn(4, 3)
    return collections.OrderedDict([
        ("fc.weight", w),
        ("fc.bias", lamina.randn(3, dtype=lamina.float64)),
        ("steps", lamina.tensor([5, -7, 2 ** 40])),
        ("mask", lamina.tensor([[True, False], [False, True]])),
        ("scalar", lamina.tensor(3.5)),
        ("empty", lamina.zeros(0, 5)),
        ("wt", w.transpose(0, 1)),  # non-contiguous view
    ])


def _assert_tensor_equal(a, b):
    assert isinstance(b, lamina.Tensor)
    assert a.dtype is b.dtype and tuple(a.shape) == tuple(b.shape)
    np.testing.assert_array_equal(a.detach().numpy(), b.numpy())


def test_round_trip_nested_all_types(tmp_path):
    sd = _state()
    obj = {
        "model": sd,
        "optimizer": {"state": {0: {"step": 10, "exp_avg": lamina.ones(2, 2)}}, "param_groups": [
            {"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False, "name": None}]},
        "epoch": 7, "best": float("inf"), "note": "ünïcode ✓", "raw": b"\x00\xff",
        "dtype": lamina.float64, "np": np.arange(6, dtype=np.uint16).reshape(2, 3), "npscalar": np.float32(2.5),
        -1: [1, [2, (3,)]], 2.5: "float key", True: "bool key",
    }
    p = tmp_path / "checkpoint.lam"
    save(obj, p)
    out = load(p)
    assert isinstance(out["model"], collections.OrderedDict)
    assert list(out["model"]) == list(sd)
    for k in sd:
        _assert_tensor_equal(sd[k], out["model"][k])
    assert out["model"]["wt"].is_contiguous()
    _assert_tensor_equal(obj["optimizer"]["state"][0]["exp_avg"], out["optimizer"]["state"][0]["exp_avg"])
    assert out["optimizer"]["state"][0]["step"] == 10
    g = out["optimizer"]["param_groups"][0]
    assert g == {"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False, "name": None}
    assert isinstance(g["betas"], tuple)
    assert out["epoch"] == 7 and out["best"] == float("inf") and out["note"] == "ünïcode ✓"
    assert out["raw"] == b"\x00\xff" and out["dtype"] is lamina.float64
    assert out["np"].dtype == np.uint16 and out["np"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert out["npscalar"] == 2.5
    assert out[-1] == [1, [2, (3,)]] and out[2.5] == "float key" and out[True] == "bool key"
    # loaded tensors are usable and independent of the source
    assert float((out["model"]["fc.weight"] * 2).sum()) == pytest.approx(float(sd["fc.weight"].sum()) * 2, rel=1e-5)


def test_str_path_file_object_and_shared_tensors(tmp_path):
    w = lamina.randn(3)
    obj = {"a": w, "b": w, "grad": lamina.randn(2, requires_grad=True)}
    save(obj, str(tmp_path / "x.lam"))
    out = load(str(tmp_path / "x.lam"))
    assert out["a"] is out["b"]  # stored once, loaded once
    assert out["grad"].requires_grad and out["grad"].is_leaf
    buf = io.BytesIO()
    save(obj, buf)
    assert buf.getvalue() == (tmp_path / "x.lam").read_bytes()
    buf.seek(0)
    _assert_tensor_equal(w, load(buf)["a"])
    out = load(tmp_path / "x.lam", device="cpu")
    assert out["a"].device == "cpu"


def test_unsupported_objects_raise_and_write_nothing(tmp_path):
    p = tmp_path / "bad.lam"
    with pytest.raises(TypeError, match=r"cannot save an object of type object at obj\['x'\]\[1\]"):
        save({"x": [1, object()]}, p)
    with pytest.raises(TypeError, match="dict keys must be"):
        save({(1, 2): 3}, p)
    cyc = []
    cyc.append(cyc)
    with pytest.raises(ValueError, match="reference cycle"):
        save(cyc, p)
    assert os.listdir(tmp_path) == []


def test_truncated_file_raises_naming_file(tmp_path):
    p = tmp_path / "checkpoint.lam"
    save(_state(), p)
    raw = p.read_bytes()
    for cut in (len(raw) - 1, len(raw) // 2, 45, 20):
        p.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match=r"checkpoint.lam is truncated: expected \d+ bytes, found " + str(cut)
                           if cut >= 40 else r"checkpoint.lam is truncated: expected at least 40 bytes, found 20"):
            load(p)
    p.write_bytes(raw + b"\x00")
    with pytest.raises(ValueError, match="1 unexpected trailing bytes"):
        load(p)


def test_corruption_detected_by_checksums(tmp_path):
    p = tmp_path / "checkpoint.lam"
    save(_state(), p)
    raw = bytearray(p.read_bytes())
    header_len = S._PREFIX.unpack_from(raw, 0)[3]
    data_start = S._align(S._PREFIX.size + header_len)
    for pos, where in ((S._PREFIX.size + 5, "header"), (data_start + 3, "tensor data"), (len(raw) - 1, "tensor data")):
        bad = bytearray(raw)
        bad[pos] ^= 0x10
        p.write_bytes(bytes(bad))
        with pytest.raises(ValueError, match=f"checkpoint.lam: checksum mismatch in the {where}"):
            load(p)


def test_not_a_checkpoint(tmp_path):
    p = tmp_path / "model.pt"
    p.write_bytes(b"PK\x03\x04 some zip")
    with pytest.raises(ValueError, match="not a lamina checkpoint.*never unpickles"):
        load(p)
    p.write_bytes(b"")
    with pytest.raises(ValueError, match="not a lamina checkpoint"):
        load(p)
    raw = bytearray()
    save({"a": 1}, io.BytesIO())
    b = io.BytesIO()
    save({"a": 1}, b)
    raw = bytearray(b.getvalue())
    raw[8] = 99  # version
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="format version 99"):
        load(p)


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "checkpoint.lam"
    old = {"w": lamina.full((100,), 1.0), "epoch": 1}
    save(old, p)
    before = p.read_bytes()

    calls = []

    def failing_write(f, arr):
        calls.append(1)
        if len(calls) == 2:  # the second tensor: half of it, then the "crash"
            f.write(memoryview(arr.reshape(-1).view(np.uint8))[: arr.nbytes // 2])
            raise OSError("disk full (simulated)")
        f.write(memoryview(arr.reshape(-1).view(np.uint8)))

    monkeypatch.setattr(S, "_write_array", failing_write)
    with pytest.raises(OSError, match="simulated"):
        save({"w": lamina.full((100,), 2.0), "v": lamina.zeros(50), "epoch": 2}, p)
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.lam"]  # no temp file left
    out = load(p)
    assert out["epoch"] == 1 and float(out["w"].sum()) == 100.0

    # a failing fsync also leaves the old file alone
    monkeypatch.setattr(S, "_write_array", lambda f, a: f.write(memoryview(a.reshape(-1).view(np.uint8))))

    def bad_fsync(fd):
        raise OSError("fsync failed (simulated)")

    monkeypatch.setattr(os, "fsync", bad_fsync)
    with pytest.raises(OSError, match="fsync failed"):
        save({"epoch": 3}, p)
    monkeypatch.undo()
    assert load(p)["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.lam"]
    save({"epoch": 4}, p)
    assert load(pathlib.Path(p))["epoch"] == 4


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"a": 1}, tmp_path / "nope" / "x.lam")
