"""DDP's shared-memory reducer against its MPI path, float32: parameters of odd sizes (chunk
bounds fall inside parameters; 3 ranks give uneven chunks and the divide by 3), gradients and
weights after several steps bit for bit equal on 2 ranks (a + b is commutative) and within
float32 rounding on 3 (MPI's summation order is its own); both schemes (every rank sums all,
the 2-rank default; owners sum chunks, the default for more) bit for bit equal to each other on
any number of ranks; copied or bucket-view gradients, set_to_none or zeroed; no_sync
accumulation; and the fallbacks (switch, comm hook, mixed dtypes)."""
import sys
import time

import lamina
import lamina.distributed as dist
import lamina.nn.functional as F
import numpy as np
from lamina import nn, optim
from lamina.distributed.algorithms.ddp_comm_hooks import default_hooks
from lamina.nn.parallel import DistributedDataParallel as DDP


def say(*parts):
    sys.stdout.write(" ".join(map(str, parts)) + "\n")
    sys.stdout.flush()


dist.init_process_group()
r, n = dist.get_rank(), dist.get_world_size()
B = 5


def build():
    lamina.manual_seed(0)
    return nn.Sequential(nn.Linear(37, 29), nn.Tanh(), nn.Linear(29, 13), nn.ReLU(), nn.Linear(13, 3))


def data(step):
    rng = np.random.default_rng(100 * step + r)
    return (lamina.from_numpy(rng.standard_normal((B, 37)).astype(np.float32)),
            lamina.from_numpy(rng.integers(0, 3, B)))


def train(shm, view=False, set_to_none=True, accumulate=False, steps=3, whole=None, defer=True, dests=True,
          buffers=2, inwin=True):
    cls = type("PinnedDDP", (DDP,), {"_shm_whole": whole, "_shm_defer": defer, "_shm_buffers": buffers,
                                     "_shm_grads_in_window": inwin})
    d = cls(build(), gradient_as_bucket_view=view, shared_memory=shm)
    assert (d._shm is not None) == shm, (shm, d._shm)
    if shm:
        # .grad in the window: the default for a power-of-two world, on the chunked scheme
        iw = inwin and whole is None and buffers == 2 and not view and n & (n - 1) == 0
        assert d._shm_inwin == iw, (iw, d._shm_inwin)
        assert d._shm.whole == (False if iw else n == 2 if whole is None else whole), (whole, d._shm.whole)
        if not dests:  # every gradient copied into the window by DDP instead of written there by F.linear
            d._shm_unset_dests()
    opt = optim.SGD(d.parameters(), lr=0.1, momentum=0.9)
    grads = []
    for s in range(steps):
        opt.zero_grad(set_to_none=set_to_none)
        x, y = data(s)
        if accumulate:
            with d.no_sync():
                F.cross_entropy(d(x[:2]), y[:2]).backward()
            F.cross_entropy(d(x[2:]), y[2:]).backward()
        else:
            F.cross_entropy(d(x), y).backward()
        grads.append([p.grad.numpy().copy() for p in d.parameters()])
        opt.step()
    return [p.detach().numpy().copy() for p in d.parameters()], grads, d


def compare(a, b, what, exact=False):
    (pa, ga, _), (pb, gb, _) = a, b
    for x, y in zip(pa + [g for gs in ga for g in gs], pb + [g for gs in gb for g in gs]):
        assert x.dtype == np.float32 and x.shape == y.shape
        if n == 2 or exact:
            assert np.array_equal(x.view(np.uint32), y.view(np.uint32)), f"{what}: bits differ, max {np.abs(x - y).max()}"
        else:
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=what)


mpi = train(False)
d = mpi[2]
shm_run = train(True)
compare(mpi, shm_run, "shm vs MPI")
sd = shm_run[2]._shm
assert sd.n == n and sd.bounds[0] == 0 and sd.bounds[-1] == sum(p.numel() for p in d.parameters())
sizes = np.diff(sd.bounds)
assert sizes.min() > 0 and len(set(sizes.tolist())) > 1, sizes  # 1534 elements: uneven chunks
offs = np.cumsum([0] + [p.numel() for p in d.parameters()][::-1])  # the window holds them last layer first
assert not set(sd.bounds[1:-1]) & set(offs.tolist()), (sd.bounds, offs)  # chunk bounds cut parameters
# every rank got the same bits
g0 = lamina.from_numpy(np.concatenate([g.ravel() for g in shm_run[1][-1]]))
allg = [lamina.zeros(g0.numel()) for _ in range(n)]
dist.all_gather(allg, g0)
assert all(np.array_equal(a.numpy(), allg[0].numpy()) for a in allg)
say(f"rank {r}: shm == MPI (float32, chunk sizes {sizes.tolist()})")

# the other scheme: the same rank-ordered sums, so the same bits on any number of ranks; and the
# gradients copied into the window in their hooks instead of at the end of backward
for whole in (True, False):
    for defer in (True, False):
        compare(shm_run, train(True, whole=whole, defer=defer), f"whole={whole} defer={defer}", exact=True)
compare(train(True, whole=n != 2, defer=False, view=True, set_to_none=False), shm_run, "other scheme, views",
        exact=True)
# F.linear writes each gradient, scaled, into the window itself (a power-of-two world; 3 ranks
# divide by 3 on the way in, which a GEMM's alpha of 1/3 would round differently): same bits as
# the copy DDP makes otherwise
assert all(shm_run[2]._shm_st.given) == (n & (n - 1) == 0), shm_run[2]._shm_st.given
compare(shm_run, train(True, dests=False), "written by the op vs copied", exact=True)
compare(train(True, view=True, set_to_none=False), train(True, view=True, set_to_none=False, dests=False),
        "views, zeroed: written by the op vs copied", exact=True)
if n & (n - 1) == 0:
    # the sums of op-written gradients go to private tensors that are used again next step, but
    # only while nobody else holds them: a .grad kept from one step keeps its values
    def stepper(model):
        """One SGD step on batch s: zero_grad (set to None), forward, backward, step."""
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(s):
            opt.zero_grad()
            x, y = data(s)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        return step

    d = DDP(build())
    step = stepper(d)
    step(0)
    kept = [p.grad for p in d.parameters()]
    vals = [g.numpy().copy() for g in kept]
    step(1)
    assert all(p.grad is not g for p, g in zip(d.parameters(), kept))
    assert all(np.array_equal(g.numpy(), v) for g, v in zip(kept, vals))
    exported = d.module[0].weight.grad.numpy()  # a NumPy view of the memory holds it too
    before = exported.copy()
    step(2)
    assert np.array_equal(exported, before)
    del kept, exported
    step(3)
    ids = [id(p.grad) for p in d.parameters()]
    step(4)
    assert ids == [id(p.grad) for p in d.parameters()], "not reused"
    assert not any(np.shares_memory(p.grad.numpy(), d._shm.window(j)) for p in d.parameters() for j in range(n))
# two buffers per segment, used in turn (backward never writes what the last sum read): the same
# bits as one buffer, on both schemes, copied or written by the op, through an odd number of steps
assert shm_run[2]._shm.buffers == 2 and shm_run[2]._shm.cur == 1  # 3 steps: buffers 0, 1, 0
for whole in (True, False):
    compare(train(True, whole=whole, buffers=1), train(True, whole=whole, steps=3), f"1 buffer, whole={whole}",
            exact=True)
compare(train(True, buffers=1, dests=False, defer=False), shm_run, "1 buffer, copied in the hooks", exact=True)
if n & (n - 1) == 0:
    d = DDP(build())
    seen = []
    for s in range(4):  # the op writes into buffer s % 2 of this rank's segment
        x, y = data(s)
        d._shm_lay[d._shm.cur].view[0][...] = np.nan  # whatever was there is overwritten, not summed
        F.cross_entropy(d(x), y).backward()
        seen.append(d._shm.cur)
        w = d._shm.segment(r, 1 - d._shm.cur)  # the buffer this iteration used
        assert np.isfinite(w).all() and np.isfinite(d.module[0].weight.grad.numpy()).all()
        for p in d.parameters():
            p.grad = None
    assert seen == [1, 0, 1, 0], seen
# .grad in the window against the sums in private memory (the whole scheme for 2 ranks): same bits
compare(train(True, inwin=False), shm_run, ".grad in the window vs private", exact=True)
compare(train(True, inwin=False, set_to_none=False), train(True, set_to_none=False), "zeroed: in the window vs private",
        exact=True)
if n & (n - 1) == 0:
    # .grad lives in this rank's own segment; changed in place right after backward (rank 0 zeroes
    # it while rank 1 is slow to copy rank 0's reduced chunk out of it), the other ranks still get
    # the sums: backward returns only when nobody reads the segment any more
    Private = type("PrivateSumsDDP", (DDP,), {"_shm_grads_in_window": False})  # the same rank-ordered sums

    def zeroing(shm, slow):
        d = DDP(build()) if shm else Private(build())
        if slow and r == 1:
            gather = d._shm_gather

            def slow_gather(lay):
                time.sleep(0.2)
                gather(lay)
            d._shm_gather = slow_gather
        out = []
        for s in range(3):
            x, y = data(s)
            F.cross_entropy(d(x), y).backward()
            out.append([p.grad.numpy().copy() for p in d.parameters()])
            if shm:
                assert all(np.shares_memory(p.grad.numpy(), d._shm.window(r)) for p in d.parameters())
            if r == 0:
                for p in d.parameters():
                    p.grad.numpy()[...] = 0
            for p in d.parameters():
                p.grad = None
        return out
    ref = zeroing(False, False)
    got = zeroing(True, True)
    for a, b in zip([g for gs in ref for g in gs], [g for gs in got for g in gs]):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), "zeroed in place while another rank read it"
    # only rank 0 exports a .grad's memory (NumPy): every rank stops handing out window views, the
    # export keeps its values, the sums stay those of the MPI path
    dm, ds = Private(build()), DDP(build())
    om, os_ = optim.SGD(dm.parameters(), lr=0.1), optim.SGD(ds.parameters(), lr=0.1)
    exported = None
    for s in range(5):
        for d, o in ((dm, om), (ds, os_)):
            o.zero_grad()
            x, y = data(s)
            F.cross_entropy(d(x), y).backward()
            o.step()
        for a, b in zip(dm.parameters(), ds.parameters()):
            assert np.array_equal(a.grad.numpy(), b.grad.numpy()) and np.array_equal(a.detach().numpy(), b.detach().numpy())
        if s == 1 and r == 0:
            exported = ds.module[2].weight.grad.numpy()
            before = exported.copy()
        assert ds._shm_inwin == (s <= 1), (s, ds._shm_inwin)  # step 2 finds it held, on every rank
    if r == 0:
        assert np.array_equal(exported, before)
    # .grad tensors kept across several steps keep their values (their buffer is written again two
    # steps later: they get private copies) while DDP goes on handing out views of the window
    d2 = DDP(build())
    step2 = stepper(d2)
    step2(0)
    kept = [p.grad for p in d2.parameters()]
    vals = [g.numpy().copy() for g in kept]
    assert all(np.shares_memory(g.numpy(), d2._shm.window(r)) for g in kept)
    for s in range(1, 5):
        step2(s)
        assert all(np.array_equal(g.numpy(), v) for g, v in zip(kept, vals)), s
        assert all(np.shares_memory(p.grad.numpy(), d2._shm.window(r)) for p in d2.parameters()), s
    assert d2._shm_inwin and not any(np.shares_memory(g.numpy(), d2._shm.window(r)) for g in kept)
say(f"rank {r}: schemes agree")

for view in (False, True):
    for set_to_none in (True, False):
        got = train(True, view=view, set_to_none=set_to_none)
        compare(train(False, view=view, set_to_none=set_to_none), got, f"view={view} set_to_none={set_to_none}")
        m = got[2]
        for i, p in enumerate(m._params):
            g = p.grad.numpy()
            # .grad lives in this rank's own segment only when every gradient was written there by
            # its op (set_to_none) and .grad in the window is on; never in another rank's
            mine = m._shm_inwin and set_to_none
            assert np.shares_memory(g, m._shm.window(r)) == mine, (m._names[i], mine)
            assert not any(np.shares_memory(g, m._shm.window(j)) for j in range(n) if j != r), m._names[i]
            if view:  # a view of DDP's one flat buffer, the same tensor from step to step
                assert np.shares_memory(g, m._shm_flat[0].base), m._names[i]
                assert p.grad is m._shm_grads[i]
say(f"rank {r}: views ok")

compare(train(False, accumulate=True), train(True, accumulate=True), "no_sync")
say(f"rank {r}: no_sync ok")

# fallbacks: a communication hook, mixed dtypes
h = DDP(build())
assert h._shm is not None
h.register_comm_hook(None, default_hooks.allreduce_hook)
assert h._shm is None
ref = DDP(build(), shared_memory=False)
x, y = data(0)
F.cross_entropy(h(x), y).backward()
F.cross_entropy(ref(x), y).backward()
for a, b in zip(h.parameters(), ref.parameters()):  # allreduce_hook: the MPI path's bits
    assert np.array_equal(a.grad.numpy(), b.grad.numpy())
mixed = build()
mixed[4].double()
assert DDP(mixed)._shm is None  # float32 and float64 parameters: MPI buckets per dtype
say(f"rank {r}: fallbacks ok")
