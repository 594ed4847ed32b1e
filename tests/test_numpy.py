"""NumPy exchange: from_numpy and Tensor.numpy() share memory (proven by writing through either
side), keep each other's memory alive, copy only when no view can describe the layout, and refuse
dtypes lamina cannot hold.
"""
import gc
import weakref

import numpy as np
import pytest

import lamina

NP_DTYPES = [np.float32, np.float64, np.int64, np.bool_]


@pytest.mark.parametrize("npdt", NP_DTYPES)
def test_from_numpy_zero_copy_numpy_writes_seen_by_tensor(npdt):
    a = np.zeros((3, 4), npdt)
    t = lamina.from_numpy(a)
    assert t.dtype._np == np.dtype(npdt) and t.shape == (3, 4)
    assert t.data_ptr() == a.ctypes.data
    a[1, 2] = 1
    assert t.numpy()[1, 2] == 1
    assert t[1, 2].item() == 1


def test_from_numpy_tensor_writes_seen_by_numpy():
    a = np.zeros((2, 3), np.float32)
    t = lamina.from_numpy(a)
    t.fill_(2.5)
    assert (a == 2.5).all()
    t[0, 1].fill_(-1.0)  # through a view of the tensor
    assert a[0, 1] == -1.0 and a[0, 0] == 2.5


def test_numpy_of_tensor_shares_memory():
    t = lamina.zeros(2, 3)
    a = t.numpy()
    assert a.dtype == np.float32 and a.shape == (2, 3) and a.ctypes.data == t.data_ptr()
    a[1, 1] = 7.0
    assert t.numpy()[1, 1] == 7.0 and t[1, 1].item() == 7.0
    t.fill_(3.0)
    assert (a == 3.0).all()
    assert not a.flags.owndata


def test_array_keeps_tensor_memory_alive():
    t = lamina.arange(1000, dtype=lamina.float64)
    a = t.numpy()
    del t
    gc.collect()
    lamina.zeros(1000, dtype=lamina.float64).fill_(-1.0)  # reuse freed memory, if it were freed
    np.testing.assert_array_equal(a, np.arange(1000, dtype=np.float64))
    a[0] = 5  # still writable
    assert a[0] == 5


def test_tensor_keeps_array_memory_alive():
    a = np.arange(1000, dtype=np.float64)
    ref = weakref.ref(a)
    t = lamina.from_numpy(a)
    del a
    gc.collect()
    assert ref() is not None  # the tensor holds the array
    np.zeros(1000).fill(-1)
    np.testing.assert_array_equal(t.numpy(), np.arange(1000, dtype=np.float64))
    v = t[10:20]  # a view also holds it
    del t
    gc.collect()
    assert ref() is not None
    np.testing.assert_array_equal(v.numpy(), np.arange(10, 20, dtype=np.float64))
    del v
    gc.collect()
    assert ref() is None  # and lets go once no tensor uses it


def test_round_trip_numpy_tensor_numpy_same_memory():
    a = np.random.default_rng(0).standard_normal((4, 5))
    b = lamina.from_numpy(a).numpy()
    assert np.shares_memory(a, b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [
    lambda a: a.T,                     # transposed
    lambda a: a[::2, 1::3],            # sliced with steps
    lambda a: a[1:, :-1],              # offset slice
    lambda a: a[:, None, 2],           # inserted axis
    lambda a: np.broadcast_to(a[:1], (4, 6)),  # stride 0
], ids=["T", "steps", "offset", "newaxis", "broadcast"])
def test_from_numpy_noncontiguous_is_a_view(make):
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    a = make(base)
    t = lamina.from_numpy(a)
    assert t.shape == a.shape
    np.testing.assert_array_equal(t.numpy(), a)
    np.testing.assert_array_equal(t.contiguous().numpy(), a)
    assert t.stride() == tuple(s // 4 for s in a.strides)
    base += 100  # still a view onto the same memory
    np.testing.assert_array_equal(t.numpy(), a)


@pytest.mark.parametrize("make", [lambda a: a[::-1], lambda a: a[:, ::-2], lambda a: a[::-1, ::-1].T],
                         ids=["rev0", "rev1-step", "rev-both-T"])
def test_from_numpy_negative_strides_copies(make):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    a = make(base)
    t = lamina.from_numpy(a)
    np.testing.assert_array_equal(t.numpy(), a)
    assert all(s >= 0 for s in t.stride())
    base[:] = -1  # a copy: unaffected
    assert (t.numpy() >= 0).all()


def test_from_numpy_zero_size_and_0d():
    e = lamina.from_numpy(np.zeros((0, 3), np.float32))
    assert e.shape == (0, 3) and e.numel() == 0 and e.numpy().shape == (0, 3)
    s = lamina.from_numpy(np.array(2.5))
    assert s.shape == () and s.dtype is lamina.float64 and s.item() == 2.5


@pytest.mark.parametrize("npdt", [np.float16, np.int32, np.int8, np.uint8, np.uint64, np.complex64,
                                  np.dtype(">f4")], ids=str)
def test_from_numpy_unsupported_dtype_raises(npdt):
    with pytest.raises(TypeError, match="not supported"):
        lamina.from_numpy(np.zeros(3, npdt))


def test_from_numpy_object_and_non_array_raise():
    with pytest.raises(TypeError, match="not supported"):
        lamina.from_numpy(np.array([1, "a"], dtype=object))
    with pytest.raises(TypeError, match="expected np.ndarray, got list"):
        lamina.from_numpy([1.0, 2.0])


@pytest.mark.parametrize("dt", [lamina.float32, lamina.float64, lamina.int64, lamina.bool])
def test_numpy_dtypes(dt):
    t = lamina.tensor([1, 0, 1], dtype=dt)
    a = t.numpy()
    assert a.dtype == dt._np
    np.testing.assert_array_equal(a, np.array([1, 0, 1]).astype(dt._np))


def test_numpy_of_views_has_strides():
    t = lamina.arange(12, dtype=lamina.float32).reshape(3, 4)
    tt = t.transpose(0, 1)
    a = tt.numpy()
    assert a.strides == (4, 16)
    np.testing.assert_array_equal(a, np.arange(12).reshape(3, 4).T)
    e = lamina.arange(3, dtype=lamina.float32).reshape(3, 1).expand(3, 4).numpy()
    assert e.strides == (4, 0)
    np.testing.assert_array_equal(e, np.repeat(np.arange(3.0)[:, None], 4, 1))


def test_numpy_requires_grad_raises_detach_works():
    t = lamina.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    a = t.detach().numpy()
    np.testing.assert_array_equal(a, [1.0, 1.0])
    with lamina.no_grad():
        np.testing.assert_array_equal(t.numpy(), [1.0, 1.0])


def test_np_asarray_and_buffer_protocol():
    t = lamina.arange(6, dtype=lamina.float64).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(t), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(np.asarray(t, dtype=np.int64), np.arange(6).reshape(2, 3))
    m = memoryview(t._c)
    assert m.shape == (2, 3) and m.format == "d"


def test_as_tensor_shares_when_possible():
    a = np.ones(3, np.float32)
    t = lamina.as_tensor(a)
    a[0] = 4
    assert t.numpy()[0] == 4
    assert lamina.as_tensor(t) is t
    c = lamina.as_tensor(np.ones(2, np.int32))  # unsupported dtype: converted copy
    assert c.dtype is lamina.int64 and c.numpy().tolist() == [1, 1]
