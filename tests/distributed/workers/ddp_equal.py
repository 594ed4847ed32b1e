"""DDP over N ranks, each on B samples, equals single-process training on the N*B batch
(float64, 1e-9) for an MLP, an LSTM and a CNN with BatchNorm converted to SyncBatchNorm; plain
BatchNorm differs (per-rank statistics); gradient_as_bucket_view (gradients zeroed or set to
None); no_sync accumulation; find_unused_parameters and static_graph."""
import os
import sys

import lamina
import lamina.distributed as dist
import lamina.nn.functional as F
import numpy as np
from lamina import nn, optim
from lamina.nn.parallel import DistributedDataParallel as DDP


def say(*parts):
    """One write per line: several ranks share mpiexec's stdout."""
    sys.stdout.write(" ".join(map(str, parts)) + "\n")
    sys.stdout.flush()


DIRECT = sys.argv[1:] == ["direct"]
if DIRECT:
    # every parameter of 64 bytes or more is its own bucket, all-reduced in place in .grad
    lamina.nn.parallel.distributed._DIRECT_BYTES = 64
lamina.set_default_dtype(lamina.float64)
dist.init_process_group()
r, n = dist.get_rank(), dist.get_world_size()
B, STEPS, TOL = 4, 3, 1e-9
SHM = n > 1 and os.environ.get("LAMINA_DDP_SHM") != "0"  # the shared-memory reducer (one node)


class LSTMHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=True)
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def build(kind):
    lamina.manual_seed(0)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    if kind == "lstm":
        return LSTMHead()
    return nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 2 * 2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def batches(kind, step):
    rng = np.random.default_rng(1000 + step)
    shape = {"mlp": (6,), "lstm": (7, 3)}.get(kind, (2, 6, 6))
    x = rng.standard_normal((B * n,) + shape)
    y = rng.integers(0, 3, B * n)
    return lamina.from_numpy(x), lamina.from_numpy(y)


def states(m):
    return {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}


def maxdiff(a, b):
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()) for k in a)


def run_single(kind):
    m = build(kind)
    opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    for s in range(STEPS):
        x, y = batches(kind, s)
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()
    return states(m)


def run_ddp(kind, sync_bn=True, bucket_cap_mb=25, view=False, set_to_none=True):
    lamina.manual_seed(1 + r)  # different local init: DDP broadcasts rank 0's
    m = build(kind)
    if r:
        for p in m.parameters():
            p.data = p.data * 0 + r  # make the replicas visibly different before wrapping
    if sync_bn:
        m = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    d = DDP(m, bucket_cap_mb=bucket_cap_mb, gradient_as_bucket_view=view)
    opt = optim.SGD(d.parameters(), lr=0.1, momentum=0.9)
    for s in range(STEPS):
        x, y = batches(kind, s)
        opt.zero_grad(set_to_none=set_to_none)
        F.cross_entropy(d(x[r * B:(r + 1) * B]), y[r * B:(r + 1) * B]).backward()
        opt.step()
    return states(d), d


for kind in ("mlp", "lstm", "cnn"):
    ref = run_single(kind)
    got, d = run_ddp(kind)
    diff = maxdiff(ref, got)
    assert diff < TOL, f"{kind}: DDP differs from single-process training by {diff}"
    ndirect = sum(b.direct for b in d._buckets)
    assert (ndirect >= 3) if DIRECT else (ndirect == 0), [b.direct for b in d._buckets]
    assert (d._shm is not None) == SHM, (kind, d._shm, SHM)
    if kind == "cnn":
        assert any(isinstance(mm, nn.SyncBatchNorm) for mm in d.modules())
        # several buckets (tiny cap): same result
        got2, d2 = run_ddp(kind, bucket_cap_mb=0.0001)
        assert len(d2._buckets) > 3 and maxdiff(ref, got2) < TOL
        assert (d2._shm is not None) == SHM
        if n > 1:
            plain, _ = run_ddp(kind, sync_bn=False)
            pdiff = maxdiff(ref, plain)
            assert pdiff > 1e-6, f"plain BatchNorm under DDP should differ (per-rank statistics), diff {pdiff}"
    for set_to_none in (True, False):  # gradients as views of the buckets: same training
        got3, d3 = run_ddp(kind, view=True, set_to_none=set_to_none)
        assert (d3._shm is not None) == SHM
        assert maxdiff(ref, got3) < TOL, f"{kind}: gradient_as_bucket_view differs by {maxdiff(ref, got3)}"
        for i, p in enumerate(d3._params):
            view3 = d3._bucket_view(i)
            if view3 is not None:  # small parameters: .grad is the bucket's memory
                assert np.shares_memory(p.grad.numpy(), view3), d3._names[i]
    say(f"rank {r}: {kind} DDP == single process (max diff {diff:.2e})")

# no_sync: two accumulated micro-batches per step, reduced on the second backward
ref_m = build("mlp")
opt = optim.SGD(ref_m.parameters(), lr=0.1)
for s in range(2):
    opt.zero_grad()
    for half in range(2):
        x, y = batches("mlp", 10 * s + half)
        (F.cross_entropy(ref_m(x), y) / 2).backward()
    opt.step()
m = build("mlp")
d = DDP(m)
assert (d._shm is not None) == SHM
opt = optim.SGD(d.parameters(), lr=0.1)
for s in range(2):
    opt.zero_grad()
    for half in range(2):
        x, y = batches("mlp", 10 * s + half)
        if half == 0:
            with d.no_sync():  # forward and backward inside, as in PyTorch
                (F.cross_entropy(d(x[r * B:(r + 1) * B]), y[r * B:(r + 1) * B]) / 2).backward()
            local = m[0].weight.grad.numpy().copy()
        else:
            (F.cross_entropy(d(x[r * B:(r + 1) * B]), y[r * B:(r + 1) * B]) / 2).backward()
    opt.step()
diff = maxdiff(states(ref_m), states(d))
assert diff < TOL, f"no_sync accumulation differs by {diff}"
if n > 1:
    allg = [lamina.zeros(*local.shape, dtype=lamina.float64) for _ in range(n)]
    dist.all_gather(allg, lamina.from_numpy(local))
    assert not np.allclose(allg[0].numpy(), allg[1].numpy()), "no_sync must not reduce"
say(f"rank {r}: no_sync accumulation ok ({diff:.2e})")


# find_unused_parameters: a branch used only on rank 0
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 2)
        self.b = nn.Linear(4, 2)
        self.never = nn.Linear(4, 2)

    def forward(self, x, use_b):
        return self.a(x) + self.b(x) if use_b else self.a(x)


lamina.manual_seed(0)
m = Branchy()
d = DDP(m, find_unused_parameters=True)
x = lamina.from_numpy(np.random.default_rng(r).standard_normal((3, 4)))
d(x, r == 0).sum().backward()
gs = [lamina.zeros(2, 4, dtype=lamina.float64) for _ in range(n)]
dist.all_gather(gs, m.a.weight.grad)
assert all(np.array_equal(g.numpy(), gs[0].numpy()) for g in gs)
assert m.b.weight.grad is not None and m.never.weight.grad is None  # b: used by rank 0; never: by nobody
xs = [np.random.default_rng(k).standard_normal((3, 4)) for k in range(n)]
np.testing.assert_allclose(m.b.weight.grad.numpy(), np.tile(xs[0].sum(0), (2, 1)) / n, atol=1e-12)
say(f"rank {r}: find_unused_parameters ok")

# static_graph: the unused parameters found on the first iteration, remembered; two iterations
# give the same gradients as find_unused_parameters=True
for static in (False, True):
    lamina.manual_seed(0)
    d = DDP(Branchy(), find_unused_parameters=not static, static_graph=static, gradient_as_bucket_view=static)
    for it in range(2):
        for p in d.parameters():
            p.grad = None
        d(x, r == 0).sum().backward()
    grads = {k: (None if p.grad is None else p.grad.numpy().copy()) for k, p in d.module.named_parameters()}
    if not static:
        ref_grads = grads
    else:
        assert d._static_unused is not None and grads.keys() == ref_grads.keys()
        for k, g in grads.items():
            assert (g is None) == (ref_grads[k] is None), k
            if g is not None:
                np.testing.assert_allclose(g, ref_grads[k], atol=1e-12, err_msg=k)
say(f"rank {r}: static_graph ok")

# without it, a parameter without gradient is reported by the next forward
if n > 1:
    lamina.manual_seed(0)
    d = DDP(Branchy())
    d(x, True).sum().backward()
    try:
        d(x, True)
        raise AssertionError("no error")
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e) and "['never.weight', 'never.bias']" in str(e), str(e)
say(f"rank {r}: ddp ok")
sys.stdout.flush()
