"""Thread control: set_num_threads/get_num_threads round trip (OpenMP and OpenBLAS together), bad
values raise, and kernels give the same answers with 1 and 2 threads.
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
