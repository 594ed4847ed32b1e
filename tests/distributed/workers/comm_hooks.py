"""DDP communication hooks over N ranks (argv[1]: "buckets" or "direct", as ddp_equal.py):
allreduce_hook and a user hook built on all_reduce(async_op=True).get_future() give the same
bits as DDP without a hook; fp16/bf16_compress_hook give the per-rank gradients averaged
through 16-bit rounding, bit for bit as the documented formula, and within the rounding bound
of the single-process gradient; a custom hook sees DDP's buckets; registration errors."""
import sys

import lamina
import lamina.distributed as dist
import lamina.nn.functional as F
import numpy as np
from lamina import nn, optim
from lamina.distributed.algorithms.ddp_comm_hooks import default_hooks as hooks
from lamina.nn.parallel import DistributedDataParallel as DDP


def say(*parts):
    sys.stdout.write(" ".join(map(str, parts)) + "\n")
    sys.stdout.flush()


if sys.argv[1:] == ["direct"]:
    lamina.nn.parallel.distributed._DIRECT_BYTES = 64  # every parameter its own in-place bucket
dist.init_process_group()
r, n = dist.get_rank(), dist.get_world_size()
B = 5


def build(dtype=lamina.float32):
    lamina.manual_seed(0)
    m = nn.Sequential(nn.Linear(7, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 3))
    return m.to(dtype)


def batch(step, dtype=np.float32):
    rng = np.random.default_rng(100 + step)
    x = rng.standard_normal((B * n, 7)).astype(dtype)
    return lamina.from_numpy(x), lamina.from_numpy(rng.integers(0, 3, B * n))


def grads(m):
    return [p.grad.numpy().copy() for p in m.parameters()]


def train(hook=None, state=None, steps=3, view=False, cap=0.0002, dtype=lamina.float32):
    """Per-step gradients of DDP training (SGD with momentum) with ``hook`` registered."""
    m = build(dtype)
    d = DDP(m, bucket_cap_mb=cap, gradient_as_bucket_view=view)
    if hook is not None:
        d.register_comm_hook(state, hook)
    opt = optim.SGD(d.parameters(), lr=0.1, momentum=0.9)
    out = []
    for s in range(steps):
        x, y = batch(s, np.float32 if dtype == lamina.float32 else np.float64)
        opt.zero_grad(set_to_none=not view)
        F.cross_entropy(d(x[r * B:(r + 1) * B]), y[r * B:(r + 1) * B]).backward()
        out.append(grads(m))
        opt.step()
    return out, d


def same_bits(a, b, what):
    for s, (ga, gb) in enumerate(zip(a, b)):
        for k, (u, v) in enumerate(zip(ga, gb)):
            assert u.dtype == v.dtype and np.array_equal(u.view(np.uint8), v.view(np.uint8)), \
                f"{what}: step {s} parameter {k} differs by {np.abs(u - v).max()}"


# 1. allreduce_hook and a user's all_reduce-future hook == DDP without a hook, bit for bit
def user_allreduce(state, bucket: dist.GradBucket) -> dist.Future[lamina.Tensor]:
    t = bucket.buffer().div_(dist.get_world_size())
    return dist.all_reduce(t, async_op=True).get_future().then(lambda fut: fut.value()[0])


for dtype in (lamina.float32, lamina.float64):
    for view in (False, True):
        ref, d0 = train(view=view, dtype=dtype)
        assert len(d0._buckets) >= 3
        same_bits(ref, train(hooks.allreduce_hook, view=view, dtype=dtype)[0], f"allreduce_hook {dtype} view={view}")
        same_bits(ref, train(user_allreduce, view=view, dtype=dtype)[0], f"user hook {dtype} view={view}")
say(f"rank {r}: allreduce_hook == default DDP bit for bit")


# ... also with find_unused_parameters / static_graph (a branch only rank 0 uses, one nobody uses)
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.never = nn.Linear(4, 300), nn.Linear(4, 300), nn.Linear(4, 2)

    def forward(self, x, use_b):
        return self.a(x) + self.b(x) if use_b else self.a(x)


def branchy(hook, static):
    lamina.manual_seed(0)
    d = DDP(Branchy(), find_unused_parameters=not static, static_graph=static, bucket_cap_mb=0.001)
    if hook is not None:
        d.register_comm_hook(None, hook)
    xb = lamina.from_numpy(np.random.default_rng(r).standard_normal((3, 4)).astype(np.float32))
    out = []
    for _ in range(2):
        for p in d.parameters():
            p.grad = None
        d(xb, r == 0).sum().backward()
        out.append([None if p.grad is None else p.grad.numpy().copy() for p in d.parameters()])
    return out


for static in (False, True):
    want, got = branchy(None, static), branchy(hooks.allreduce_hook, static)
    for gw, gg in zip(want, got):
        assert [g is None for g in gw] == [g is None for g in gg]
        same_bits([[g for g in gw if g is not None]], [[g for g in gg if g is not None]], f"unused static={static}")
say(f"rank {r}: allreduce_hook with unused parameters ok")


# 2. fp16 / bf16 compression
def local_grads(x, y):
    """Every rank's own gradient (what DDP reduces), computed here for all ranks, and the
    full-batch gradient."""
    per = []
    for k in range(n):
        m = build()
        F.cross_entropy(m(x[k * B:(k + 1) * B]), y[k * B:(k + 1) * B]).backward()
        per.append(grads(m))
    m = build()
    F.cross_entropy(m(x), y).backward()
    return per, grads(m)


ENC = {"fp16": (hooks._fp16_encode, hooks._fp16_decode, 2.0 ** -11, 2.0 ** -25),
       "bf16": (hooks._bf16_encode, hooks._bf16_decode, 2.0 ** -8, 0.0)}
x, y = batch(0)
per, full = local_grads(x, y)
for name, hook in (("fp16", hooks.fp16_compress_hook), ("bf16", hooks.bf16_compress_hook)):
    enc, dec, u, tiny = ENC[name]
    got = train(hook, steps=1)[0][0]
    for k, g in enumerate(got):
        # the documented formula: round16(sum_r round16(g_r / n)), the sum in float32 in rank order
        s = dec(enc(per[0][k] / n))
        for q in range(1, n):
            s = s + dec(enc(per[q][k] / n))
        want = dec(enc(s)).reshape(g.shape)
        assert np.array_equal(g, want), f"{name}: parameter {k} is not the 16-bit average"
        # against the single-process gradient: each g_r / n and the sum are rounded once to 16
        # bits (relative u each, plus half the smallest fp16 subnormal per term); the shards' mean
        # differs from the full batch's float32 gradient by float32 rounding (1e-6 relative)
        mag = sum(np.abs(p[k]) for p in per) / n
        bound = u * mag + u * np.abs(full[k]) + n * tiny + 1e-6 * (mag + 1e-30)
        err = np.abs(g.astype(np.float64) - full[k])
        assert (err <= bound).all(), f"{name}: parameter {k} off by {err.max()} (bound {bound[err > bound]})"
        assert not np.array_equal(g, full[k])  # it really was rounded
    say(f"rank {r}: {name}_compress_hook == 16-bit average of the rank gradients")
# the float64 path of the codecs (a float64 model) stays within bf16 / fp16 rounding as well
ref64 = train(dtype=lamina.float64, steps=1)[0][0]
for name, hook in (("fp16", hooks.fp16_compress_hook), ("bf16", hooks.bf16_compress_hook)):
    got = train(hook, steps=1, dtype=lamina.float64)[0][0]
    for g, w in zip(got, ref64):
        assert np.abs(g - w).max() <= 3 * ENC[name][2] * np.abs(w).max() + n * ENC[name][3], name
say(f"rank {r}: 16-bit hooks on float64 ok")


# 3. a custom hook that doubles (no communication) sees DDP's buckets
def doubler(seen, bucket):
    buf = bucket.buffer()
    seen.append((bucket.index(), bucket.is_last(), buf.numel(), [id(p) for p in bucket.parameters()],
                 [g.numpy().copy() for g in bucket.gradients()], buf.numpy().copy()))
    fut = dist.Future()
    fut.set_result(buf * 2)
    return fut


counts = []
for direct_or_buckets in ("cap", "big"):
    seen = []
    cap = 0.0002 if direct_or_buckets == "cap" else 25
    out, d = train(doubler, seen, steps=1, cap=cap)
    m = d.module
    mine = per[r]
    assert [s[0] for s in seen] == list(range(len(d._buckets))), [s[0] for s in seen]
    assert [s[1] for s in seen] == [False] * (len(seen) - 1) + [True]
    for (idx, _, numel, pids, gl, flat), b in zip(seen, d._buckets):
        assert pids == [id(d._params[i]) for i in b.params]
        assert numel == sum(d._params[i].numel() for i in b.params) == flat.size
        for i, g in zip(b.params, gl):
            assert g.shape == tuple(d._params[i].shape)
            np.testing.assert_array_equal(g, mine[i])  # this rank's own, unreduced gradient
        np.testing.assert_array_equal(flat, np.concatenate([mine[i].reshape(-1) for i in b.params]))
    for p, g in zip(m.parameters(), mine):
        np.testing.assert_array_equal(p.grad.numpy(), 2 * g)
    counts.append(len(seen))
say(f"rank {r}: custom hook saw the buckets {counts}")


# 4. errors
def expect(exc, needle, fn):
    try:
        fn()
    except exc as e:
        assert needle in str(e), str(e)
        return
    raise AssertionError(f"no {exc.__name__} ({needle})")


d = DDP(build())
d.register_comm_hook(None, hooks.allreduce_hook)
expect(RuntimeError, "can only be called once", lambda: d.register_comm_hook(None, hooks.allreduce_hook))
d = DDP(build())
F.cross_entropy(d(x[:B]), y[:B]).backward()
expect(RuntimeError, "before the first backward", lambda: d.register_comm_hook(None, hooks.allreduce_hook))
expect(TypeError, "must be callable", lambda: DDP(build()).register_comm_hook(None, 3))
expect(TypeError, "two arguments", lambda: DDP(build()).register_comm_hook(None, lambda b: b))


def bad_annotation(state, bucket: int):
    return None


expect(ValueError, "bucket annotation", lambda: DDP(build()).register_comm_hook(None, bad_annotation))
d = DDP(build())
d.register_comm_hook(None, lambda s, b: b.buffer())
expect(TypeError, "must return a lamina.distributed.Future", lambda: F.cross_entropy(d(x[:B]), y[:B]).backward())


def short(state, bucket):
    f = dist.Future()
    f.set_result(bucket.buffer()[:1])
    return f


d = DDP(build())
d.register_comm_hook(None, short)
expect(RuntimeError, "completed with a tensor of 1 elements", lambda: F.cross_entropy(d(x[:B]), y[:B]).backward())
say(f"rank {r}: hook errors ok")
