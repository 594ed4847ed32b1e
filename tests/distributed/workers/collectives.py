"""Every collective and point-to-point op against NumPy on N ranks; then mismatched arguments
across ranks raise DistError naming the ranks, on every rank."""
import sys

import lamina
import lamina.distributed as dist
import numpy as np


def say(*parts):
    """One write per line: several ranks share mpiexec's stdout."""
    sys.stdout.write(" ".join(map(str, parts)) + "\n")
    sys.stdout.flush()


dist.init_process_group(backend="mpi")
r, n = dist.get_rank(), dist.get_world_size()
R = dist.ReduceOp


def data(rank, shape=(3, 4), dtype=np.float64):
    rng = np.random.default_rng(100 + rank)
    a = rng.standard_normal(shape) * 3
    return a.astype(dtype) if dtype != np.int64 else np.round(a).astype(np.int64)


for dt in (np.float32, np.float64, np.int64):
    allv = np.stack([data(k, dtype=dt) for k in range(n)])
    for op, ref in ((R.SUM, allv.sum(0)), (R.MAX, allv.max(0)), (R.MIN, allv.min(0)), (R.PRODUCT, allv.prod(0)),
                    (R.AVG, allv.sum(0) / n)):
        if op is R.AVG and dt == np.int64:
            continue
        t = lamina.from_numpy(data(r, dtype=dt).copy())
        v0 = t._version
        dist.all_reduce(t, op=op)
        tol = 1e-5 if dt == np.float32 else 1e-12
        np.testing.assert_allclose(t.numpy(), ref.astype(dt), rtol=tol, atol=tol, err_msg=f"all_reduce {op} {dt}")
        assert t._version > v0
        # async form, and reduce to a root
        t = lamina.from_numpy(data(r, dtype=dt).copy())
        w = dist.all_reduce(t, op=op, async_op=True)
        assert w.wait() is True and w.is_completed()
        np.testing.assert_allclose(t.numpy(), ref.astype(dt), rtol=tol, atol=tol)
        t = lamina.from_numpy(data(r, dtype=dt).copy())
        dist.reduce(t, dst=n - 1, op=op)
        expect = ref.astype(dt) if r == n - 1 else data(r, dtype=dt)
        np.testing.assert_allclose(t.numpy(), expect, rtol=tol, atol=tol)

# bool: SUM is logical or, PRODUCT logical and
b = lamina.from_numpy(np.array([r == 0, False, True]))
dist.all_reduce(b)
assert b.tolist() == [True, False, True]
b = lamina.from_numpy(np.array([r == 0, True]))
dist.all_reduce(b, op=R.PRODUCT)
assert b.tolist() == [n == 1, True]

# non-contiguous tensors are reduced and written back through the view
base = lamina.from_numpy(np.arange(12, dtype=np.float64).reshape(3, 4) * (r + 1))
view = base.t()
dist.all_reduce(view)
np.testing.assert_allclose(base.numpy(), np.arange(12).reshape(3, 4) * sum(range(1, n + 1)))

# broadcast from every root
for src in range(n):
    t = lamina.from_numpy(data(r))
    dist.broadcast(t, src=src)
    np.testing.assert_array_equal(t.numpy(), data(src))

# all_gather, all_gather_into_tensor, gather, scatter
lst = [lamina.zeros(3, 4, dtype=lamina.float64) for _ in range(n)]
dist.all_gather(lst, lamina.from_numpy(data(r)))
for k in range(n):
    np.testing.assert_array_equal(lst[k].numpy(), data(k))
out = lamina.zeros(n * 3, 4, dtype=lamina.float64)
dist.all_gather_into_tensor(out, lamina.from_numpy(data(r)))
np.testing.assert_array_equal(out.numpy(), np.concatenate([data(k) for k in range(n)]))
dst = n - 1
gl = [lamina.zeros(3, 4, dtype=lamina.float64) for _ in range(n)] if r == dst else None
dist.gather(lamina.from_numpy(data(r)), gl, dst=dst)
if r == dst:
    for k in range(n):
        np.testing.assert_array_equal(gl[k].numpy(), data(k))
recv = lamina.zeros(3, 4, dtype=lamina.float64)
sl = [lamina.from_numpy(data(10 + k)) for k in range(n)] if r == 0 else None
dist.scatter(recv, sl, src=0)
np.testing.assert_array_equal(recv.numpy(), data(10 + r))

# point to point: a ring, blocking and non-blocking, and receive from any rank
if n > 1:
    nxt, prv = (r + 1) % n, (r - 1) % n
    w = dist.isend(lamina.from_numpy(data(r, (5,))), nxt, tag=3)
    t = lamina.zeros(5, dtype=lamina.float64)
    assert dist.recv(t, src=prv, tag=3) == prv
    np.testing.assert_array_equal(t.numpy(), data(prv, (5,)))
    w.wait()
    if r == 0:
        got = set()
        for _ in range(n - 1):
            t = lamina.zeros(2, dtype=lamina.int64)
            s = dist.recv(t)
            assert t.tolist() == [s, s * 10]
            got.add(s)
        assert got == set(range(1, n))
    else:
        dist.send(lamina.tensor([r, r * 10]), 0)
    t = lamina.zeros(2)
    wk = dist.irecv(t, src=prv, tag=9)
    dist.send(lamina.full((2,), float(r)), nxt, tag=9)
    assert wk.result() == prv and t.tolist() == [float(prv)] * 2

# objects
objs = [None] * n
dist.all_gather_object(objs, {"rank": r, "name": "x" * r})
assert objs == [{"rank": k, "name": "x" * k} for k in range(n)]
lst = [r, "mine"] if r == 0 else [None, None]
dist.broadcast_object_list(lst, src=0)
assert lst == [0, "mine"]
dist.barrier()


def expect_error(fn, *parts):
    try:
        fn()
    except dist.DistError as e:
        msg = str(e)
        for p in parts:
            assert p in msg, (p, msg)
        return msg
    raise AssertionError("no DistError")


if n > 1:
    last = n - 1
    m = expect_error(lambda: dist.all_reduce(lamina.zeros(4, 3 + (r == last), dtype=lamina.float64)),
                     "all_reduce: tensors differ across ranks", "float64 [4, 3] on rank", f"float64 [4, 4] on rank {last}")
    m2 = expect_error(lambda: dist.broadcast(lamina.zeros(3, dtype=lamina.float32 if r != last else lamina.int64), 0),
                      "broadcast", "float32 [3]", f"int64 [3] on rank {last}")
    expect_error(lambda: dist.broadcast(lamina.zeros(3), src=0 if r else 1), "disagree on the root rank", "root=1 on rank 0")
    expect_error(lambda: (dist.all_reduce if r == 0 else dist.broadcast)(lamina.zeros(2), *([] if r == 0 else [0])),
                 "collective mismatch", "all_reduce() on rank 0", "broadcast()")
    expect_error(lambda: dist.all_reduce(lamina.zeros(2), op=R.SUM if r else R.MAX), "disagree on the reduce op")
    bad = [lamina.zeros(3) for _ in range(n - (r == 0))]
    expect_error(lambda: dist.all_gather(bad, lamina.zeros(3)), "rank 0's tensor_list must hold")
    gl = [lamina.zeros(2) for _ in range(n)] if r == 0 else None
    expect_error(lambda: dist.gather(lamina.zeros(2 + (r == last)), gl, dst=0), "gather: tensors differ")
    # point to point: the receiver names both shapes
    if r == 0:
        dist.send(lamina.zeros(2, 3), 1, tag=5)
    elif r == 1:
        try:
            dist.recv(lamina.zeros(3, 2), 0, tag=5)
            raise AssertionError("no DistError")
        except dist.DistError as e:
            assert "sender's tensor is float32 [2, 3], this rank's buffer is float32 [3, 2]" in str(e), str(e)
    # a per-call timeout: nobody sends tag 77
    if r == 0:
        try:
            dist.irecv(lamina.zeros(1), src=1, tag=77).wait(timeout=0.3)
            raise AssertionError("no timeout")
        except dist.DistTimeoutError as e:
            assert "irecv from rank 1 (tag 77) on rank 0" in str(e) and "timed out after 0.3 s" in str(e), str(e)
    # the group still works after the errors
    t = lamina.ones(2)
    dist.all_reduce(t)
    assert t.tolist() == [float(n)] * 2
    if r == 0:
        say("MSG1", m)
        say("MSG2", m2)
dist.destroy_process_group()
assert not dist.is_initialized()
say(f"rank {r}: collectives ok")
