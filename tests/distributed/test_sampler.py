"""DistributedSampler hands each rank exactly the indices torch.utils.data.DistributedSampler
does (same shuffle for seed + epoch, same padding or dropping, same striding); no MPI needed
since num_replicas and rank are given."""
import numpy as np
import pytest
from lamina.data import DataLoader, DistributedSampler, TensorDataset
from lamina.data.sampler import _torch_randperm

torch = pytest.importorskip("torch")


class _Len:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


@pytest.mark.parametrize("n", [0, 1, 2, 7, 10, 33, 1000])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_indices_equal_pytorch(n, replicas, shuffle, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchDS

    for rank in range(replicas):
        for epoch in (0, 3):
            mine = DistributedSampler(_Len(n), replicas, rank, shuffle=shuffle, seed=7, drop_last=drop_last)
            ref = TorchDS(_Len(n), replicas, rank, shuffle=shuffle, seed=7, drop_last=drop_last)
            mine.set_epoch(epoch)
            ref.set_epoch(epoch)
            assert list(mine) == list(ref), (n, replicas, rank, epoch)
            assert len(mine) == len(ref)


@pytest.mark.parametrize("n,seed", [(2, 0), (50, 1), (6000, 123), (777, 2 ** 32 + 9)])
def test_randperm_is_torch_randperm(n, seed):
    g = torch.Generator()
    g.manual_seed(seed)
    assert _torch_randperm(n, seed).tolist() == torch.randperm(n, generator=g).tolist()


def test_ranks_partition_the_epoch_and_epochs_differ():
    s = [DistributedSampler(_Len(10), 3, r, seed=0) for r in range(3)]
    got = sorted(i for x in s for i in x)
    assert len(got) == 12 and set(got) == set(range(10))  # padded with 2 repeats
    a = list(s[0])
    s[0].set_epoch(1)
    assert list(s[0]) != a


def test_dataloader_fast_path_uses_the_shard():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    ds = TensorDataset(x, np.arange(10))
    s = DistributedSampler(ds, 2, 1, shuffle=False)
    ys = [int(v) for _, yb in DataLoader(ds, batch_size=2, sampler=s) for v in yb.tolist()]
    assert ys == [1, 3, 5, 7, 9]


def test_errors():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(_Len(4), 2, 2)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(_Len(4))
