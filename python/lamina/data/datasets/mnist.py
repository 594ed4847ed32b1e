"""MNIST from IDX files the user already has (raw or gzip), plus ``read_idx`` / ``write_idx``.

lamina never downloads anything: point ``MNIST(root)`` at a folder holding
train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte
(each optionally .gz). ``mnist_split`` turns the 10,000 test images alone into a fixed
train/test split, for machines that only have those.
"""
from __future__ import annotations

import gzip
import os
import zlib
from typing import Callable

import numpy as np

from ._base import ImageClassificationArrays

# IDX type codes (third magic byte) -> big-endian numpy dtype
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {np.dtype(d).newbyteorder("=").str[1:]: c for c, d in _IDX_TYPES.items()}


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return raw


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (the MNIST format), raw or gzip-compressed.

    Raises ValueError naming the file for a bad magic number, a truncated file or trailing bytes.
    """
    path = os.fspath(path)
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise ValueError(f"{path}: not an IDX file: {len(buf)} bytes is too short for the 4-byte magic number")
    if buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_TYPES or buf[3] == 0:
        raise ValueError(f"{path}: not an IDX file: bad magic number 0x{buf[:4].hex()} (expected 0x0000TTNN "
                         f"with type TT in {{08, 09, 0b, 0c, 0d, 0e}} and NN >= 1 dimensions)")
    dtype, ndim = _IDX_TYPES[buf[2]], buf[3]
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise ValueError(f"{path} is truncated: the header needs {header} bytes for {ndim} dimensions, "
                         f"found {len(buf)}")
    dims = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(buf) - header
    if found < expected:
        raise ValueError(f"{path} is truncated: shape {dims} of {dtype.name} needs {expected} data bytes, "
                         f"found {found}")
    if found > expected:
        raise ValueError(f"{path}: {found - expected} unexpected trailing bytes after the data of shape {dims}")
    arr = np.frombuffer(buf, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return arr.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def write_idx(path, array: np.ndarray) -> None:
    """Writes ``array`` as an IDX file (gzip-compressed when ``path`` ends in .gz)."""
    path = os.fspath(path)
    a = np.asarray(array)
    key = a.dtype.newbyteorder("=").str[1:]
    if key not in _IDX_CODES:
        raise TypeError(f"write_idx: dtype {a.dtype} has no IDX type code (uint8, int8, int16, int32, "
                        f"float32, float64)")
    if a.ndim == 0 or a.ndim > 255:
        raise ValueError(f"write_idx: IDX stores 1 to 255 dimensions, got shape {a.shape}")
    code = _IDX_CODES[key]
    data = (bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
            + np.ascontiguousarray(a, dtype=_IDX_TYPES[code]).tobytes())
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def _candidates(root: str, stem: str, kind: str) -> list:
    """Paths tried for e.g. stem='train', kind='images', in order."""
    n = 3 if kind == "images" else 1
    names = [f"{stem}-{kind}-idx{n}-ubyte", f"{stem}-{kind}.idx{n}-ubyte"]
    dirs = [root, os.path.join(root, "MNIST", "raw"), os.path.join(root, "raw")]
    return [os.path.join(d, nm + ext) for d in dirs for nm in names for ext in ("", ".gz")]


def _find(root: str, stem: str, kind: str) -> str | None:
    for p in _candidates(root, stem, kind):
        if os.path.isfile(p):
            return p
    return None


def load_mnist_arrays(root, train: bool = True) -> tuple:
    """``(images uint8 (N, 28, 28), labels int64 (N,))`` from the IDX files under ``root``."""
    root = os.fspath(root)
    stem = "train" if train else "t10k"
    paths = {}
    for kind in ("images", "labels"):
        p = _find(root, stem, kind)
        if p is None:
            tried = _candidates(root, stem, kind)
            msg = (f"MNIST: no {stem} {kind} file under {root!r}; tried:\n  " + "\n  ".join(tried))
            if train and _find(root, "t10k", "images") and _find(root, "t10k", "labels"):
                msg += (f"\nOnly the test set (t10k) is in {root!r}. Use "
                        f"lamina.data.datasets.mnist_split({root!r}, n_train=8000) to split it into "
                        f"fixed train and test parts.")
            raise FileNotFoundError(msg)
        paths[kind] = p
    images, labels = read_idx(paths["images"]), read_idx(paths["labels"])
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{paths['images']}: expected uint8 images of shape (N, H, W), got "
                         f"{images.dtype} of shape {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{paths['labels']}: expected labels of shape (N,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"MNIST: {paths['images']} has {len(images)} images but {paths['labels']} has "
                         f"{len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{paths['labels']}: labels must be 0..9, found {int(labels.min())}..{int(labels.max())}")
    return images, labels.astype(np.int64)


class MNIST(ImageClassificationArrays):
    """MNIST handwritten digits read from IDX files under ``root`` (``root``, ``root/MNIST/raw``
    or ``root/raw``; names with or without .gz). lamina never downloads: ``download=True`` raises.

    Samples are ``(image, label)``: image a float32 tensor (1, 28, 28) in [0, 1] (or (784,) with
    ``flatten``), then ``transform``; label an int 0..9, then ``target_transform``. Code written
    for torchvision (``Compose([ToTensor(), Normalize(...)])``) works: ``ToTensor`` passes
    tensors through. ``data`` (uint8 (N, 28, 28)) and ``targets`` (int64) are numpy arrays.
    """

    def __init__(self, root, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False,
                 flatten: bool = False) -> None:
        if download:
            raise RuntimeError("MNIST(download=True): lamina never downloads data. Place the IDX files "
                               "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                               "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) in a folder "
                               "and pass it as root with download=False.")
        self.root = os.fspath(root)
        self.train = bool(train)
        images, labels = load_mnist_arrays(self.root, self.train)
        super().__init__(images, labels, 255.0, transform, target_transform, flatten)

    @classmethod
    def _from_arrays(cls, images, labels, transform=None, target_transform=None, flatten=False,
                     root=None, train=True) -> "MNIST":
        self = cls.__new__(cls)
        self.root = root
        self.train = train
        ImageClassificationArrays.__init__(self, images, labels, 255.0, transform, target_transform, flatten)
        return self


def mnist_split(root, n_train: int = 8000, seed: int = 0, transform: Callable | None = None,
                test_transform: Callable | None = None, target_transform: Callable | None = None,
                flatten: bool = False, train: bool = False) -> tuple:
    """Splits one MNIST set (the 10,000-image t10k set by default; ``train=True`` for the 60,000)
    into ``(train_ds, test_ds)`` of ``n_train`` and the rest, with a fixed seeded permutation.

    Both are ``MNIST`` datasets (``.indices`` holds their positions in the source set).
    ``transform`` applies to the train part, ``test_transform`` to the test part (default: the
    same ``transform``; pass ``test_transform=lambda x: x`` to keep augmentation off the test part).
    """
    images, labels = load_mnist_arrays(root, train)
    n = len(labels)
    if not 0 < n_train < n:
        raise ValueError(f"mnist_split: n_train must be between 1 and {n - 1} for {n} images, got {n_train}")
    perm = np.random.Generator(np.random.Philox(int(seed))).permutation(n)
    tr, te = np.sort(perm[:n_train]), np.sort(perm[n_train:])
    out = []
    for idx, tf in ((tr, transform), (te, transform if test_transform is None else test_transform)):
        ds = MNIST._from_arrays(images[idx], labels[idx], tf, target_transform, flatten, os.fspath(root), train)
        ds.indices = idx
        out.append(ds)
    return tuple(out)
