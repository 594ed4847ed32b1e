"""lamina.data: datasets, samplers, default_collate and DataLoader (batching, shuffling, fast path)."""
import collections

import numpy as np
import pytest

import lamina
from lamina.data import (
    BatchSampler, ConcatDataset, DataLoader, Dataset, Generator, IterableDataset, RandomSampler,
    SequentialSampler, Subset, SubsetRandomSampler, TensorDataset, default_collate, random_split,
)


def _xy(n=10, d=3):
    x = lamina.from_numpy(np.arange(n * d, dtype=np.float32).reshape(n, d))
    y = lamina.arange(n)
    return x, y


class ListDataset(Dataset):
    """A plain map-style dataset (no fast path) of arbitrary samples."""

    def __init__(self, items):
        self.items = items

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


# ---- TensorDataset ----
def test_tensor_dataset_items_and_len():
    x, y = _xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), [9, 10, 11])
    assert int(yi) == 3


def test_tensor_dataset_size_mismatch_names_sizes():
    with pytest.raises(ValueError, match=r"\[5, 4\].*\(5, 2\), \(4,\)"):
        TensorDataset(lamina.zeros(5, 2), lamina.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(TypeError, match="expected lamina tensors"):
        TensorDataset([1, 2, 3])


# ---- DataLoader batching ----
@pytest.mark.parametrize("n,bs,drop,sizes", [(10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]),
                                             (8, 4, False, [4, 4]), (3, 5, False, [3]), (3, 5, True, []),
                                             (1, 1, False, [1])])
def test_batch_sizes_and_len(n, bs, drop, sizes):
    x, y = _xy(n)
    dl = DataLoader(TensorDataset(x, y), batch_size=bs, drop_last=drop)
    got = [(xb.shape, yb.shape) for xb, yb in dl]
    assert [s[0][0] for s in got] == sizes
    assert all(s[0][1:] == (3,) and s[1] == (s[0][0],) for s in got)
    assert len(dl) == len(sizes)


def test_sequential_order_values_and_dtypes():
    x, y = _xy(10)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), np.arange(10))
    np.testing.assert_array_equal(batches[2][0].numpy(), x.numpy()[8:10])
    assert batches[0][0].dtype is lamina.float32 and batches[0][1].dtype is lamina.int64
    # the batch is a copy, not a view into the dataset
    batches[0][0].numpy()[:] = -1
    assert x.numpy()[0, 0] == 0


def _epoch_labels(dl):
    return np.concatenate([yb.numpy() for _, yb in dl])


def test_shuffle_sees_every_sample_once_and_changes_per_epoch():
    x, y = _xy(50)
    dl = DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True)
    e1, e2 = _epoch_labels(dl), _epoch_labels(dl)
    np.testing.assert_array_equal(np.sort(e1), np.arange(50))
    np.testing.assert_array_equal(np.sort(e2), np.arange(50))
    assert not np.array_equal(e1, np.arange(50))
    assert not np.array_equal(e1, e2)


def test_shuffle_reproducible_with_manual_seed_and_pairs_stay_aligned():
    x, y = _xy(30)
    dl = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    lamina.manual_seed(123)
    a = [_epoch_labels(dl), _epoch_labels(dl)]
    lamina.manual_seed(123)
    b = [_epoch_labels(dl), _epoch_labels(dl)]
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    for xb, yb in dl:  # rows still belong to their labels
        np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy() * 3)


def test_explicit_generator():
    x, y = _xy(20)
    ds = TensorDataset(x, y)
    g1 = _epoch_labels(DataLoader(ds, batch_size=5, shuffle=True, generator=Generator().manual_seed(7)))
    lamina.manual_seed(99)  # the global generator does not matter with an explicit one
    g2 = _epoch_labels(DataLoader(ds, batch_size=5, shuffle=True, generator=Generator().manual_seed(7)))
    np.testing.assert_array_equal(g1, g2)
    g = Generator(5)
    st = g.get_state()
    p1 = list(RandomSampler(range(10), generator=g))
    g.set_state(st)
    assert list(RandomSampler(range(10), generator=g)) == p1
    assert g.initial_seed() == 5


def test_fast_path_matches_per_sample_path():
    x = lamina.randn(23, 2, 3)
    y = lamina.randint(0, 5, (23,))
    ds = TensorDataset(x, y)
    slow = DataLoader(ds, batch_size=4, shuffle=True, collate_fn=lambda b: default_collate(b))
    fast = DataLoader(ds, batch_size=4, shuffle=True)
    lamina.manual_seed(3)
    sb = list(slow)
    lamina.manual_seed(3)
    fb = list(fast)
    assert len(sb) == len(fb) == 6
    for (a, b), (c, d) in zip(sb, fb):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())


def test_fast_path_through_subset_and_non_contiguous():
    base = lamina.randn(6, 10)
    x = base.transpose(0, 1)  # (10, 6), non-contiguous
    ds = TensorDataset(x, lamina.arange(10))
    sub = Subset(ds, [9, 2, 4])
    (xb, yb), = list(DataLoader(sub, batch_size=3))
    np.testing.assert_array_equal(yb.numpy(), [9, 2, 4])
    np.testing.assert_allclose(xb.numpy(), base.numpy().T[[9, 2, 4]])


def test_no_batching_and_samplers():
    x, y = _xy(4)
    out = list(DataLoader(TensorDataset(x, y), batch_size=None))
    assert len(out) == 4 and out[1][0].shape == (3,)
    dl = DataLoader(TensorDataset(x, y), batch_size=2, sampler=[3, 2, 1, 0])
    np.testing.assert_array_equal(_epoch_labels(dl), [3, 2, 1, 0])
    dl = DataLoader(TensorDataset(x, y), batch_sampler=[[0, 3], [1]])
    assert [b[1].tolist() for b in dl] == [[0, 3], [1]]
    assert len(dl) == 2
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    assert list(BatchSampler(SequentialSampler(range(5)), 2, False)) == [[0, 1], [2, 3], [4]]
    assert sorted(SubsetRandomSampler([5, 7, 9])) == [5, 7, 9]
    rs = RandomSampler(range(4), replacement=True, num_samples=9)
    draws = list(rs)
    assert len(draws) == 9 and len(rs) == 9 and all(0 <= d < 4 for d in draws)


def test_loader_argument_errors():
    ds = TensorDataset(*_xy(4))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)


# ---- default_collate ----
def test_collate_tuples_of_numpy_and_numbers():
    items = [(np.full((2, 2), i, dtype=np.uint8), i, float(i) / 2, bool(i % 2), f"s{i}") for i in range(3)]
    xb, ib, fb, bb, sb = next(iter(DataLoader(ListDataset(items), batch_size=3)))
    assert xb.shape == (3, 2, 2) and xb.dtype is lamina.int64
    np.testing.assert_array_equal(xb.numpy()[:, 0, 0], [0, 1, 2])
    assert ib.dtype is lamina.int64 and ib.tolist() == [0, 1, 2]
    assert fb.dtype is lamina.float32 and fb.tolist() == [0.0, 0.5, 1.0]
    assert bb.dtype is lamina.bool and bb.tolist() == [False, True, False]
    assert sb == ["s0", "s1", "s2"]


def test_collate_dicts_nested_and_namedtuple():
    P = collections.namedtuple("P", "a b")
    items = [{"img": lamina.full((3,), float(i)), "meta": {"id": i, "pair": [i, np.float64(i)]},
              "p": P(i, 2.0 * i)} for i in range(4)]
    b = default_collate(items)
    assert set(b) == {"img", "meta", "p"}
    np.testing.assert_array_equal(b["img"].numpy()[:, 0], [0, 1, 2, 3])
    assert b["meta"]["id"].tolist() == [0, 1, 2, 3]
    assert b["meta"]["pair"][1].dtype is lamina.float64
    assert isinstance(b["p"], P) and b["p"].b.tolist() == [0.0, 2.0, 4.0, 6.0]


def test_collate_errors():
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*sample 1 has shape \(4,\)"):
        default_collate([lamina.zeros(3), lamina.zeros(4)])
    with pytest.raises(RuntimeError, match="same length"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="found NoneType"):
        default_collate([None, None])
    with pytest.raises(TypeError, match="mixed types"):
        default_collate([lamina.zeros(1), np.zeros(1)])
    with pytest.raises(RuntimeError, match="same keys"):
        default_collate([{"a": 1}, {"b": 1}])


# ---- Subset / ConcatDataset / random_split / IterableDataset ----
def test_subset_and_concat():
    a = ListDataset(list(range(5)))
    b = ListDataset(list(range(100, 103)))
    c = a + b
    assert isinstance(c, ConcatDataset) and len(c) == 8
    assert [c[i] for i in range(8)] == [0, 1, 2, 3, 4, 100, 101, 102]
    assert c[-1] == 102
    with pytest.raises(IndexError, match="out of range"):
        c[8]
    s = Subset(c, [7, 0])
    assert len(s) == 2 and s[0] == 102 and s[1] == 0
    assert next(iter(DataLoader(c, batch_size=8))).tolist() == [0, 1, 2, 3, 4, 100, 101, 102]


def test_random_split_sizes_disjoint_reproducible():
    ds = ListDataset(list(range(103)))
    lamina.manual_seed(1)
    parts = random_split(ds, [0.7, 0.2, 0.1])
    assert [len(p) for p in parts] == [73, 20, 10]  # floors 72, 20, 10 + remainder to the first
    allv = sorted(v for p in parts for v in (p[i] for i in range(len(p))))
    assert allv == list(range(103))
    lamina.manual_seed(1)
    again = random_split(ds, [0.7, 0.2, 0.1])
    assert [p.indices for p in parts] == [p.indices for p in again]
    g = [random_split(ds, [50, 53], generator=Generator(4))[0].indices for _ in range(2)]
    assert g[0] == g[1] and g[0] != list(range(50))
    with pytest.raises(ValueError, match=r"sum of input lengths \[50, 50\] = 100 does not equal .*103"):
        random_split(ds, [50, 50])


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    out = [b.tolist() for b in DataLoader(Stream(), batch_size=3)]
    assert out == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)
