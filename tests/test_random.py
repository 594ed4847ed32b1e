"""Seeded randomness: manual_seed reproduces, different seeds differ, get/set_rng_state replays,
distributions are sane, and results do not depend on the thread count (counter-based Philox).
"""
import numpy as np
import pytest

import lamina


def draw():
    return (lamina.rand(1000).numpy().copy(), lamina.randn(3, 7).numpy().copy(),
            lamina.randint(0, 100, (50,)).numpy().copy(), lamina.randperm(20).numpy().copy())


def test_manual_seed_reproduces():
    lamina.manual_seed(123)
    a = draw()
    lamina.manual_seed(123)
    b = draw()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_different_seeds_differ():
    lamina.manual_seed(1)
    a = lamina.rand(100).numpy().copy()
    lamina.manual_seed(2)
    b = lamina.rand(100).numpy().copy()
    assert not np.array_equal(a, b)
    # consecutive calls continue the stream instead of repeating it
    lamina.manual_seed(1)
    lamina.rand(100)
    c = lamina.rand(100).numpy()
    assert not np.array_equal(a, c)


def test_rng_state_replays():
    lamina.manual_seed(7)
    lamina.randn(10)
    state = lamina.get_rng_state()
    assert isinstance(state, tuple) and len(state) == 2
    a = draw()
    lamina.randn(55)  # move on
    lamina.set_rng_state(state)
    b = draw()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_seed_returns_used_seed():
    s = lamina.seed()
    a = lamina.rand(10).numpy().copy()
    lamina.manual_seed(s)
    np.testing.assert_array_equal(lamina.rand(10).numpy(), a)


def test_large_and_negative_seeds_accepted():
    lamina.manual_seed(2**64 - 1)
    a = lamina.rand(5).numpy().copy()
    lamina.manual_seed(-1)  # wraps like PyTorch's 64-bit seed
    np.testing.assert_array_equal(lamina.rand(5).numpy(), a)


@pytest.mark.parametrize("dt", [lamina.float32, lamina.float64])
def test_rand_in_unit_interval(dt):
    x = lamina.rand(100_000, dtype=dt).numpy()
    assert x.dtype == dt._np
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.std() - np.sqrt(1 / 12)) < 0.01
    hist = np.histogram(x, bins=10, range=(0, 1))[0]
    assert hist.min() > 9_000 and hist.max() < 11_000


def test_rand_float32_never_rounds_up_to_one():
    # Regression: the double in [0, 1) for counter 38471471 of seed 0 is 0.9999999955, which rounded
    # to 1.0f; rand must stay in [0, 1) after the cast to float32.
    lamina.set_rng_state((0, 38471471))
    assert lamina.rand(1, dtype=lamina.float64).item() > 1 - 2**-25  # the culprit value is there
    lamina.set_rng_state((0, 38471471))
    v = lamina.rand(1).numpy()[0]
    assert v < 1.0 and v == np.nextafter(np.float32(1), np.float32(0))
    lamina.set_rng_state((0, 38471471))
    u = lamina.empty(1).uniform_(-2.0, 3.0).numpy()[0]
    assert u < 3.0


@pytest.mark.parametrize("dt", [lamina.float32, lamina.float64])
def test_randn_moments(dt):
    x = lamina.randn(100_000, dtype=dt).numpy().astype(np.float64)
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02
    assert abs(((x - x.mean()) ** 3).mean()) < 0.05  # symmetric
    assert 0.68 - 0.01 < (np.abs(x) < 1).mean() < 0.68 + 0.01
    assert np.isfinite(x).all()


def test_uniform_normal_inplace_ranges():
    u = lamina.empty(10_000).uniform_(-3.0, -1.0).numpy()
    assert u.min() >= -3 and u.max() < -1 and abs(u.mean() + 2) < 0.05
    n = lamina.empty(20_000, dtype=lamina.float64).normal_(5.0, 0.5).numpy()
    assert abs(n.mean() - 5) < 0.02 and abs(n.std() - 0.5) < 0.02


def test_randint_range_and_coverage():
    x = lamina.randint(-3, 4, (10_000,)).numpy()
    assert x.dtype == np.int64 and x.min() == -3 and x.max() == 3
    counts = np.bincount(x + 3)
    assert counts.min() > 1200
    y = lamina.randint(5, (2, 3))
    assert y.shape == (2, 3) and y.dtype is lamina.int64 and (y.numpy() < 5).all() and (y.numpy() >= 0).all()
    with pytest.raises(ValueError, match="expects low < high, got low=3, high=3"):
        lamina.randint(3, 3, (2,))
    with pytest.raises(TypeError, match="needs a size"):
        lamina.randint(5)


def test_randperm_is_permutation():
    p = lamina.randperm(100).numpy()
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(100))
    assert not np.array_equal(p, np.arange(100))


def test_random_fills_of_noncontiguous_views():
    lamina.manual_seed(3)
    ref = lamina.rand(4, 3).numpy().copy()
    lamina.manual_seed(3)
    t = lamina.zeros(3, 4)
    t.t().uniform_(0.0, 1.0)  # logical order of the view, not memory order
    np.testing.assert_array_equal(t.t().numpy(), ref)


def test_random_on_int_tensor_raises():
    with pytest.raises(TypeError, match="uniform_: expected a floating-point tensor, got int64"):
        lamina.rand(3, dtype=lamina.int64)
    with pytest.raises(TypeError, match="normal_: expected a floating-point tensor, got bool"):
        lamina.randn(3, dtype=lamina.bool)
    with pytest.raises(ValueError, match="std >= 0"):
        lamina.empty(3).normal_(0.0, -1.0)
    with pytest.raises(ValueError, match="low <= high"):
        lamina.empty(3).uniform_(1.0, 0.0)


@pytest.mark.parametrize("n", [10, 300_000])  # below and above the parallel grain size
def test_same_results_with_1_and_2_threads(n):
    old = lamina.get_num_threads()
    try:
        out = []
        for threads in (1, 2):
            lamina.set_num_threads(threads)
            lamina.manual_seed(99)
            out.append((lamina.rand(n).numpy().copy(), lamina.randn(n, dtype=lamina.float64).numpy().copy(),
                        lamina.randint(0, 1000, (n,)).numpy().copy()))
        for x, y in zip(*out):
            np.testing.assert_array_equal(x, y)
    finally:
        lamina.set_num_threads(old)


# Draws float32 rand / uniform_ / randn at fixed (seed, offset) states under one CPU level and saves
# them; argv: the .npz to write, then (seed, offset, n) triples.
_FILLS = r"""
import sys
import numpy as np
import lamina
out = {"capability": np.array(lamina.backends.cpu.get_cpu_capability())}
args = [int(a) for a in sys.argv[2:]]
for j in range(0, len(args), 3):
    seed, offset, n = args[j:j + 3]
    for name, draw in (("rand", lambda: lamina.rand(n)), ("uniform", lambda: lamina.empty(n).uniform_(-2.0, 3.0)),
                       ("randn", lambda: lamina.randn(n))):
        lamina.set_rng_state((seed, offset))
        out[f"{name}{j}"] = draw().numpy()
np.savez(sys.argv[1], **out)
"""


@pytest.mark.parametrize("level", ["default", "avx2", "avx512"])
def test_float32_fills_match_numpy_philox(level, tmp_path):
    # The float32 fills (cpp/ops/random_kernels.cpp: vector Philox lanes, then the arithmetic) at
    # every CPU level against an independent numpy Philox: rand bit for bit (element i = word 0 of
    # counter offset + i, top 24 bits), uniform_ within an ulp, randn against Box-Muller in float64
    # (pair k = words 0, 1 of counter offset + k). Odd lengths, several 512-counter blocks, chunks
    # of two threads, and a counter whose low word wraps inside the op.
    import os
    import subprocess
    import sys

    from lamina.backends import cpu
    from helpers import philox_words

    if level not in [c.lower() for c in cpu.built_capabilities()]:
        pytest.skip(f"this build does not hold {level!r}")
    if level not in [c.lower() for c in cpu.get_supported_capabilities()]:
        pytest.skip(f"this CPU does not run {level!r}")
    cases = [(0x1234_5678_9ABC_DEF0, 3, 4099), (7, 2**32 - 13, 1031), (0, 0, 70_001)]
    env = dict(os.environ, LAMINA_CPU_CAPABILITY=level)
    p = subprocess.run([sys.executable, "-c", _FILLS, str(tmp_path / "f.npz"), *[str(v) for c in cases for v in c]],
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    got = np.load(tmp_path / "f.npz")
    assert str(got["capability"]) == level.upper()
    for j, (seed, offset, n) in enumerate(cases):
        w0, w1 = philox_words(seed, offset, n)
        u = (w0 >> np.uint64(8)).astype(np.float64) * 2.0 ** -24
        np.testing.assert_array_equal(got[f"rand{3 * j}"], u.astype(np.float32), err_msg=f"rand {seed, offset, n}")
        uni = got[f"uniform{3 * j}"]
        assert uni.min() >= -2 and uni.max() < 3
        np.testing.assert_allclose(uni, -2.0 + 5.0 * u, rtol=0, atol=5e-7, err_msg=f"uniform_ {seed, offset, n}")
        k = (n + 1) // 2  # pairs: counters offset .. offset + k - 1
        u1 = ((w0[:k] >> np.uint64(8)).astype(np.float64) + 1) * 2.0 ** -24
        u2 = (w1[:k] >> np.uint64(8)).astype(np.float64) * 2.0 ** -24
        rad, th = np.sqrt(-2 * np.log(u1)), 2 * np.pi * u2
        ref = np.stack([rad * np.cos(th), rad * np.sin(th)], axis=1).reshape(-1)[:n]
        np.testing.assert_allclose(got[f"randn{3 * j}"], ref, rtol=2e-5, atol=2e-5, err_msg=f"randn {seed, offset, n}")
