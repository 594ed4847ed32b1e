"""The CUDA path: host <-> device round trips, strided and converting copies, add, matmul and
device-mismatch errors against numpy (run only where a CUDA device is present), plus the error a
CPU-only build or a device-less CUDA build gives for `.to("cuda")` (runs everywhere).
"""
import numpy as np
import pytest

import lamina
from lamina import _C

W = lamina.Tensor._wrap
HAS_CUDA = lamina.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device (or a CPU-only build)")

DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}
LDT = {"float32": lamina.float32, "float64": lamina.float64, "int64": lamina.int64, "bool": lamina.bool_}


def _arr(shape, name, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) * 4
    return (a > 0) if name == "bool" else a.astype(DTYPES[name])


def _cuda(a: np.ndarray):
    return lamina.from_numpy(np.ascontiguousarray(a)).to("cuda")


def _host(t) -> np.ndarray:
    return np.asarray(t.cpu().numpy())


# ---- everywhere: the error without a usable device ------------------------------------------

@pytest.mark.skipif(HAS_CUDA, reason="a CUDA device is present")
def test_to_cuda_without_device_says_why():
    # CPU-only build: how to build with CUDA. CUDA build without a GPU/driver: no device present.
    with pytest.raises(RuntimeError, match=r"LAMINA_CUDA=ON|no CUDA device"):
        lamina.zeros(2).to("cuda")
    with pytest.raises(RuntimeError, match=r"LAMINA_CUDA=ON|no CUDA device"):
        lamina.zeros(0).cuda()


def test_cuda_flags_are_consistent():
    assert isinstance(lamina.cuda.is_built(), bool)
    assert (lamina.cuda.device_count() > 0) == HAS_CUDA
    if not lamina.cuda.is_built():
        assert not HAS_CUDA
    lamina.cuda.synchronize()  # a no-op without a device, never an error


# ---- with a device ---------------------------------------------------------------------------

@needs_cuda
@pytest.mark.parametrize("name", list(DTYPES))
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (2, 3, 4), (0, 3)])
def test_round_trip(name, shape):
    a = _arr(shape, name)
    t = _cuda(a)
    assert t.device.startswith("cuda") and t.is_cuda and t.dtype is LDT[name]
    assert tuple(t.shape) == shape
    back = _host(t)
    assert back.dtype == a.dtype
    np.testing.assert_array_equal(back, a)


@needs_cuda
def test_non_contiguous_host_to_device_and_back():
    a = _arr((6, 8), "float32")
    t = lamina.from_numpy(a).t()[1:, ::3]            # non-contiguous CPU view
    d = t.to("cuda")
    np.testing.assert_array_equal(_host(d), a.T[1:, ::3])


@needs_cuda
@pytest.mark.parametrize("name", list(DTYPES))
def test_non_contiguous_device_views(name):
    a = _arr((4, 5, 6), name, seed=1)
    d = _cuda(a)
    for view, ref in [(d.transpose(0, 2), a.transpose(2, 1, 0)), (d[:, ::2, 1:], a[:, ::2, 1:]),
                      (d.permute(1, 0, 2), a.transpose(1, 0, 2))]:
        assert not view.is_contiguous()
        np.testing.assert_array_equal(_host(view), ref)           # device -> host of a view
        c = view.contiguous()                                     # device -> device strided copy
        assert c.is_contiguous() and c.is_cuda
        np.testing.assert_array_equal(_host(c), ref)


@needs_cuda
@pytest.mark.parametrize("src", list(DTYPES))
@pytest.mark.parametrize("dst", list(DTYPES))
def test_dtype_conversion_on_device(src, dst):
    a = _arr((3, 7), src, seed=2)
    d = _cuda(a).t()                                  # strided source too
    out = d.to(LDT[dst])
    assert out.is_cuda and out.dtype is LDT[dst]
    ref = (a.T != 0) if dst == "bool" else a.T.astype(DTYPES[dst])
    np.testing.assert_array_equal(_host(out), ref)


@needs_cuda
@pytest.mark.parametrize("name", ["float32", "float64", "int64"])
@pytest.mark.parametrize("sa,sb", [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 1, 5), (3, 1)),
                                   ((), (2, 3)), ((1,), (5,)), ((0, 4), (4,))])
def test_add_broadcasting_vs_numpy(name, sa, sb):
    a, b = _arr(sa, name, seed=3), _arr(sb, name, seed=4)
    alpha = 2.0 if name == "int64" else 0.5
    out = W(_C.add_forward(_cuda(a)._c, _cuda(b)._c, alpha))
    assert out.is_cuda
    ref = a + np.asarray(alpha, dtype=a.dtype) * b
    got = _host(out)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


@needs_cuda
def test_add_non_contiguous_and_promoting():
    a = _arr((5, 6), "float32", seed=5)
    b = _arr((6, 5), "float64", seed=6)
    out = W(_C.add_forward(_cuda(a)[:, 1:]._c, _cuda(b).t()[:, 1:]._c, -1.0))
    assert out.dtype is lamina.float64
    np.testing.assert_allclose(_host(out), a[:, 1:].astype(np.float64) - b.T[:, 1:], rtol=1e-12)


@needs_cuda
@pytest.mark.parametrize("name,tol", [("float32", 1e-4), ("float64", 1e-12)])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("M,K,N", [(1, 1, 1), (3, 5, 7), (17, 1, 4), (1, 9, 1), (33, 64, 20)])
def test_matmul_vs_numpy(name, tol, ta, tb, M, K, N):
    a = _arr((K, M) if ta else (M, K), name, seed=7)
    b = _arr((N, K) if tb else (K, N), name, seed=8)
    da, db = _cuda(a), _cuda(b)
    if ta:
        da, a = da.t(), a.T
    if tb:
        db, b = db.t(), b.T
    out = da @ db
    assert out.is_cuda and tuple(out.shape) == (M, N)
    np.testing.assert_allclose(_host(out), a @ b, rtol=tol, atol=tol * K)


@needs_cuda
@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((2, 3, 4), (4, 5)),
                                   ((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 5)), ((3, 0), (0, 2))])
def test_matmul_shapes_vs_numpy(sa, sb):
    a, b = _arr(sa, "float64", seed=9), _arr(sb, "float64", seed=10)
    out = _cuda(a) @ _cuda(b)
    np.testing.assert_allclose(_host(out), a @ b, rtol=1e-12, atol=1e-12)


@needs_cuda
def test_matmul_non_blas_layout_is_copied():
    a = _arr((6, 10), "float32", seed=11)
    b = _arr((10, 4), "float32", seed=12)
    out = _cuda(a)[:, ::2] @ _cuda(b)[::2]            # neither row- nor column-major
    np.testing.assert_allclose(_host(out), a[:, ::2] @ b[::2], rtol=1e-5, atol=1e-5)


@needs_cuda
def test_device_mismatch_errors_name_both_devices():
    c = _cuda(_arr((2, 3), "float32"))
    h = lamina.from_numpy(_arr((2, 3), "float32"))
    with pytest.raises(RuntimeError, match=r"cuda:0.*cpu|cpu.*cuda:0"):
        _C.add_forward(c._c, h._c, 1.0)
    with pytest.raises(RuntimeError, match=r"cuda:0.*cpu|cpu.*cuda:0"):
        _C.add_forward(h._c, c._c, 1.0)
    with pytest.raises(RuntimeError, match=r"cuda:0.*cpu|cpu.*cuda:0"):
        c @ h.t()


@needs_cuda
def test_missing_device_index_is_a_runtime_error():
    n = lamina.cuda.device_count()
    with pytest.raises(RuntimeError, match=f"cuda:{n}"):
        lamina.zeros(2).to(f"cuda:{n}")
