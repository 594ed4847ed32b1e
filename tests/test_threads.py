"""Threads: set_num_threads/get_num_threads round trip (OpenMP and BLAS together), bad values raise,
kernels and threaded GEMM blocks give the same answers with 1, 2 and 3 threads; and Python threads
running models at once (stress and conv2d-regression programs in a subprocess), thread-local grad and
anomaly mode, and concurrent RNG draws.
"""
import numpy as np
import pytest

import lamina


@pytest.fixture
def restore_threads():
    old = lamina.get_num_threads()
    yield
    lamina.set_num_threads(old)


def test_default_is_positive():
    assert isinstance(lamina.get_num_threads(), int) and lamina.get_num_threads() >= 1


@pytest.mark.parametrize("n", [1, 2, 3, 1])
def test_round_trip(n, restore_threads):
    lamina.set_num_threads(n)
    assert lamina.get_num_threads() == n
    assert lamina.blas_info()["threads"] == n


@pytest.mark.parametrize("bad,exc,msg", [(0, ValueError, "positive thread count, got 0"),
                                         (-2, ValueError, "positive thread count, got -2"),
                                         (1.5, TypeError, "expected an int, got float"),
                                         ("2", TypeError, "expected an int, got str"),
                                         (True, TypeError, "expected an int, got bool")])
def test_bad_values_raise(bad, exc, msg, restore_threads):
    lamina.set_num_threads(1)
    with pytest.raises(exc, match=msg):
        lamina.set_num_threads(bad)
    assert lamina.get_num_threads() == 1  # unchanged


def test_blas_info():
    info = lamina.blas_info()
    assert isinstance(info["corename"], str) and info["corename"]
    assert "OpenBLAS" in info["config"] or "USE_OPENMP" in info["config"] or info["config"]


def test_kernels_agree_across_thread_counts(restore_threads):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 250)).astype(np.float32)
    big = rng.standard_normal((70_000,)).astype(np.float32)
    res = []
    for n in (1, 2):
        lamina.set_num_threads(n)
        ta, tb = lamina.from_numpy(a), lamina.from_numpy(b)
        mm = (ta @ tb).numpy().copy()
        tt = lamina.from_numpy(big).reshape(700, 100).t().contiguous().numpy().copy()  # strided copy
        f = lamina.zeros(70_000)
        f.fill_(2.5)
        res.append((mm, tt, f.numpy().copy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-4, atol=1e-4)  # split-K order may differ
    np.testing.assert_allclose(res[0][0], a @ b, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(res[0][1], res[1][1])
    np.testing.assert_array_equal(res[0][1], big.reshape(700, 100).T)
    np.testing.assert_array_equal(res[0][2], res[1][2])


@pytest.mark.parametrize("m,k,n", [(203, 67, 77), (50, 301, 301), (257, 129, 18), (16, 4096, 16)])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_threaded_blocks(m, k, n, ta, tb, restore_threads):
    # gemm splits C into row or column blocks over the threads itself (OpenBLAS stays at one
    # thread): uneven blocks, transposed operands (non-contiguous views handed to BLAS as is) and
    # beta != 0 must all come out as with one thread.
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    av, bv = (a.T if ta else a), (b.T if tb else b)
    want = 0.5 * av.astype(np.float64) @ bv.astype(np.float64) + 2.0 * c0
    outs = []
    for threads in (1, 2, 3):
        lamina.set_num_threads(threads)
        out = lamina.from_numpy(c0.copy())
        lamina._C.gemm_into(out._c, lamina.from_numpy(av)._c, lamina.from_numpy(bv)._c, 0.5, 2.0)
        outs.append(out.numpy().copy())
        np.testing.assert_allclose(outs[-1], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Concurrency (issue 12): Python threads running forward, backward and optimizer steps at once.
# The programs that could abort or hang (OpenMP regions, BLAS, GIL released) run in a subprocess
# with a timeout, so a crash fails the test instead of killing the suite: `python
# tests/test_threads.py stress|conv` is the program, the tests below only launch it.

ITERS = 4


def _conv_net(nn):
    # 16x16 images, pad 1: the first conv runs as an OpenMP region over image chunks, each chunk
    # calling gemm inside the region; the second is one chunk whose gemm threads itself.
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


def _make_job(kind, seed):
    """A model, its optimizer and ITERS (input, target) batches, all fixed by `seed`."""
    from lamina import nn, optim

    lamina.manual_seed(seed)
    rng = np.random.default_rng(seed)

    def arr(*shape):
        return lamina.from_numpy(rng.standard_normal(shape).astype(np.float32))

    if kind == "conv":
        model = _conv_net(nn)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        data = [(arr(16, 3, 16, 16), arr(16, 10)) for _ in range(ITERS)]
    elif kind == "lstm":
        model = nn.LSTM(16, 32, num_layers=2)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        data = [(arr(12, 4, 16), arr(12, 4, 32)) for _ in range(ITERS)]
    else:
        model = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        opt = optim.AdamW(model.parameters(), lr=1e-2)
        data = [(arr(4, 10, 32), arr(4, 10, 32)) for _ in range(ITERS)]
    return model, opt, data


def _loss(model, x, t):
    y = model(x)
    if isinstance(y, tuple):  # LSTM: (output, (h, c))
        y = y[0]
    return ((y - t) ** 2).mean()


def _train(model, opt, data):
    """ITERS optimizer steps; returns the losses and the final parameters."""
    losses = []
    for x, t in data:
        opt.zero_grad()
        loss = _loss(model, x, t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


def _grads(model, data):
    """Forward and backward only (autograd.grad: nothing is written into the shared model)."""
    params = list(model.parameters())
    out = []
    for x, t in data:
        loss = _loss(model, x, t)
        out.append((loss.item(), [g.numpy().copy() for g in lamina.autograd.grad(loss, params)]))
    return out


def _run_threads(fns):
    """Runs each fn in its own thread, all released together; returns results, re-raises errors."""
    import threading

    results, errors = [None] * len(fns), []
    barrier = threading.Barrier(len(fns))

    def run(i):
        try:
            barrier.wait()
            results[i] = fns[i]()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return results


def _stress_main():
    lamina.set_num_threads(2)
    kinds = ["conv", "lstm", "transformer"]
    # 1. Eight threads, each training its own model: identical to training them one by one.
    jobs = [(kinds[i % 3], i) for i in range(8)]
    serial = [_train(*_make_job(k, s)) for k, s in jobs]
    made = [_make_job(k, s) for k, s in jobs]
    threaded = _run_threads([lambda m=m: _train(*m) for m in made])
    for (k, s), (l0, p0), (l1, p1) in zip(jobs, serial, threaded):
        assert l0 == l1, f"{k} seed {s}: losses {l0} alone, {l1} in threads"
        for a, b in zip(p0, p1):
            np.testing.assert_array_equal(a, b, err_msg=f"{k} seed {s}: parameters differ")
    # 2. Eight threads sharing three models (forward + backward only), each on its own batches.
    shared = {k: _make_job(k, 99)[0] for k in kinds}
    work = [(kinds[i % 3], _make_job(kinds[i % 3], 100 + i)[2]) for i in range(8)]
    serial = [_grads(shared[k], data) for k, data in work]
    threaded = _run_threads([lambda k=k, d=d: _grads(shared[k], d) for k, d in work])
    for (k, _), r0, r1 in zip(work, serial, threaded):
        for (l0, g0), (l1, g1) in zip(r0, r1):
            np.testing.assert_allclose(l1, l0, rtol=1e-6, atol=0, err_msg=f"shared {k}: loss")
            for a, b in zip(g0, g1):
                np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7, err_msg=f"shared {k}: gradients")
    print("stress ok")


def _conv_main():
    # Regression: two threads in conv2d forward+backward with 2 threads used to abort the process
    # ("gemm: called inside a parallel region while BLAS is multi-threaded"): one thread's
    # BlasSerialScope restored OpenBLAS's process-wide thread count in the middle of the other's
    # parallel region. 16 images of 64x64 make conv2d fork over image chunks.
    from lamina import nn

    lamina.set_num_threads(2)

    def make(seed):  # in the main thread: the default generator is process-wide, as in PyTorch
        lamina.manual_seed(seed)
        return nn.Conv2d(3, 8, 3, padding=1)

    def work(seed, conv):
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(8):
            x = lamina.from_numpy(rng.standard_normal((16, 3, 64, 64)).astype(np.float32))
            x.requires_grad_(True)
            y = conv(x)
            (y * y).sum().backward()
            out.append((y.detach().numpy().copy(), x.grad.numpy().copy()))
        return out, conv.weight.grad.numpy().copy()

    serial = [work(s, make(s)) for s in (1, 2)]
    convs = {s: make(s) for s in (1, 2)}
    threaded = _run_threads([lambda s=s: work(s, convs[s]) for s in (1, 2)])
    for (o0, w0), (o1, w1) in zip(serial, threaded):
        for (y0, dx0), (y1, dx1) in zip(o0, o1):
            np.testing.assert_array_equal(y0, y1)
            np.testing.assert_array_equal(dx0, dx1)
        np.testing.assert_array_equal(w0, w1)
    print("conv ok")


def _run_program(name, timeout):
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, os.path.abspath(__file__), name], capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, f"exit code {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr[-4000:]}"
    assert f"{name} ok" in r.stdout


def test_threads_train_models_concurrently():
    _run_program("stress", timeout=120)


def test_two_threads_conv2d_regression():
    _run_program("conv", timeout=60)


def test_grad_mode_is_thread_local():
    import threading

    from lamina import nn

    model = nn.Linear(4, 3)
    x = lamina.from_numpy(np.ones((2, 4), np.float32))
    a_in_no_grad, b_done = threading.Event(), threading.Event()
    seen = {}

    def a():
        with lamina.no_grad():
            a_in_no_grad.set()
            assert b_done.wait(30)
            seen["a_enabled"] = lamina.is_grad_enabled()
            seen["a_requires_grad"] = model(x).requires_grad
        seen["a_after"] = lamina.is_grad_enabled()

    def b():
        assert a_in_no_grad.wait(30)  # a is inside no_grad now
        try:
            seen["b_enabled"] = lamina.is_grad_enabled()
            model.zero_grad()
            y = model(x)
            seen["b_requires_grad"] = y.requires_grad
            y.sum().backward()
            seen["b_grad"] = model.weight.grad.numpy().copy()
        finally:
            b_done.set()

    _run_threads([a, b])
    assert seen["a_enabled"] is False and seen["a_requires_grad"] is False and seen["a_after"] is True
    assert seen["b_enabled"] is True and seen["b_requires_grad"] is True
    np.testing.assert_allclose(seen["b_grad"], np.full((3, 4), 2.0, np.float32))


def test_anomaly_mode_is_thread_local():
    import threading

    # sqrt(-1): NaN in the forward and in the gradient. detect_anomaly raises in backward only in
    # the thread that turned it on.
    a_on, b_done = threading.Event(), threading.Event()
    seen = {}

    def nan_backward():
        x = lamina.from_numpy(np.array([-1.0], np.float32)).requires_grad_(True)
        x.sqrt().sum().backward()
        return x.grad.numpy().copy()

    def a():
        with lamina.autograd.detect_anomaly():
            a_on.set()
            assert b_done.wait(30)
            try:
                nan_backward()
                seen["a"] = "no error"
            except RuntimeError as e:
                seen["a"] = str(e)

    def b():
        assert a_on.wait(30)
        try:
            seen["b"] = nan_backward()
        finally:
            b_done.set()

    _run_threads([a, b])
    assert "nan" in seen["a"].lower()
    assert np.isnan(seen["b"]).all()


def test_rng_draws_from_threads_are_distinct_streams():
    # Each draw reserves its own counter range atomically, so draws made concurrently are exactly
    # the draws a single thread would make, in some order: same multiset, no overlap.
    n, per_thread, nthreads = 4096, 20, 4

    def draws():
        return [lamina.rand(n).numpy().copy() for _ in range(per_thread)]

    lamina.manual_seed(1234)
    alone = draws() + draws() + draws() + draws()
    lamina.manual_seed(1234)
    together = [d for r in _run_threads([draws] * nthreads) for d in r]
    key = lambda a: a.tobytes()  # noqa: E731
    assert sorted(map(key, alone)) == sorted(map(key, together))
    assert len({key(a) for a in together}) == per_thread * nthreads
    assert all(((a >= 0) & (a < 1)).all() for a in together)


if __name__ == "__main__":
    import sys

    {"stress": _stress_main, "conv": _conv_main}[sys.argv[1]]()


def test_shared_leaf_gradients_accumulate_without_lost_updates():
    """Regression: threads calling .backward() on one model at once must not lose .grad updates
    (the accumulation's read-add-write released the GIL between the read and the write)."""
    import threading

    lamina.manual_seed(0)
    lin = lamina.nn.Linear(256, 256)
    x = lamina.randn(64, 256)
    n_threads, n_iter = 4, 15

    def work():
        for _ in range(n_iter):
            lin(x).sum().backward()

    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    got = lin.weight.grad.numpy().copy()
    lin.weight.grad = None
    lin(x).sum().backward()
    one = lin.weight.grad.numpy()
    np.testing.assert_allclose(got, one * (n_threads * n_iter), rtol=1e-4)
