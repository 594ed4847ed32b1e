"""lamina.data.datasets: the bundled UCI digits, the IDX reader and MNIST (synthetic files here,
the real t10k set from ../shared/data/mnist when present)."""
import gzip
import os

import numpy as np
import pytest

import lamina
from lamina.data import DataLoader
from lamina.data import transforms as T
from lamina.data.datasets import MNIST, Digits, load_digits, mnist_split, read_idx, write_idx


# ---- Digits ----
def test_load_digits_arrays():
    x, y = load_digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.uint8 and y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert load_digits(flatten=True)[0].shape == (1797, 64)
    # first sample of the UCI test file (a zero)
    assert y[0] == 0 and x[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]


def test_digits_split_shapes_and_determinism():
    tr, te = Digits(train=True), Digits(train=False)
    assert (len(tr), len(te)) == (1437, 360)
    assert not set(tr.indices) & set(te.indices)
    assert len(Digits(train=None)) == 1797
    # stratified: every class keeps about 20% in the test part
    frac = te.class_counts() / (te.class_counts() + tr.class_counts())
    assert np.all(np.abs(frac - 0.2) < 0.01)
    np.testing.assert_array_equal(Digits(train=False).indices, te.indices)
    assert not np.array_equal(Digits(train=False, seed=1).indices, te.indices)
    assert len(Digits(train=False, test_size=100)) == 100
    x, y = tr[0]
    assert x.shape == (1, 8, 8) and x.dtype is lamina.float32 and isinstance(y, int) and 0 <= y <= 9
    assert 0.0 <= x.numpy().min() and x.numpy().max() <= 1.0
    assert Digits(flatten=True)[0][0].shape == (64,)
    with pytest.raises(ValueError, match="test_size"):
        Digits(test_size=1.5)


def test_digits_loader_fast_path_equals_items_and_transform():
    ds = Digits(train=False)
    xb, yb = next(iter(DataLoader(ds, batch_size=16)))
    assert xb.shape == (16, 1, 8, 8) and yb.dtype is lamina.int64
    for i in (0, 7, 15):
        x, y = ds[i]
        np.testing.assert_array_equal(xb.numpy()[i], x.numpy())
        assert yb.numpy()[i] == y
    assert xb.numpy().max() == 1.0  # pixels of 16 -> exactly 1
    nd = Digits(train=False, transform=T.Normalize((0.5,), (0.5,)))
    np.testing.assert_allclose(nd[3][0].numpy(), ds[3][0].numpy() * 2 - 1, atol=1e-6)
    xb2, _ = next(iter(DataLoader(nd, batch_size=16)))
    np.testing.assert_allclose(xb2.numpy(), xb.numpy() * 2 - 1, atol=1e-6)


# ---- IDX reader ----
def _write_mnist(root, stem, n, gz, rng, h=28):
    images = rng.integers(0, 256, size=(n, h, h), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    write_idx(os.path.join(root, f"{stem}-images-idx3-ubyte{ext}"), images)
    write_idx(os.path.join(root, f"{stem}-labels-idx1-ubyte{ext}"), labels)
    return images, labels


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype) if dtype != np.uint8 else np.arange(24, dtype=np.uint8)
    p = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(p, a)
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype).newbyteorder("=") and b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    b[...] = 0  # writable


def test_idx_errors(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x00\x00\x07\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match=r"bad magic number 0x00000701"):
        read_idx(p)
    p.write_bytes(b"\x08\x03")
    with pytest.raises(ValueError, match="too short"):
        read_idx(p)
    write_idx(p, np.zeros((10, 4, 4), np.uint8))
    raw = p.read_bytes()
    p.write_bytes(raw[:-5])
    with pytest.raises(ValueError, match=r"is truncated: shape \(10, 4, 4\) of uint8 needs 160 data bytes, found 155"):
        read_idx(p)
    p.write_bytes(raw + b"xx")
    with pytest.raises(ValueError, match="2 unexpected trailing bytes"):
        read_idx(p)
    p.write_bytes(raw[:10])
    with pytest.raises(ValueError, match="header needs 16 bytes"):
        read_idx(p)
    g = tmp_path / "t.gz"
    g.write_bytes(gzip.compress(raw)[:-12])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        read_idx(g)


# ---- MNIST on synthetic files ----
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_synthetic(tmp_path, gz):
    rng = np.random.default_rng(0)
    imgs, labels = _write_mnist(str(tmp_path), "train", 25, gz, rng)
    _write_mnist(str(tmp_path), "t10k", 12, gz, rng)
    ds = MNIST(tmp_path, train=True)
    assert len(ds) == 25 and len(MNIST(str(tmp_path), train=False)) == 12
    x, y = ds[4]
    assert x.shape == (1, 28, 28) and x.dtype is lamina.float32 and y == 4
    np.testing.assert_allclose(x.numpy()[0], imgs[4] / 255.0, rtol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=25)))
    np.testing.assert_allclose(xb.numpy()[:, 0], imgs / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(yb.numpy(), labels)
    tf = MNIST(tmp_path, transform=T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]), flatten=False)
    np.testing.assert_allclose(tf[4][0].numpy()[0], (imgs[4] / 255.0 - 0.1307) / 0.3081, rtol=1e-4, atol=1e-5)
    assert MNIST(tmp_path, flatten=True)[0][0].shape == (784,)


def test_mnist_torchvision_layout_and_dot_names(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images.idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    write_idx(raw / "t10k-labels.idx1-ubyte", np.array([1, 2, 3], np.uint8))
    assert MNIST(tmp_path, train=False).targets.tolist() == [1, 2, 3]


def test_mnist_errors(tmp_path):
    with pytest.raises(RuntimeError, match="never downloads"):
        MNIST(tmp_path, download=True)
    with pytest.raises(FileNotFoundError, match=r"tried:\n.*train-images-idx3-ubyte\n.*train-images-idx3-ubyte.gz"):
        MNIST(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(FileNotFoundError, match=r"Only the test set .*mnist_split\(.*n_train=8000\)"):
        MNIST(tmp_path, train=True)
    with pytest.raises(ValueError, match="has 5 images but .* has 4 labels"):
        MNIST(tmp_path, train=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 3, 12], np.uint8))
    with pytest.raises(ValueError, match="labels must be 0..9, found 0..12"):
        MNIST(tmp_path, train=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(
        b"\x00\x00\x08\x03" + np.array([5, 28, 28], ">u4").tobytes() + b"\x00" * 20)
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte is truncated: shape \\(5, 28, 28\\) of uint8 needs 3920 data bytes, found 20"):
        MNIST(tmp_path, train=False)


def test_mnist_split_synthetic(tmp_path):
    rng = np.random.default_rng(1)
    _write_mnist(str(tmp_path), "t10k", 50, True, rng)
    a, b = mnist_split(tmp_path, n_train=40, seed=0)
    assert (len(a), len(b)) == (40, 10)
    assert sorted(np.concatenate([a.indices, b.indices]).tolist()) == list(range(50))
    a2, _ = mnist_split(tmp_path, n_train=40, seed=0)
    np.testing.assert_array_equal(a.indices, a2.indices)
    a3, _ = mnist_split(tmp_path, n_train=40, seed=1)
    assert not np.array_equal(a.indices, a3.indices)
    np.testing.assert_array_equal(a.targets, np.arange(50)[a.indices] % 10)
    with pytest.raises(ValueError, match="n_train must be between 1 and 49"):
        mnist_split(tmp_path, n_train=50)


# ---- the real MNIST test set ----
def test_real_mnist_t10k(data_dir):
    root = data_dir / "mnist"
    if not root.is_dir():
        pytest.skip(f"no MNIST at {root}")
    ds = MNIST(root, train=False)
    assert len(ds) == 10000
    assert ds.class_counts().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    x, _ = ds[0]
    assert 0.0 <= x.numpy().min() and x.numpy().max() == 1.0
    tr, te = mnist_split(root)
    assert (len(tr), len(te)) == (8000, 2000)
    assert tr.class_counts().sum() == 8000 and (te.class_counts() > 150).all()
    seen = 0
    for xb, yb in DataLoader(te, batch_size=500, shuffle=True):
        assert xb.shape[1:] == (1, 28, 28)
        seen += len(yb)
    assert seen == 2000
