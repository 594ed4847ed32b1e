"""DDP communication hooks: ``lamina.distributed.Future`` on its own (single process), and the
hooks under ``mpiexec -n 2`` / ``-n 3`` (tests/distributed/workers/comm_hooks.py): stock hooks
against DDP without a hook and against 16-bit rounding, a custom hook's view of the buckets,
registration errors."""
from __future__ import annotations

import lamina
import numpy as np
import pytest
from lamina.distributed import Future, GradBucket
from lamina.distributed.algorithms.ddp_comm_hooks import default_hooks


def test_future_set_result_then_chain():
    f = Future()
    assert not f.done()
    calls = []
    g = f.then(lambda fut: calls.append(1) or fut.value() + 1).then(lambda fut: fut.value() * 10)
    with pytest.raises(RuntimeError, match="not completed yet"):
        f.value()
    f.set_result(4)
    assert f.done() and f.value() == 4 and f.wait() == 4
    assert g.wait() == 50 and g.value() == 50 and calls == [1]
    assert g.wait() == 50 and calls == [1]  # a callback runs once
    with pytest.raises(RuntimeError, match="only be marked completed once"):
        f.set_result(5)
    with pytest.raises(RuntimeError, match="only be marked completed once"):
        g.set_result(5)


def test_future_errors_propagate_through_then():
    f = Future()
    child = f.then(lambda fut: fut.value() + 1)
    f.set_exception(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        child.wait()
    bad = Future()
    bad.set_result(1)
    with pytest.raises(ZeroDivisionError):
        bad.then(lambda fut: fut.value() / 0).wait()
    with pytest.raises(RuntimeError, match="nothing will complete this future"):
        Future().wait()
    with pytest.raises(TypeError):
        Future().then(3)
    with pytest.raises(TypeError):
        Future().set_exception("not an exception")
    assert Future[lamina.Tensor] is not None  # usable in hook annotations, as torch.futures.Future[Tensor]


def test_grad_bucket_accessors():
    buf = lamina.arange(6, dtype=lamina.float32)
    p0, p1 = lamina.zeros(2, 2), lamina.zeros(2)
    g0, g1 = buf[:4].reshape(2, 2), buf[4:]
    b = GradBucket(1, buf, [p0, p1], [g0, g1], True)
    assert b.index() == 1 and b.is_last() and b.parameters()[1] is p1 and b.buffer() is buf
    b.set_buffer(lamina.ones(6))
    np.testing.assert_array_equal(b.gradients()[0].numpy(), np.ones((2, 2)))
    with pytest.raises(ValueError, match="6 elements"):
        b.set_buffer(lamina.ones(5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_16bit_codecs_round_to_nearest_even(dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(20000) * np.exp(rng.standard_normal(20000) * 4)).astype(dtype)
    # values just beside a bfloat16 midpoint, where rounding float64 -> float32 -> bfloat16 twice goes wrong
    mid = np.float64(np.float32(1 + 2.0 ** -8))
    x[:4] = np.array([mid + 1e-12, mid - 1e-12, -mid - 1e-12, mid], dtype=dtype)
    for enc, dec, bits in ((default_hooks._bf16_encode, default_hooks._bf16_decode, 8),
                           (default_hooks._fp16_encode, default_hooks._fp16_decode, 11)):
        y = dec(enc(x.copy())).astype(np.float64)
        xd = x.astype(np.float64)
        # correctly rounded: no 16-bit value lies closer, i.e. the error is at most half a unit in
        # the last place (relative 2^-bits) of the result (normal range)
        normal = np.abs(xd) > 1e-4
        assert (np.abs(y - xd)[normal] <= np.abs(y[normal]) * 2.0 ** -bits).all()
    b = default_hooks._bf16_decode(default_hooks._bf16_encode(x[:4].copy()))
    if dtype == np.float64:  # above the midpoint -> up, below -> down, the midpoint itself -> even (down)
        assert b[0] > 1 + 2.0 ** -8 > b[1] and b[2] < -(1 + 2.0 ** -8) and b[3] == 1.0
    specials = np.array([np.nan, np.inf, -np.inf, 3.4e38, 0.0, -0.0], np.float32)
    s = default_hooks._bf16_decode(default_hooks._bf16_encode(specials))
    assert np.isnan(s[0]) and list(s[1:]) == [np.inf, -np.inf, np.inf, 0.0, 0.0] and np.signbit(s[5])


def test_16bit_codecs_match_torch_on_float32():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal(50000).astype(np.float32) * 100
    for enc, dec, tdt in ((default_hooks._bf16_encode, default_hooks._bf16_decode, torch.bfloat16),
                          (default_hooks._fp16_encode, default_hooks._fp16_decode, torch.float16)):
        np.testing.assert_array_equal(dec(enc(x)), torch.from_numpy(x).to(tdt).float().numpy())


@pytest.mark.parametrize("n,mode", [(1, "buckets"), (2, "buckets"), (3, "direct")])
def test_comm_hooks_under_mpi(mpirun, n, mode):
    r = mpirun(n, "comm_hooks.py", mode, timeout=120)
    for k in range(n):
        for line in ("allreduce_hook == default DDP bit for bit", "allreduce_hook with unused parameters ok",
                     "fp16_compress_hook == 16-bit average",
                     "bf16_compress_hook == 16-bit average", "16-bit hooks on float64 ok",
                     "custom hook saw the buckets", "hook errors ok"):
            assert f"rank {k}: {line}" in r.stdout, line
