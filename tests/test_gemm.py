"""SGEMM/DGEMM through lamina (``@`` and lamina.matmul) against numpy on awkward shapes: vectors,
1xN / Nx1, tall-skinny, transposed and sliced operands (no copy needed), batched with broadcasting,
K = 0, and the dtype / shape errors.
"""
import numpy as np
import pytest

import lamina

RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def check(a, b, via="op", tol=None):
    ta, tb = lamina.from_numpy(a), lamina.from_numpy(b)
    out = ta @ tb if via == "op" else lamina.matmul(ta, tb)
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert out.shape == ref.shape
    assert out.dtype._np == a.dtype
    k = a.shape[-1]
    rtol, atol = tol or ((1e-5, 1e-5 * max(k, 1) ** 0.5) if a.dtype == np.float32 else (1e-12, 1e-12))
    np.testing.assert_allclose(out.numpy(), ref, rtol=rtol, atol=atol)
    return out


SHAPES = [
    ((1, 1), (1, 1)), ((1, 7), (7, 1)), ((7, 1), (1, 5)), ((1, 33), (33, 17)), ((17, 33), (33, 1)),
    ((3, 1000), (1000, 7)), ((64, 64), (64, 64)), ((65, 31), (31, 129)), ((2, 3), (3, 2)),
]


@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}x{b}" for a, b in SHAPES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_2d(sa, sb, dtype):
    check(rand(*sa, dtype=dtype), rand(*sb, dtype=dtype))
    check(rand(*sa, dtype=dtype), rand(*sb, dtype=dtype), via="fn")


@pytest.mark.parametrize("m,k,n", [(5, 7, 3), (1, 9, 4), (6, 1, 2), (40, 30, 20)])
def test_transposed_operands(m, k, n):
    a, b = rand(m, k), rand(k, n)
    at, bt = rand(k, m), rand(n, k)
    ta, tb, tat, tbt = (lamina.from_numpy(x) for x in (a, b, at, bt))
    np.testing.assert_allclose((tat.T @ tb).numpy(), at.T @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose((ta @ tbt.T).numpy(), a @ bt.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose((tat.t() @ tbt.t()).numpy(), at.T @ bt.T, rtol=1e-5, atol=1e-5)
    # the transposed views are handed to BLAS as is: the inputs are untouched and not copied
    assert tat.T.data_ptr() == tat.data_ptr()


def test_sliced_and_strided_operands():
    big_a, big_b = rand(20, 30), rand(30, 40)
    a, b = big_a[2:9, 5:17], big_b[5:17, 3:40:3]       # row-stride > cols; b has a column step
    check(a, b)
    np.testing.assert_allclose((lamina.from_numpy(big_a)[2:9, 5:17] @ lamina.from_numpy(big_b)[5:17, 3:40:3]).numpy(),
                               a @ b, rtol=1e-5, atol=1e-5)
    e = lamina.from_numpy(rand(1, 6)).expand(4, 6)     # stride-0 rows
    w = rand(6, 3)
    np.testing.assert_allclose((e @ lamina.from_numpy(w)).numpy(), np.broadcast_to(e.numpy(), (4, 6)) @ w,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sa,sb", [
    ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)),
    ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 3, 4), (6, 4, 2)), ((6, 1, 4), (1, 4, 3)), ((0, 3, 4), (4, 2)), ((2, 3, 4), (1, 4, 1)),
], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vectors_and_batched_broadcasting(sa, sb, dtype):
    check(rand(*sa, dtype=dtype), rand(*sb, dtype=dtype))


def test_batched_noncontiguous():
    a = rand(4, 3, 2).transpose(1, 0, 2)   # [3, 4, 2] non-contiguous batch
    b = rand(3, 5, 2).transpose(0, 2, 1)   # [3, 2, 5] transposed matrices
    check(a, b)
    check(a, b[0])


@pytest.mark.parametrize("sa,sb", [((3, 0), (0, 4)), ((2, 3, 0), (0, 5)), ((0,), (0,)), ((3, 4), (4, 0)),
                                   ((0, 4), (4, 2))])
def test_empty_dims(sa, sb):
    out = check(rand(*sa), rand(*sb))
    if sa[-1] == 0:
        assert (out.numpy() == 0).all()  # K = 0: a sum over nothing


def test_k0_into_dirty_memory_is_zero():
    # the output comes from uninitialised memory, so K = 0 must write zeros, not leave garbage
    for _ in range(3):
        lamina.full((50, 50), 7.0)
        out = lamina.zeros(50, 0) @ lamina.zeros(0, 50)
        assert (out.numpy() == 0).all()


def test_large_tall_skinny():
    check(rand(2000, 3), rand(3, 2))
    check(rand(6, 25), rand(25, 3000))


def test_dtype_mismatch_raises_type_error():
    with pytest.raises(TypeError, match="matmul: expected two floating-point tensors of the same dtype, got float32 and float64"):
        lamina.ones(2, 3) @ lamina.ones(3, 2, dtype=lamina.float64)
    with pytest.raises(TypeError, match="got int64 and int64"):
        lamina.ones(2, 3, dtype=lamina.int64) @ lamina.ones(3, 2, dtype=lamina.int64)
    with pytest.raises(TypeError, match="expected two Tensors, got Tensor and ndarray"):
        lamina.matmul(lamina.ones(2, 2), np.ones((2, 2)))


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((5, 2, 3), (5, 4, 2))])
def test_inner_dim_mismatch_names_both_shapes(sa, sb):
    msg = r"matmul: shapes \[{}\] and \[{}\] cannot be multiplied".format(
        ", ".join(map(str, sa)), ", ".join(map(str, sb)))
    with pytest.raises(ValueError, match=msg):
        lamina.zeros(*sa) @ lamina.zeros(*sb)


def test_batch_mismatch_and_0d_raise_value_error():
    with pytest.raises(ValueError, match=r"matmul \(batch dimensions\): shapes \[2\] and \[3\] cannot be broadcast"):
        lamina.zeros(2, 3, 4) @ lamina.zeros(3, 4, 5)
    with pytest.raises(ValueError, match=r"at least 1 dimension, got shapes \[\] and \[3\]"):
        lamina.tensor(1.0) @ lamina.zeros(3)
