"""The contention governor (cpp/core/thread_governor.h, issue 13): parallel regions and gemm run on
fewer threads than configured while other processes keep this process's CPUs busy, and on the
configured count again when they stop; lamina.get_num_threads() always says the configured count,
results do not change, and LAMINA_THREAD_GOVERNOR=0 turns it off. tests/conftest.py turns it off
for the rest of the suite (those tests pick thread counts and check what the threads do); these
turn it on themselves. The load of other processes is injected through a test hook except in the
last test, which makes a real busy neighbour on a CPU of its own."""
import os
import subprocess
import sys
import textwrap

import lamina
import lamina.nn.functional as F
import numpy as np
import pytest
from lamina import _C, _threads


@pytest.fixture
def governor():
    """The governor on, with no injected load; afterwards as tests/conftest.py left it."""
    old_n, old_on = lamina.get_num_threads(), _C._thread_governor_enabled()
    _C._set_thread_governor(True)
    yield
    _C._set_thread_governor_load(-1.0)
    _C._set_thread_governor(old_on)
    lamina.set_num_threads(old_n)


def decide(cap, configured, cpus, others, calm=0):
    return tuple(_C._governor_decide(cap, configured, cpus, others, calm))


def test_decide_drops_at_once_and_rises_after_two_calm_windows():
    # 2 threads on 2 CPUs: a neighbour using half a CPU or more takes one thread away at once.
    assert decide(2, 2, 2, 1.0) == (1, 0)
    assert decide(2, 2, 2, 0.5) == (1, 0)
    assert decide(2, 2, 2, 0.45) == (2, 0)
    # Back up only below a quarter of a CPU, and only on the second such window in a row.
    assert decide(1, 2, 2, 0.3) == (1, 0)
    assert decide(1, 2, 2, 0.2) == (1, 1)
    assert decide(1, 2, 2, 0.2, calm=1) == (2, 0)
    assert decide(1, 2, 2, 0.6, calm=1) == (1, 0)  # a busy window resets the count
    # Never below one thread, never above the configured count.
    assert decide(2, 2, 2, 7.0) == (1, 0)
    assert decide(9, 2, 2, 0.0, calm=1) == (2, 0)


def test_decide_counts_only_the_cpus_our_threads_need():
    # 2 threads on 8 CPUs: a neighbour on 5 of them leaves us ours; on 6.6 of them it takes one.
    assert decide(2, 2, 8, 5.0) == (2, 0)
    assert decide(2, 2, 8, 6.6) == (1, 0)
    # 4 threads on 4 CPUs, neighbours on 2: two threads left.
    assert decide(4, 4, 4, 2.0) == (2, 0)
    # More threads than CPUs (the user's choice): left alone while nobody else runs.
    assert decide(4, 4, 2, 0.0) == (4, 0)


def test_injected_load_lowers_the_effective_count_only(governor):
    lamina.set_num_threads(2)
    _C._set_thread_governor_load(0.0)
    assert lamina._runtime._effective_num_threads() == 2
    _C._set_thread_governor_load(1.0)  # a neighbour keeps one CPU busy
    assert lamina._runtime._effective_num_threads() == 1
    assert lamina.get_num_threads() == 2  # the configured count, as torch.get_num_threads
    _C._set_thread_governor_load(0.0)  # it stopped: back after two calm windows
    assert [lamina._runtime._effective_num_threads() for _ in range(2)] == [1, 2]


def test_disabled_governor_ignores_the_load(governor):
    lamina.set_num_threads(2)
    _C._set_thread_governor(False)
    _C._set_thread_governor_load(2.0)
    assert lamina._runtime._effective_num_threads() == 2
    _C._set_thread_governor(True)
    assert lamina._runtime._effective_num_threads() == 1


def test_one_configured_thread_stays_one(governor):
    lamina.set_num_threads(1)
    _C._set_thread_governor_load(0.0)
    assert lamina._runtime._effective_num_threads() == 1


def _conv_weight_grad(x, w):
    xl, wl = lamina.from_numpy(x), lamina.from_numpy(w.copy()).requires_grad_()
    F.conv2d(xl, wl, padding=1).sum().backward()
    return wl.grad.numpy().copy()


def test_governed_run_gives_the_same_bits(governor):
    # The im2col conv weight grad whose per-chunk partials would not fit in 4M elements (57 chunks
    # of 2 images x a 8x9216 weight) adds per-thread sums (1 and 2 threads differ in the last bits
    # here); under the governor one thread runs both threads' chunk runs in turn, so the sums, and
    # the bits, are those of 2 threads.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((114, 1024, 10, 10)).astype(np.float32)
    w = rng.standard_normal((8, 1024, 3, 3)).astype(np.float32)
    lamina.set_num_threads(2)
    _C._set_thread_governor(False)
    want = _conv_weight_grad(x, w)
    # and the CIFAR-sized ops, through every kind of region (direct conv, pooling, gemm, SGD)
    xc = rng.standard_normal((32, 3, 32, 32)).astype(np.float32)
    wc = rng.standard_normal((32, 3, 3, 3)).astype(np.float32)

    def cifar():
        xl = lamina.from_numpy(xc).requires_grad_()
        wl = lamina.from_numpy(wc.copy()).requires_grad_()
        y = F.max_pool2d(F.relu(F.conv2d(xl, wl, padding=1)), 2).flatten(1)
        h = y @ lamina.from_numpy(np.ascontiguousarray(rng_w[: y.shape[1]]))
        h.sum().backward()
        return [t.detach().numpy().copy() for t in (y, h, xl.grad, wl.grad)]

    rng_w = np.random.default_rng(1).standard_normal((8192, 128)).astype(np.float32)
    want_c = cifar()
    _C._set_thread_governor(True)
    _C._set_thread_governor_load(1.0)
    assert lamina._runtime._effective_num_threads() == 1
    np.testing.assert_array_equal(_conv_weight_grad(x, w), want)
    for a, b in zip(cifar(), want_c):
        np.testing.assert_array_equal(a, b)


def _python_env():
    here = os.path.dirname(os.path.dirname(lamina.__file__))
    env = {k: v for k, v in os.environ.items() if k not in ("LAMINA_THREAD_GOVERNOR", "OMP_NUM_THREADS",
                                                            "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["PYTHONPATH"] = os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])
    return env


def _run(code, **env_over):
    env = dict(_python_env(), **env_over)
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip()


@pytest.mark.parametrize("value,on", [(None, True), ("1", True), ("0", False), ("off", False), ("false", False)])
def test_env_switch(value, on):
    env = {} if value is None else {"LAMINA_THREAD_GOVERNOR": value}
    out = _run("import lamina; from lamina import _C, _threads; "
               "print(_C._thread_governor_enabled(), _threads.spin_count())", **env)
    assert out.split() == [str(on), _threads.GOVERNED_SPIN_COUNT if on else _threads.SPIN_COUNT]


@pytest.mark.skipif(not (hasattr(os, "sched_setaffinity") and os.path.exists("/proc/stat")),
                    reason="needs Linux affinity and /proc/stat")
def test_real_busy_neighbour_on_our_cpu_lowers_the_count():
    # This process and a spinning neighbour share one CPU; lamina asked for 2 threads. Other load on
    # the machine can only add to the neighbour's, so this holds on a busy machine too. The
    # polling loop sleeps between calls, leaving the CPU to the neighbour.
    cpu = min(os.sched_getaffinity(0))
    out = _run(f"""
        import os, subprocess, sys, time
        os.sched_setaffinity(0, {{{cpu}}})
        import lamina
        from lamina import _runtime
        lamina.set_num_threads(2)
        first = _runtime._effective_num_threads()
        spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            seen, t0 = [], time.monotonic()
            while time.monotonic() - t0 < 5 and (not seen or seen[-1] != 1):
                time.sleep(0.02)
                seen.append(_runtime._effective_num_threads())
        finally:
            spin.kill()
            spin.wait()
        print(first, seen[-1], lamina.get_num_threads(), round(time.monotonic() - t0, 2))
    """)
    first, last, configured, _secs = out.split()
    assert (first, last, configured) == ("2", "1", "2"), out
