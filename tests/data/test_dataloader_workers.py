"""DataLoader with num_workers > 0 (PyTorch's semantics): the same batches as in-process loading,
per-worker seeding and worker_init_fn, get_worker_info, persistent workers, prefetch_factor,
shared-memory transport without leaks, errors naming the worker and sample, a dying worker, a
timeout, sharded IterableDatasets; and unknown keyword arguments are a TypeError."""
import os
import time

import lamina
import numpy as np
import pytest
from lamina.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info


class Samples(Dataset):
    """Per-sample dataset (no batched fast path): sample i is a dict with a 28x28 image and i."""

    def __len__(self):
        return 40

    def __getitem__(self, i):
        return {"image": np.full((28, 28), i, np.float32), "index": i}


class WhoAmI(Dataset):
    """Each sample reports the worker, its seed, the process id and a draw from lamina's generator."""

    def __len__(self):
        return 16

    def __getitem__(self, i):
        info = get_worker_info()
        return np.array([info.id, info.seed % 2**31, os.getpid(), float(lamina.rand(1).item()) * 1e6, i,
                         getattr(info.dataset, "initialised", -1)])


class Failing(Dataset):
    def __init__(self, bad, how="raise"):
        self.bad, self.how = bad, how

    def __len__(self):
        return 32

    def __getitem__(self, i):
        if i == self.bad:
            if self.how == "exit":
                os._exit(3)
            if self.how == "sleep":
                time.sleep(5)
            raise ValueError(f"corrupt record {i}")
        return np.float32(i)


class Stream(IterableDataset):
    """0..n-1, split between workers by get_worker_info (PyTorch's sharding recipe)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        w, k = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(w, self.n, k))


def test_same_batches_as_in_process():
    x = lamina.randn(100, 3, 8, 8)
    y = lamina.arange(100)
    for ds in (TensorDataset(x, y), Samples()):
        ref = list(DataLoader(ds, batch_size=7, num_workers=0))
        got = list(DataLoader(ds, batch_size=7, num_workers=2))
        assert len(got) == len(ref)
        for a, b in zip(ref, got):
            if isinstance(a, dict):
                a, b = (a["image"], a["index"]), (b["image"], b["index"])
            for u, v in zip(a, b):
                np.testing.assert_array_equal(u.numpy(), v.numpy())
    # batch_size=None: one sample at a time, converted
    got = list(DataLoader(Samples(), batch_size=None, num_workers=2))
    assert [int(s["index"]) for s in got] == list(range(40))


def test_shuffle_is_a_permutation_and_reproducible():
    ds = TensorDataset(lamina.arange(50))
    runs = []
    for _ in range(2):
        lamina.manual_seed(3)
        runs.append(np.concatenate([b[0].numpy() for b in DataLoader(ds, batch_size=8, shuffle=True, num_workers=2)]))
    assert sorted(runs[0].tolist()) == list(range(50)) and runs[0].tolist() != list(range(50))
    np.testing.assert_array_equal(runs[0], runs[1])


def _init(worker_id):
    get_worker_info().dataset.initialised = 100 + worker_id


def test_worker_info_seeding_and_init_fn():
    assert get_worker_info() is None                      # main process
    lamina.manual_seed(0)
    rows = np.concatenate([b.numpy() for b in DataLoader(WhoAmI(), batch_size=2, num_workers=2, worker_init_fn=_init)])
    ids, seeds, pids, draws, idx, init = rows.T
    assert sorted(set(ids.tolist())) == [0, 1] and len(set(pids.tolist())) == 2 and os.getpid() not in pids
    assert idx.tolist() == list(range(16))                # sampler order kept
    assert np.all(init == 100 + ids)                      # worker_init_fn ran in each worker
    s0, s1 = seeds[ids == 0][0], seeds[ids == 1][0]
    assert (s1 - s0) % 2**31 == 1                         # base seed + worker id
    assert len(set(draws.tolist())) == 16                 # workers' generators differ
    lamina.manual_seed(0)
    again = np.concatenate([b.numpy() for b in DataLoader(WhoAmI(), batch_size=2, num_workers=2)])
    np.testing.assert_array_equal(again[:, 3], draws)     # ... and are reproducible from manual_seed


def test_persistent_workers_and_prefetch():
    loader = DataLoader(WhoAmI(), batch_size=4, num_workers=2, persistent_workers=True, prefetch_factor=1)
    pids = [set(np.concatenate([b.numpy() for b in loader])[:, 2].tolist()) for _ in range(2)]
    assert pids[0] == pids[1] and len(pids[0]) == 2       # the same processes serve both epochs
    for b in loader:                                      # an epoch abandoned after one batch ...
        break
    rows = np.concatenate([b.numpy() for b in loader])    # ... does not disturb the next
    assert rows[:, 4].tolist() == list(range(16))
    loader._pool.shutdown()
    plain = DataLoader(WhoAmI(), batch_size=4, num_workers=2)
    a, b = (set(np.concatenate([x.numpy() for x in plain])[:, 2].tolist()) for _ in range(2))
    assert not a & b                                       # fresh workers each epoch


def _shm_blocks():
    return {n for n in os.listdir("/dev/shm") if n.startswith("psm_")} if os.path.isdir("/dev/shm") else set()


def test_large_batches_through_shared_memory_without_leaks():
    from lamina.data import _worker

    before = _shm_blocks()
    big, small = lamina.randn(64, 784), lamina.arange(64)
    packed = _worker._pack([big, small])                  # what a worker sends
    assert isinstance(packed[0].arr, _worker._Shm) and isinstance(packed[1].arr, np.ndarray)
    if os.path.isdir("/dev/shm"):
        assert len(_shm_blocks() - before) == 1            # the image batch sits in a shared block
    back = _worker._unpack(packed)                         # what the main process receives
    np.testing.assert_array_equal(back[0].numpy(), big.numpy())
    np.testing.assert_array_equal(back[1].numpy(), small.numpy())
    assert _shm_blocks() <= before                         # taken and unlinked
    x = lamina.randn(64, 784)
    loader = DataLoader(TensorDataset(x), batch_size=32, num_workers=2)
    got = np.concatenate([b[0].numpy() for b in loader])
    np.testing.assert_array_equal(got, x.numpy())
    for b in DataLoader(TensorDataset(x), batch_size=8, num_workers=2):
        break                                              # abandoned: in-flight batches freed too
    time.sleep(0.2)
    assert _shm_blocks() <= before


def test_worker_exception_names_worker_and_sample():
    with pytest.raises(ValueError, match=r"ValueError in DataLoader worker [01] while loading sample 13 .*corrupt record 13"):
        list(DataLoader(Failing(13), batch_size=4, num_workers=2))


def test_dying_worker_is_reported():
    with pytest.raises(RuntimeError, match=r"DataLoader worker [01] \(pid \d+\) exited unexpectedly with exit "
                                           r"code 3 while loading samples \[4, 5, 6, 7\]"):
        list(DataLoader(Failing(5, "exit"), batch_size=4, num_workers=2))


def test_timeout():
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(DataLoader(Failing(0, "sleep"), batch_size=4, num_workers=1, timeout=0.5))
    assert time.perf_counter() - t0 < 4.5


def test_iterable_dataset_sharded_between_workers():
    got = np.concatenate([b.numpy() for b in DataLoader(Stream(23), batch_size=4, num_workers=2)])
    assert sorted(got.tolist()) == list(range(23))
    loader = DataLoader(Stream(10), batch_size=3, num_workers=2, persistent_workers=True)
    for _ in range(2):                                     # persistent workers restart their streams
        assert sorted(np.concatenate([b.numpy() for b in loader]).tolist()) == list(range(10))
    loader._pool.shutdown()


def test_argument_errors():
    ds = TensorDataset(lamina.arange(4))
    with pytest.raises(TypeError, match="shufle"):
        DataLoader(ds, shufle=True)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="timeout"):
        DataLoader(ds, num_workers=1, timeout=-1)
