"""cat / stack / split / chunk / index_select / gather / scatter_add, advanced indexing and
setitem, and F.pad, against torch and finite differences."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from helpers import check_op


def _torch():
    return pytest.importorskip("torch")


def idx(values):
    return lambda rng: np.array(values, dtype=np.int64)


# ---- cat / stack / split / chunk -------------------------------------------------------------

@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat(dim):
    torch = _torch()
    shapes = {0: [(2, 3), (1, 3), (4, 3)], 1: [(2, 3), (2, 1), (2, 5)], -1: [(2, 3), (2, 1), (2, 5)]}[dim]
    check_op(lambda *t: lamina.cat(t, dim), lambda *t: torch.cat(t, dim), shapes)
    check_op(lambda *t: lamina.cat(t, dim), lambda *t: torch.cat(t, dim), shapes, noncontig=True)


def test_cat_skips_empty_and_promotes():
    torch = _torch()
    check_op(lambda a, b: lamina.cat([a, b], 0), lambda a, b: torch.cat([a, b], 0), [(0,), (3,)], fd=False)
    a = lamina.tensor([1, 2])
    b = lamina.tensor([0.5])
    out = lamina.cat([a, b])
    assert out.dtype is lamina.float32
    np.testing.assert_allclose(out.numpy(), [1, 2, 0.5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_cat_direct_copy_pieces(dtype):
    # the one-memcpy-per-row path: zero-width pieces in the middle, uneven widths, every dim
    rng = np.random.default_rng(3)
    for dim in (0, 1, 2):
        widths = (2, 0, 5, 1)
        arrs = []
        for w in widths:
            shape = [3, 4, 6]
            shape[dim] = w
            arrs.append((rng.standard_normal(shape) * 100).astype(dtype))
        out = lamina.cat([lamina.tensor(a) for a in arrs], dim).numpy()
        np.testing.assert_array_equal(out, np.concatenate(arrs, dim))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cat_row_pieces_around_the_vector_step(dtype):
    # cat's row copy moves 256-byte blocks and then the rest: piece widths just below, at and above
    # multiples of 256 bytes, from sources at several offsets off a 64-byte boundary (from_numpy
    # shares the views' memory, as NumPy inputs do)
    rng = np.random.default_rng(5)
    es = np.dtype(dtype).itemsize
    for nbytes in (8, 248, 256, 264, 512, 1016, 1024, 1032, 2056):
        w = nbytes // es
        buf = (rng.standard_normal(4 * (5 * w + 16) + 32) * 100).astype(dtype)
        base = (-(buf.ctypes.data % 64) // es) % (64 // es)
        arrs = []
        for k, off in enumerate((1, 2, 0, 3)):
            start = base + k * (5 * w + 16) + off * (4 // es if es < 4 else 1)
            arrs.append(buf[start:start + 5 * w].reshape(5, w))
        out = lamina.cat([lamina.from_numpy(a) for a in arrs], 1).numpy()
        np.testing.assert_array_equal(out, np.concatenate(arrs, 1), err_msg=f"{nbytes} bytes a row")


def test_cat_errors():
    with pytest.raises(ValueError, match=r"\[2, 3\], \[2, 4\], \[3, 3\]"):
        lamina.cat([lamina.zeros(2, 3), lamina.zeros(2, 4), lamina.zeros(3, 3)], 0)
    with pytest.raises(IndexError, match="dimension out of range"):
        lamina.cat([lamina.zeros(2, 3)], 2)
    with pytest.raises(ValueError, match="non-empty"):
        lamina.cat([])
    with pytest.raises(TypeError, match="list or tuple"):
        lamina.cat(lamina.zeros(2))


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(dim):
    torch = _torch()
    check_op(lambda *t: lamina.stack(t, dim), lambda *t: torch.stack(t, dim), [(2, 3), (2, 3), (2, 3)])


def test_stack_error():
    with pytest.raises(ValueError, match=r"\[2, 3\], \[3, 2\]"):
        lamina.stack([lamina.zeros(2, 3), lamina.zeros(3, 2)])


@pytest.mark.parametrize("arg,dim", [(2, 0), (3, 1), ([1, 4], 1), ([5, 0], 1)])
def test_split(arg, dim):
    torch = _torch()
    check_op(lambda x: x.split(arg, dim), lambda x: x.split(arg, dim), [(5, 5)])
    check_op(lambda x: lamina.split(x, arg, dim), lambda x: torch.split(x, arg, dim), [(5, 5)], noncontig=True)


def test_split_partial_use():
    # Only one piece reaches the loss: the others get zero gradient.
    x = lamina.randn(6, 2, requires_grad=True)
    a, b, c = lamina.split(x, 2)
    b.backward(lamina.ones(2, 2))
    np.testing.assert_allclose(x.grad.numpy(), np.r_[np.zeros((2, 2)), np.ones((2, 2)), np.zeros((2, 2))])


@pytest.mark.parametrize("chunks,dim", [(2, 0), (3, 1), (6, 1), (4, 0)])
def test_chunk(chunks, dim):
    check_op(lambda x: lamina.chunk(x, chunks, dim), lambda x: x.chunk(chunks, dim), [(5, 6)])


def test_split_errors():
    with pytest.raises(ValueError, match="sum exactly to 5"):
        lamina.split(lamina.zeros(5), [2, 2])
    with pytest.raises(ValueError, match="chunks"):
        lamina.chunk(lamina.zeros(5), 0)


# ---- index_select / gather / scatter_add -------------------------------------------------------

@pytest.mark.parametrize("shape,dim,ix", [((5, 3), 0, [4, 0, 0, 2]), ((5, 3), 1, [2, 2]), ((2, 3, 4), 2, [3, 1, 0]),
                                          ((2, 3, 4), 1, [1]), ((4,), 0, [3, 3, 1])])
def test_index_select(shape, dim, ix):
    torch = _torch()
    check_op(lambda x, i: lamina.index_select(x, dim, i), lambda x, i: torch.index_select(x, dim, i),
             [shape, idx(ix)])
    check_op(lambda x, i: x.index_select(dim, i), lambda x, i: x.index_select(dim, i), [shape, idx(ix)],
             noncontig=True)


def test_index_select_errors():
    x = lamina.zeros(5, 3)
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 5"):
        lamina.index_select(x, 0, lamina.tensor([1, 7]))
    with pytest.raises(TypeError, match="int64"):
        lamina.index_select(x, 0, lamina.tensor([1.0]))
    with pytest.raises(ValueError, match=r"0-D or 1-D"):
        lamina.index_select(x, 0, lamina.tensor([[1]]))
    # the no-grad fast path leaves the dtype check to C++ and then gives the same message
    for dt in (lamina.float32, lamina.float64):
        for grad in (False, True):
            xg = lamina.zeros(5, 3, requires_grad=grad)
            msg = r"^index_select: index must be an int64 tensor, got lamina\.float(32|64)$"
            with pytest.raises(TypeError, match=msg):
                lamina.index_select(xg, 1, lamina.tensor([1, 2], dtype=dt))
    with pytest.raises(IndexError, match=r"dimension out of range"):
        lamina.index_select(x, -3, lamina.tensor([0]))


@pytest.mark.parametrize("shape,dim,ishape,hi", [((4, 5), 1, (4, 3), 5), ((4, 5), 0, (2, 5), 4),
                                                 ((3, 4, 2), 1, (2, 6, 2), 4), ((3, 4, 2), -1, (3, 4, 5), 2)])
def test_gather(shape, dim, ishape, hi):
    torch = _torch()
    check_op(lambda x, i: lamina.gather(x, dim, i), lambda x, i: torch.gather(x, dim, i),
             [shape, lambda rng: rng.integers(0, hi, ishape)])
    check_op(lambda x, i: x.gather(dim, i), lambda x, i: x.gather(dim, i),
             [shape, lambda rng: rng.integers(0, hi, ishape)], noncontig=True)


def test_gather_errors():
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1 with size 5"):
        lamina.gather(lamina.zeros(2, 5), 1, lamina.tensor([[5]]))
    with pytest.raises(ValueError, match="same number of dimensions"):
        lamina.gather(lamina.zeros(2, 5), 1, lamina.tensor([1]))


def test_scatter_add():
    torch = _torch()
    check_op(lambda x, i, s: lamina.scatter_add(x, 1, i, s), lambda x, i, s: torch.scatter_add(x, 1, i, s),
             [(3, 4), lambda rng: rng.integers(0, 4, (3, 6)), (3, 6)])
    check_op(lambda x, i, s: lamina.scatter_add(x, 0, i, s), lambda x, i, s: torch.scatter_add(x, 0, i, s),
             [(3, 4), lambda rng: rng.integers(0, 3, (2, 3)), (2, 3)])


def test_scatter_add_src_larger_than_index():
    # Only the part of src that index covers is used, so only it gets a gradient.
    x = lamina.zeros(2, 3)
    src = lamina.ones(3, 4, requires_grad=True)
    out = lamina.scatter_add(x, 1, lamina.tensor([[0, 0], [2, 1]]), src)
    np.testing.assert_array_equal(out.detach().numpy(), [[2, 0, 0], [0, 1, 1]])
    out.backward(lamina.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    np.testing.assert_array_equal(src.grad.numpy(), [[1, 1, 0, 0], [6, 5, 0, 0], [0, 0, 0, 0]])


# ---- advanced indexing ----------------------------------------------------------------------

@pytest.mark.parametrize("key", [
    "t0", "t_dim1", "list_dim1", "t_2d", "t_neg", "two_adj", "two_sep", "mask", "mask_rows", "np",
])
def test_advanced_getitem(key):
    torch = _torch()
    rng = np.random.default_rng(3)
    i1 = np.array([2, 0, 2, 3])
    i2 = np.array([[1, 0], [3, 3]])
    mask = rng.standard_normal((4, 5, 3)) > 0
    keys = {
        "t0": lambda m: (m.tensor(i1),),
        "t_dim1": lambda m: (slice(None), m.tensor(i1), slice(1, 3)),
        "list_dim1": lambda m: (Ellipsis, [0, 2, 2]),
        "t_2d": lambda m: (1, m.tensor(i2)),
        "t_neg": lambda m: (m.tensor(np.array([-1, -4, 0])),),
        "two_adj": lambda m: (slice(None), m.tensor(np.array([0, 4])), m.tensor(np.array([2, 1]))),
        "two_sep": lambda m: (m.tensor(np.array([0, 3])), slice(None), m.tensor(np.array([2, 1]))),
        "mask": lambda m: (m.tensor(mask),),
        "mask_rows": lambda m: (m.tensor(mask[:, 0, 0]),),
        "np": lambda m: (None, slice(None), i1[:2]),
    }[key]
    check_op(lambda x: x[keys(lamina)], lambda x: x[keys(torch)], [(4, 5, 3)])
    check_op(lambda x: x[keys(lamina)], lambda x: x[keys(torch)], [(4, 5, 3)], noncontig=True, fd=False)


def test_advanced_getitem_repeated_grad():
    x = lamina.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x[lamina.tensor([0, 0, 2, 0])]
    y.backward(lamina.ones(4))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_advanced_getitem_errors():
    x = lamina.zeros(4, 5)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1 with size 5"):
        x[:, lamina.tensor([0, 5])]
    with pytest.raises(IndexError, match="index -6 is out of bounds for dimension 1 with size 5"):
        x[:, [-6]]
    with pytest.raises(IndexError, match=r"mask \[3\]"):
        x[lamina.tensor([True, False, True])]
    with pytest.raises(IndexError, match="broadcast"):
        x[lamina.tensor([0, 1]), lamina.tensor([0, 1, 2])]
    with pytest.raises(IndexError, match="long or bool"):
        x[lamina.tensor([0.0])]


# ---- setitem --------------------------------------------------------------------------------

def test_setitem_values():
    x = lamina.zeros(3, 4)
    x[1] = 5.0
    x[:, 2] = lamina.tensor([1.0, 2.0, 3.0])
    x[lamina.tensor([0, 2]), 0] = -1.0
    x[x > 4] = 7.0
    ref = np.zeros((3, 4), np.float32)
    ref[1] = 5
    ref[:, 2] = [1, 2, 3]
    ref[[0, 2], 0] = -1
    ref[ref > 4] = 7
    np.testing.assert_array_equal(x.numpy(), ref)
    # Writes go through to non-contiguous views too.
    y = lamina.zeros(4, 3).t()
    y[:, lamina.tensor([1, 3])] = lamina.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    ref2 = np.zeros((3, 4), np.float32)
    ref2[:, [1, 3]] = [[1, 2], [3, 4], [5, 6]]
    np.testing.assert_array_equal(y.numpy(), ref2)


@pytest.mark.parametrize("basic", [True, False])
def test_setitem_grad(basic):
    torch = _torch()

    def run(m, x, v):
        y = x * 1.0 if hasattr(x, "__mul__") else x
        key = (slice(None), 1) if basic else (slice(None), m.tensor(np.array([1, 3])))
        y = y.clone()
        y[key] = v
        return y

    check_op(lambda x, v: run(lamina, x, v), lambda x, v: run(torch, x, v), [(3, 4), (3, 1) if not basic else (3,)])


def test_setitem_leaf_error():
    x = lamina.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[0] = 1.0
    with lamina.no_grad():
        x[0] = 1.0
    assert x.detach().numpy()[0] == 1.0


def test_setitem_shape_error():
    x = lamina.zeros(3, 4)
    with pytest.raises(ValueError, match=r"\[3\].*\[3, 2\]"):
        x[:, lamina.tensor([0, 1])] = lamina.zeros(3)
    x[:, lamina.tensor([0, 1])] = lamina.tensor([1.0, 2.0])  # broadcasts over rows
    np.testing.assert_array_equal(x.numpy()[:, :2], [[1, 2]] * 3)


# ---- pad ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,pads", [((3, 4), (1, 2)), ((2, 3, 4), (0, 1, 2, 0)), ((2, 3), (2, 2, 1, 1)),
                                        ((2, 5), (-1, 2)), ((1, 2, 3), (1, 1, 1, 1, 1, 1))])
def test_pad_constant(shape, pads):
    tf = _torch().nn.functional
    check_op(lambda x: F.pad(x, pads, value=0.5), lambda x: tf.pad(x, pads, value=0.5), [shape])
    check_op(lambda x: F.pad(x, pads), lambda x: tf.pad(x, pads), [shape], noncontig=True, fd=False)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes(mode):
    tf = _torch().nn.functional
    check_op(lambda x: F.pad(x, (2, 1), mode=mode), lambda x: tf.pad(x, (2, 1), mode=mode), [(2, 3, 4)])
    check_op(lambda x: F.pad(x, (1, 2, 2, 1), mode=mode), lambda x: tf.pad(x, (1, 2, 2, 1), mode=mode),
             [(1, 2, 3, 4)])


def test_pad_errors():
    with pytest.raises(ValueError, match="even"):
        F.pad(lamina.zeros(3), (1,))
    with pytest.raises(ValueError, match="reflect padding"):
        F.pad(lamina.zeros(1, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="negative"):
        F.pad(lamina.zeros(3), (-2, -2))


def test_cat_contiguous_fast_path():
    torch = _torch()
    for dim, shapes in [(1, [(64, 256), (64, 3), (64, 0), (64, 17)]), (0, [(2, 5), (3, 5)]),
                        (2, [(2, 3, 4), (2, 3, 1)]), (1, [(2, 1, 3), (2, 4, 3)])]:
        check_op(lambda *t, d=dim: lamina.cat(t, d), lambda *t, d=dim: torch.cat(t, d), shapes, fd=False)
    a, b = lamina.ones(2, 3, dtype=lamina.float64), lamina.zeros(2, 2)
    np.testing.assert_array_equal(lamina.cat([a, b], 1).numpy(), np.concatenate([np.ones((2, 3)), np.zeros((2, 2))], 1))


def test_gather_unit_stride_path_and_bounds():
    torch = _torch()
    idx = lambda rng: rng.integers(0, 37, (9, 13))  # noqa: E731
    check_op(lambda x, i: lamina.gather(x, 1, i), lambda x, i: torch.gather(x, 1, i), [(9, 37), idx],
             grad=[True, False], fd=False)
    check_op(lambda x, i: lamina.gather(x, 0, i), lambda x, i: torch.gather(x, 0, i),
             [(37, 9), lambda rng: rng.integers(0, 37, (13, 9))], grad=[True, False], fd=False, noncontig=True)
    x = lamina.randn(4, 6)
    for bad in (6, -1, 1 << 62):
        i = lamina.tensor([[0, 1, 2], [3, 4, bad], [0, 0, 0], [5, 5, 5]])
        with pytest.raises(IndexError, match=f"index {bad} is out of bounds for dimension 1 with size 6"):
            lamina.gather(x, 1, i)
