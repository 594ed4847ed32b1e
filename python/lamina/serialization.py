"""``lamina.save`` / ``lamina.load``: checkpoints of tensors and plain Python data that cannot run
code when loaded (no pickle), with size and CRC32 checks and atomic writes.

File layout (all little-endian):
    40-byte prefix  magic b"LAMINACK", u32 version, u32 flags (0), u64 header length,
                    u64 data length, u32 CRC32 of the header, u32 CRC32 of the data
    header          UTF-8 JSON: {"format", "version", "tensors": [{dtype, shape, offset, nbytes,
                    ...}], "root": the saved object with containers tagged ("$dict", "$list",
                    "$tuple", "$tensor": index, ...)}
    padding         zeros up to a multiple of 64 bytes
    data            each tensor's raw C-order bytes at its 64-byte-aligned offset
"""
from __future__ import annotations

import collections
import json
import os
import re
import secrets
import struct
import sys
import zlib
from typing import Any

import numpy as np

from . import _dtype as D
from .ops.creation import from_numpy
from .tensor import Tensor

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, stale temporary files are kept
    fcntl = None

__all__ = ["save", "load"]

MAGIC = b"LAMINACK"
VERSION = 1
_PREFIX = struct.Struct("<8sIIQQII")
_ALIGN = 64
_SCALARS = (str, int, float, bool, type(None))
_TMP_RE = re.compile(r"\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp")  # save's temporary files: .<name>.<pid>.<hex>.tmp


def _align(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _fmt_path(path: list) -> str:
    return "obj" + "".join(f"[{p!r}]" for p in path)


class _Encoder:
    """Turns the object tree into JSON-able data plus a list of contiguous little-endian arrays."""

    def __init__(self) -> None:
        self.arrays: list = []     # numpy arrays to write, in order
        self.entries: list = []    # their header descriptions
        self.memo: dict = {}       # id(tensor) -> index, so shared tensors are stored once
        self.keep: list = []       # keeps memoised objects alive (ids stay unique)
        self.offset = 0
        self.active: set = set()   # ids of containers being encoded, to report cycles

    def _add(self, obj, arr: np.ndarray, entry: dict) -> int:
        if not arr.flags.c_contiguous:  # (ascontiguousarray would turn 0-d into 1-d)
            arr = arr.copy(order="C")
        if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big"):
            arr = arr.astype(arr.dtype.newbyteorder("<"))  # the file is little-endian everywhere
        k = len(self.arrays)
        self.memo[id(obj)] = k
        self.keep.append(obj)
        entry.update(shape=list(arr.shape), offset=self.offset, nbytes=int(arr.nbytes))
        self.arrays.append(arr)
        self.entries.append(entry)
        self.offset = _align(self.offset + arr.nbytes)
        return k

    def encode(self, obj: Any, path: list) -> Any:
        if isinstance(obj, bool) or obj is None or isinstance(obj, str):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj)
        if isinstance(obj, Tensor):
            if id(obj) in self.memo:
                return {"$tensor": self.memo[id(obj)]}
            t = obj.detach()
            if t.device != "cpu":
                t = t.cpu()
            return {"$tensor": self._add(obj, t.numpy(), {"dtype": t.dtype.name,
                                                          "requires_grad": bool(obj.requires_grad)})}
        if isinstance(obj, np.ndarray):
            if id(obj) in self.memo:
                return {"$ndarray": self.memo[id(obj)]}
            if obj.dtype.kind not in "biuf" or obj.dtype.fields is not None:
                raise TypeError(f"lamina.save: cannot save a numpy array of dtype {obj.dtype} at "
                                f"{_fmt_path(path)} (numeric and bool arrays only)")
            le = obj.dtype.newbyteorder("<")
            return {"$ndarray": self._add(obj, obj, {"np_dtype": le.str})}
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return self.encode(obj.item(), path)
        if isinstance(obj, D.dtype):
            return {"$dtype": obj.name}
        if isinstance(obj, (bytes, bytearray)):
            return {"$bytes": bytes(obj).hex()}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self.active:
                raise ValueError(f"lamina.save: {_fmt_path(path)} contains itself (a reference cycle)")
            self.active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    items = []
                    for k, v in obj.items():
                        if not isinstance(k, _SCALARS):
                            raise TypeError(f"lamina.save: dict keys must be str, int, float, bool or None; "
                                            f"found a {type(k).__name__} key at {_fmt_path(path)}")
                        items.append([self.encode(k, path), self.encode(v, path + [k])])
                    tag = "$odict" if isinstance(obj, collections.OrderedDict) else "$dict"
                    return {tag: items}
                tag = "$tuple" if isinstance(obj, tuple) else "$list"
                return {tag: [self.encode(v, path + [i]) for i, v in enumerate(obj)]}
            finally:
                self.active.discard(id(obj))
        raise TypeError(f"lamina.save: cannot save an object of type {type(obj).__name__} at "
                        f"{_fmt_path(path)}; checkpoints hold tensors, numpy arrays, numbers, strings, "
                        f"bools, None, bytes, lamina dtypes and dicts/lists/tuples of them (never pickle)")


def _write_array(f, arr: np.ndarray) -> None:
    """Writes one array's bytes (a separate function so tests can simulate a failing write)."""
    if arr.nbytes:
        f.write(memoryview(arr.reshape(-1).view(np.uint8)))


def _serialize(obj: Any) -> tuple:
    enc = _Encoder()
    root = enc.encode(obj, [])
    header = json.dumps({"format": "lamina-checkpoint", "version": VERSION, "tensors": enc.entries,
                         "root": root}, separators=(",", ":"), allow_nan=True).encode("utf-8")
    crc = 0
    pos = 0
    for arr, e in zip(enc.arrays, enc.entries):
        if e["offset"] > pos:
            crc = zlib.crc32(bytes(e["offset"] - pos), crc)
        if arr.nbytes:
            crc = zlib.crc32(memoryview(arr.reshape(-1).view(np.uint8)), crc)
        pos = e["offset"] + arr.nbytes
    data_len = pos
    prefix = _PREFIX.pack(MAGIC, VERSION, 0, len(header), data_len, zlib.crc32(header), crc)
    return prefix, header, enc, data_len


def _write(f, prefix: bytes, header: bytes, enc: _Encoder) -> None:
    f.write(prefix)
    f.write(header)
    head = _PREFIX.size + len(header)
    f.write(bytes(_align(head) - head))
    pos = 0
    for arr, e in zip(enc.arrays, enc.entries):
        if e["offset"] > pos:
            f.write(bytes(e["offset"] - pos))
        _write_array(f, arr)
        pos = e["offset"] + arr.nbytes


def save(obj: Any, f) -> None:
    """Saves ``obj`` (e.g. ``model.state_dict()``, or a dict holding it, the optimizer state, the
    epoch) to ``f``: a path (str or ``pathlib.Path``) or a binary file object.

    Tensors of any dtype and layout are stored contiguous (a tensor that appears twice is stored
    once and loads as one object). A path is written atomically: to a temporary file in the same
    folder, flushed and fsync'ed, then renamed over the target, so a crash never leaves a
    half-written checkpoint. The temporary files of earlier writers of the same path that were
    killed mid-save (``.<name>.<pid>.<hex>.tmp``) are removed; a live writer's never are.

    PyTorch: ``torch.save`` (but no pickle: only tensors, numbers, strings, None, lists and dicts,
    so loading cannot run code); Keras: ``model.save_weights``.

    Example::

        lamina.save({"model": model.state_dict(), "epoch": 3}, "ckpt.lam")
    """
    prefix, header, enc, _ = _serialize(obj)
    if not isinstance(f, (str, bytes, os.PathLike)):
        if not hasattr(f, "write"):
            raise TypeError(f"lamina.save: expected a path or a binary file object, got {type(f).__name__}")
        _write(f, prefix, header, enc)
        return
    path = os.fspath(f)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"lamina.save: folder {folder!r} does not exist (saving {path!r})")
    base = os.path.basename(path)
    tmp = os.path.join(folder, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    # Held until the file is renamed or the process dies (the kernel drops it then): tells other
    # savers that this temporary file has a live writer, whatever PID namespace it runs in.
    # A duplicate shares the lock, which then lasts past the close until the rename is done.
    lock_fd = os.dup(fd)
    _lock(fd)
    try:
        _remove_stale_temps(folder, base, tmp)
        with os.fdopen(fd, "wb") as fh:
            _write(fh, prefix, header, enc)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        os.close(lock_fd)
    _fsync_dir(folder)


def _lock(fd: int) -> bool:
    """Takes an exclusive advisory lock on ``fd`` without waiting; False when another process
    holds it (or locks are unavailable on this platform or filesystem)."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else, or we cannot tell: keep its file
    return True


def _remove_stale_temps(folder: str, base: str, own: str) -> None:
    """Removes the temporary files ``.<base>.<pid>.<hex>.tmp`` that earlier writers of this path
    left when they were killed mid-save, so they do not pile up over crashes. A file is removed
    only when its writer's PID is not running and nobody holds its lock (a live writer always
    does, see save); a recycled PID or a platform without locks makes us keep the file."""
    if fcntl is None:
        return
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _TMP_RE.fullmatch(name)
        if m is None or m.group(1) != base:
            continue
        p = os.path.join(folder, name)
        if p == own or _pid_alive(int(m.group(2))):
            continue
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue  # already gone (another saver removed it)
        try:
            if _lock(fd):
                os.unlink(p)
        except OSError:
            pass
        finally:
            os.close(fd)


def _fsync_dir(folder: str) -> None:
    # Makes the rename itself durable; not possible on every platform, so best effort.
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _read_all(f) -> tuple:
    """(name for messages, uint8 numpy buffer with the whole file)."""
    if isinstance(f, (str, bytes, os.PathLike)):
        name = os.fsdecode(os.fspath(f))
        with open(name, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            buf = np.empty(size, dtype=np.uint8)  # numpy-aligned, so tensors can view it directly
            view, got = memoryview(buf), 0
            while got < size:
                n = fh.readinto(view[got:])
                if not n:
                    break
                got += n
            return name, buf[:got]
    if not hasattr(f, "read"):
        raise TypeError(f"lamina.load: expected a path or a binary file object, got {type(f).__name__}")
    name = getattr(f, "name", None)
    name = name if isinstance(name, str) else f"<{type(f).__name__}>"
    raw = f.read()
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError(f"lamina.load: {name} must be opened in binary mode")
    buf = np.empty(len(raw), dtype=np.uint8)
    buf[:] = np.frombuffer(raw, dtype=np.uint8)
    return name, buf


def load(f, device=None, map_location=None) -> Any:
    """Loads what ``lamina.save`` wrote. Tensors come back as lamina tensors (on ``device``, or
    ``map_location``, when given), numpy arrays as numpy arrays, containers as saved.

    Never executes code from the file. Raises ValueError naming the file when it is not a lamina
    checkpoint, is truncated, or fails its checksums.

    PyTorch: ``torch.load(f, map_location=...)``; Keras: ``model.load_weights``.

    Example::

        model.load_state_dict(lamina.load("ckpt.lam")["model"])
    """
    name, buf = _read_all(f)
    size = len(buf)
    if size < len(MAGIC) or bytes(buf[:len(MAGIC)]) != MAGIC:
        head = bytes(buf[:8])
        hint = ""
        if head[:2] == b"PK" or head[:1] == b"\x80":
            hint = " (it looks like a PyTorch/pickle file; lamina.load never unpickles)"
        raise ValueError(f"{name} is not a lamina checkpoint: bad magic bytes {head!r}, expected {MAGIC!r}{hint}")
    if size < _PREFIX.size:
        raise ValueError(f"{name} is truncated: expected at least {_PREFIX.size} bytes, found {size}")
    _, version, _flags, header_len, data_len, header_crc, data_crc = _PREFIX.unpack_from(buf, 0)
    if version > VERSION:
        raise ValueError(f"{name} was written in checkpoint format version {version}; this lamina reads "
                         f"up to version {VERSION} (upgrade lamina)")
    data_start = _align(_PREFIX.size + header_len)
    total = data_start + data_len
    if size < total:
        raise ValueError(f"{name} is truncated: expected {total} bytes, found {size}")
    if size > total:
        raise ValueError(f"{name} is corrupted: expected {total} bytes, found {size} ({size - total} "
                         f"unexpected trailing bytes)")
    header = bytes(buf[_PREFIX.size:_PREFIX.size + header_len])
    crc = zlib.crc32(header)
    if crc != header_crc:
        raise ValueError(f"{name}: checksum mismatch in the header (stored {header_crc:#010x}, computed "
                         f"{crc:#010x}); the file is corrupted")
    data = buf[data_start:total]
    crc = zlib.crc32(memoryview(data))
    if crc != data_crc:
        raise ValueError(f"{name}: checksum mismatch in the tensor data (stored {data_crc:#010x}, computed "
                         f"{crc:#010x}); the file is corrupted")
    try:
        meta = json.loads(header.decode("utf-8"))
        entries, root = meta["tensors"], meta["root"]
    except (ValueError, KeyError, TypeError, RecursionError) as e:  # (Recursion: "[[[[..." thousands deep)
        raise ValueError(f"{name}: malformed checkpoint header ({e})") from None
    dev = device if device is not None else map_location
    if dev is not None and not isinstance(dev, str):
        dev = str(dev)
    try:
        return _Decoder(name, data, entries, dev).decode(root)
    except ValueError:
        raise
    except (KeyError, IndexError, TypeError, OverflowError, AttributeError, RecursionError) as e:
        # A header with valid checksums but wrong structure (a tag holding the wrong type, an
        # unknown dtype, a tensor index out of range): found by tests/fuzz/test_fuzz_readers.py.
        raise ValueError(f"{name}: malformed checkpoint header ({type(e).__name__}: {e})") from None


class _Decoder:
    def __init__(self, name: str, data: np.ndarray, entries: list, device) -> None:
        self.name, self.data, self.entries, self.device = name, data, entries, device
        self.cache: dict = {}

    def _array(self, k: int, np_dtype: np.dtype) -> np.ndarray:
        e = self.entries[k]
        shape = tuple(int(s) for s in e["shape"])
        off, nbytes = int(e["offset"]), int(e["nbytes"])
        count = int(np.prod(shape, dtype=np.int64))
        if count * np_dtype.itemsize != nbytes or off + nbytes > len(self.data):
            raise ValueError(f"{self.name}: malformed checkpoint: tensor {k} of shape {shape} does not fit "
                             f"its {nbytes} bytes at offset {off}")
        arr = self.data[off:off + nbytes].view(np_dtype).reshape(shape)
        return arr if np_dtype.isnative else arr.astype(np_dtype.newbyteorder("="))

    def decode(self, x: Any) -> Any:
        if not isinstance(x, dict):
            return x
        if len(x) != 1:
            raise ValueError(f"{self.name}: malformed checkpoint header (untagged object {list(x)[:3]})")
        tag, v = next(iter(x.items()))
        if tag == "$tensor":
            if v not in self.cache:
                e = self.entries[v]
                dt = D.as_dtype(e["dtype"])
                t = from_numpy(self._array(v, dt._np.newbyteorder("<")))
                if self.device is not None and self.device != "cpu":
                    t = t.to(self.device)
                if e.get("requires_grad") and dt.is_floating_point:
                    t.requires_grad_(True)
                self.cache[v] = t
            return self.cache[v]
        if tag == "$ndarray":
            if ("nd", v) not in self.cache:
                self.cache[("nd", v)] = self._array(v, np.dtype(self.entries[v]["np_dtype"]))
            return self.cache[("nd", v)]
        if tag == "$list":
            return [self.decode(i) for i in v]
        if tag == "$tuple":
            return tuple(self.decode(i) for i in v)
        if tag == "$dict":
            return {self.decode(k): self.decode(i) for k, i in v}
        if tag == "$odict":
            return collections.OrderedDict((self.decode(k), self.decode(i)) for k, i in v)
        if tag == "$dtype":
            return D.as_dtype(v)
        if tag == "$bytes":
            return bytes.fromhex(v)
        raise ValueError(f"{self.name}: malformed checkpoint header (unknown tag {tag!r})")
