"""Single-process parts of lamina.distributed (no MPI job): SyncBatchNorm conversion and its
BatchNorm behaviour without a process group, and the errors before init_process_group."""
import lamina
import numpy as np
import pytest
from lamina import nn


def _model():
    lamina.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(),
                         nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.BatchNorm1d(4)))


def test_convert_sync_batchnorm_replaces_every_batchnorm_sharing_state():
    m = _model()
    bn2d, bn1d = m[1], m[3][2]
    out = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    assert out is m
    assert isinstance(m[1], nn.SyncBatchNorm) and isinstance(m[3][2], nn.SyncBatchNorm)
    assert m[1].weight is bn2d.weight and m[1].running_mean is bn2d.running_mean
    assert m[3][2].bias is bn1d.bias and m[3][2].num_features == 4
    assert list(m.state_dict()) == list(_model().state_dict())
    single = nn.BatchNorm1d(5).eval()
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(single)
    assert isinstance(conv, nn.SyncBatchNorm) and not conv.training


@pytest.mark.parametrize("train", [True, False])
def test_without_a_process_group_it_is_batchnorm(train):
    ref, m = _model(), nn.SyncBatchNorm.convert_sync_batchnorm(_model())
    ref.train(train)
    m.train(train)
    x = lamina.randn(5, 2, 4, 4)
    a, b = ref(x), m(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    for (k, v), (k2, v2) in zip(ref.state_dict().items(), m.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(v.numpy(), v2.numpy())


def test_syncbatchnorm_checks_its_input():
    with pytest.raises(ValueError, match="expected 3 channels"):
        nn.SyncBatchNorm(3)(lamina.randn(4, 2, 5))
    with pytest.raises(ValueError, match="2D to 5D"):
        nn.SyncBatchNorm(3)(lamina.randn(4))


def test_errors_before_init_process_group():
    import lamina.distributed as dist
    from lamina.nn.parallel import DistributedDataParallel as DDP

    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="init_process_group"):
        DDP(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend 'nccl' is not available"):
        dist.init_process_group("nccl")
    with pytest.raises(AttributeError):
        dist.no_such_thing  # noqa: B018
    assert dist.pipeline.Pipe.__name__ == "Pipe"


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 8, 64])
def test_gradient_averaging_gives_the_bits_of_a_divide(dtype, n):
    # DDP averages with a multiply by 1/n for a power-of-two world size: it must give exactly the
    # bits of src / n, subnormals, the largest finite values, zeros of both signs, inf and nan included.
    from lamina.nn.parallel.distributed import _divide_into
    rng = np.random.default_rng(n)
    fi = np.finfo(dtype)
    src = np.concatenate([
        rng.standard_normal(4000).astype(dtype) * dtype(rng.choice([1e-3, 1.0, 1e3], 4000)),
        (rng.random(500) * float(fi.tiny) * 4).astype(dtype),  # subnormal and near-subnormal results
        np.array([0.0, -0.0, fi.max, -fi.max, fi.tiny, fi.smallest_subnormal, np.inf, -np.inf, np.nan], dtype),
    ])
    out = np.empty_like(src)
    _divide_into(src, n, out)
    assert out.dtype == src.dtype
    np.testing.assert_array_equal(out.view(np.uint8), (src / dtype(n)).view(np.uint8))
    inplace = src.copy()
    _divide_into(inplace, n, inplace)
    np.testing.assert_array_equal(inplace.view(np.uint8), out.view(np.uint8))
