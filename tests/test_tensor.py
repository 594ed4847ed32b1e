"""Tensor creation: lamina.tensor / zeros / ones / full / arange / empty / eye / linspace / *_like,
dtype inference (float32 default, ints -> int64, numpy float64 stays float64, bools) and device=.
"""
import numpy as np
import pytest

import lamina

ALL = [lamina.float32, lamina.float64, lamina.int64, lamina.bool]


def arr(t):
    return t.numpy()


# ---- lamina.tensor and dtype inference ------------------------------------------------------

def test_tensor_from_python_floats_is_float32():
    t = lamina.tensor([[1.5, 2.0], [3.0, -4.25]])
    assert t.dtype is lamina.float32
    assert t.shape == (2, 2)
    np.testing.assert_array_equal(arr(t), np.array([[1.5, 2.0], [3.0, -4.25]], np.float32))


def test_tensor_from_python_ints_is_int64():
    t = lamina.tensor([1, -2, 3])
    assert t.dtype is lamina.int64
    assert arr(t).dtype == np.int64
    np.testing.assert_array_equal(arr(t), [1, -2, 3])


def test_tensor_from_python_bools_is_bool():
    t = lamina.tensor([True, False, True])
    assert t.dtype is lamina.bool
    np.testing.assert_array_equal(arr(t), [True, False, True])


def test_tensor_mixed_int_float_is_float32():
    t = lamina.tensor([1, 2.5])
    assert t.dtype is lamina.float32
    np.testing.assert_array_equal(arr(t), np.array([1, 2.5], np.float32))


def test_tensor_scalar_is_0d():
    t = lamina.tensor(3.5)
    assert t.shape == () and t.ndim == 0 and t.numel() == 1
    assert t.item() == 3.5
    assert lamina.tensor(7).item() == 7 and lamina.tensor(7).dtype is lamina.int64


def test_tensor_from_numpy_float64_stays_float64():
    a = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
    t = lamina.tensor(a)
    assert t.dtype is lamina.float64
    np.testing.assert_array_equal(arr(t), a)


@pytest.mark.parametrize("npdt,expect", [(np.float32, lamina.float32), (np.int64, lamina.int64),
                                         (np.int32, lamina.int64), (np.uint8, lamina.int64),
                                         (np.bool_, lamina.bool)])
def test_tensor_from_numpy_dtypes(npdt, expect):
    a = (np.arange(6) % 3).astype(npdt)
    t = lamina.tensor(a)
    assert t.dtype is expect
    np.testing.assert_array_equal(arr(t), a.astype(expect._np))


def test_tensor_copies_its_input():
    a = np.ones(4, np.float32)
    t = lamina.tensor(a)
    a[0] = 5
    assert arr(t)[0] == 1.0
    t2 = lamina.tensor(t)
    arr(t)[1] = 9
    assert arr(t2)[1] == 1.0


@pytest.mark.parametrize("dt", ALL)
def test_tensor_explicit_dtype(dt):
    t = lamina.tensor([0, 1, 2], dtype=dt)
    assert t.dtype is dt
    np.testing.assert_array_equal(arr(t), np.array([0, 1, 2]).astype(dt._np))


def test_tensor_dtype_aliases_and_names():
    assert lamina.tensor([1], dtype="float64").dtype is lamina.float64
    assert lamina.tensor([1], dtype=float).dtype is lamina.float32
    assert lamina.tensor([1.0], dtype=int).dtype is lamina.int64
    assert lamina.tensor([1], dtype=np.float64).dtype is lamina.float64
    assert lamina.double is lamina.float64 and lamina.long is lamina.int64
    assert repr(lamina.float32) == "lamina.float32"


def test_tensor_requires_grad_only_for_floats():
    assert lamina.tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="floating-point"):
        lamina.tensor([1, 2], requires_grad=True)


def test_tensor_ragged_list_raises():
    with pytest.raises((ValueError, TypeError)):
        lamina.tensor([[1.0, 2.0], [3.0]])


def test_tensor_unknown_dtype_raises():
    with pytest.raises(TypeError, match="unknown dtype"):
        lamina.tensor([1.0], dtype="float16")
    with pytest.raises(TypeError, match="not supported"):
        lamina.tensor([1.0], dtype=np.float16)


def test_default_dtype_switch():
    try:
        lamina.set_default_dtype(lamina.float64)
        assert lamina.tensor([1.5]).dtype is lamina.float64
        assert lamina.zeros(2).dtype is lamina.float64
        with pytest.raises(TypeError, match="floating-point"):
            lamina.set_default_dtype(lamina.int64)
    finally:
        lamina.set_default_dtype(lamina.float32)
    assert lamina.zeros(2).dtype is lamina.float32


# ---- zeros / ones / full / empty --------------------------------------------------------------

@pytest.mark.parametrize("dt", ALL)
def test_zeros_ones_dtypes(dt):
    z, o = lamina.zeros(2, 3, dtype=dt), lamina.ones((2, 3), dtype=dt)
    assert z.dtype is dt and o.dtype is dt and z.shape == (2, 3) and o.shape == (2, 3)
    np.testing.assert_array_equal(arr(z), np.zeros((2, 3), dt._np))
    np.testing.assert_array_equal(arr(o), np.ones((2, 3), dt._np))


def test_zeros_default_float32_and_shapes():
    assert lamina.zeros(3).dtype is lamina.float32
    assert lamina.zeros([2, 1, 4]).shape == (2, 1, 4)
    assert lamina.zeros(()).shape == () and arr(lamina.ones(())) == 1.0
    e = lamina.zeros(0, 5)
    assert e.shape == (0, 5) and e.numel() == 0 and arr(e).shape == (0, 5)


def test_zeros_negative_size_raises():
    with pytest.raises(ValueError, match=r"negative dimension.*\(2, -1\)"):
        lamina.zeros(2, -1)
    with pytest.raises(TypeError, match="sequence of ints"):
        lamina.zeros(2.5)


def test_full_infers_dtype_from_value():
    f = lamina.full((2, 2), 1.5)
    assert f.dtype is lamina.float32
    np.testing.assert_array_equal(arr(f), np.full((2, 2), 1.5, np.float32))
    i = lamina.full((3,), 7)
    assert i.dtype is lamina.int64
    np.testing.assert_array_equal(arr(i), [7, 7, 7])
    b = lamina.full((2,), True)
    assert b.dtype is lamina.bool
    np.testing.assert_array_equal(arr(b), [True, True])
    d = lamina.full(3, 2, dtype=lamina.float64)
    assert d.dtype is lamina.float64 and arr(d).tolist() == [2.0, 2.0, 2.0]


def test_empty_has_shape_and_dtype():
    e = lamina.empty(4, 5, dtype=lamina.int64)
    assert e.shape == (4, 5) and e.dtype is lamina.int64 and e.is_contiguous()
    assert e.stride() == (5, 1)
    assert e.data_ptr() % 64 == 0  # 64-byte aligned storage


@pytest.mark.parametrize("fn,val", [(lamina.zeros_like, 0), (lamina.ones_like, 1),
                                    (lamina.empty_like, None),
                                    (lambda t, **k: lamina.full_like(t, 3, **k), 3)])
def test_like_functions(fn, val):
    src = lamina.randn(3, 4, dtype=lamina.float64)
    t = fn(src)
    assert t.shape == (3, 4) and t.dtype is lamina.float64 and t.device == "cpu"
    if val is not None:
        np.testing.assert_array_equal(arr(t), np.full((3, 4), val, np.float64))
    t2 = fn(src, dtype=lamina.int64)
    assert t2.dtype is lamina.int64 and t2.shape == (3, 4)
    assert t.data_ptr() != src.data_ptr()


def test_rand_like_randn_like():
    src = lamina.zeros(50, 40, dtype=lamina.float64)
    r, n = lamina.rand_like(src), lamina.randn_like(src)
    assert r.shape == n.shape == (50, 40) and r.dtype is n.dtype is lamina.float64
    assert 0 <= arr(r).min() and arr(r).max() < 1 and arr(n).std() > 0.5
    assert lamina.rand_like(src, dtype=lamina.float32).dtype is lamina.float32


# ---- arange / linspace / eye ------------------------------------------------------------------

@pytest.mark.parametrize("args", [(5,), (2, 9), (2, 9, 3), (10, 0, -3), (0, 0), (5, 2)])
def test_arange_ints(args):
    if args == (5, 2):  # an empty range in the wrong direction is an error, as in PyTorch
        with pytest.raises(ValueError, match="inconsistent with step sign"):
            lamina.arange(*args)
        return
    t = lamina.arange(*args)
    assert t.dtype is lamina.int64
    np.testing.assert_array_equal(arr(t), np.arange(*args))


@pytest.mark.parametrize("args", [(0, 1, 0.1), (0.5, 3), (-1.0, 1.0, 0.25), (0, 0.3, 0.1)])
def test_arange_floats(args):
    t = lamina.arange(*args)
    assert t.dtype is lamina.float32
    ref = np.arange(*args)
    assert t.shape == ref.shape
    np.testing.assert_allclose(arr(t), ref, rtol=1e-6, atol=1e-7)


def test_arange_dtype_and_errors():
    t = lamina.arange(4, dtype=lamina.float64)
    assert t.dtype is lamina.float64 and arr(t).tolist() == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="step must be nonzero"):
        lamina.arange(0, 3, 0)


def test_linspace_and_eye():
    t = lamina.linspace(-1, 1, 5)
    assert t.dtype is lamina.float32
    np.testing.assert_allclose(arr(t), np.linspace(-1, 1, 5), rtol=0, atol=1e-7)
    assert lamina.linspace(0, 1, 0).shape == (0,)
    assert lamina.linspace(0, 1, 3, dtype=lamina.float64).dtype is lamina.float64
    with pytest.raises(ValueError, match="non-negative"):
        lamina.linspace(0, 1, -1)
    e = lamina.eye(3)
    assert e.dtype is lamina.float32
    np.testing.assert_array_equal(arr(e), np.eye(3))
    np.testing.assert_array_equal(arr(lamina.eye(2, 4, dtype=lamina.int64)), np.eye(2, 4, dtype=np.int64))


# ---- device= and dtype conversion ---------------------------------------------------------------

def test_device_cpu_explicit():
    for t in (lamina.zeros(2, device="cpu"), lamina.ones(2, device="cpu"), lamina.tensor([1.0], device="cpu"),
              lamina.arange(3, device="cpu"), lamina.rand(2, device="cpu"), lamina.eye(2, device="cpu")):
        assert t.device == "cpu" and not t.is_cuda


@pytest.mark.skipif(lamina.cuda.is_available(), reason="checks the no-CUDA error path")
@pytest.mark.parametrize("make", [lambda: lamina.zeros(2, device="cuda"),
                                  lambda: lamina.tensor([1.0], device="cuda"),
                                  lambda: lamina.arange(3, device="cuda"),
                                  lambda: lamina.zeros(2).to("cuda"),
                                  lambda: lamina.zeros(2).cuda()])
def test_cuda_without_cuda_raises_runtime_error(make):
    with pytest.raises(RuntimeError, match="CUDA"):
        make()


def test_bad_device_string_raises():
    with pytest.raises(ValueError, match="invalid device 'gpu'"):
        lamina.zeros(2, device="gpu")


@pytest.mark.parametrize("src", ALL)
@pytest.mark.parametrize("dst", ALL)
def test_to_dtype_converts_values(src, dst):
    a = np.array([0, 1, 2, 0, 5])
    t = lamina.tensor(a, dtype=src).to(dst)
    assert t.dtype is dst
    np.testing.assert_array_equal(arr(t), a.astype(src._np).astype(dst._np))


def test_to_same_dtype_is_same_object_and_conversions():
    t = lamina.ones(3)
    assert t.to(lamina.float32) is t and t.to("cpu") is t
    c = t.to(lamina.float32, copy=True)
    assert c is not t and c.data_ptr() != t.data_ptr()
    assert t.double().dtype is lamina.float64 and t.long().dtype is lamina.int64
    assert t.bool().dtype is lamina.bool and t.double().float().dtype is lamina.float32
    assert t.type_as(lamina.zeros(1, dtype=lamina.int64)).dtype is lamina.int64
    np.testing.assert_array_equal(arr(lamina.tensor([-1.7, 2.9]).long()), [-1, 2])  # truncation


def test_metadata():
    t = lamina.zeros(2, 3, 4)
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.stride() == (12, 4, 1) and t.stride(0) == 12
    assert t.dim() == 3 and t.ndim == 3 and len(t) == 2 and t.numel() == 24
    assert t.element_size() == 4 and lamina.zeros(1, dtype=lamina.int64).element_size() == 8
    assert t.is_floating_point() and not lamina.zeros(1, dtype=lamina.bool).is_floating_point()
    with pytest.raises(IndexError, match=r"size: dimension out of range.*\[-3, 2\].*got 3"):
        t.size(3)
    with pytest.raises(TypeError, match="0-d"):
        len(lamina.tensor(1.0))


def test_item_and_python_conversions():
    assert lamina.tensor([2.5]).item() == 2.5
    assert float(lamina.tensor(1.5)) == 1.5 and int(lamina.tensor(3)) == 3
    assert bool(lamina.tensor(True)) is True
    assert lamina.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match=r"only one element.*\[2\]"):
        lamina.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(lamina.tensor([1.0, 2.0]))


def test_repr_mentions_values():
    r = repr(lamina.tensor([1.0, 2.0]))
    assert "1." in r and "2." in r
