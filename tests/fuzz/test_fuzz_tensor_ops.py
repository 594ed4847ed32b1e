"""Fuzzing tensor construction and op argument spaces against PyTorch (hypothesis): lamina.tensor
from odd Python objects, and elementwise/reduction/matmul ops over shapes with zero-size
dimensions, broadcasting edge cases, NumPy views with negative and zero strides, non-contiguous
inputs and mixed dtypes. Where PyTorch gives a result lamina must give the same (values, shape,
dtype); where PyTorch raises, lamina must raise a clear Python exception, never crash."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import lamina
from fuzz_targets import fuzz_settings

torch = pytest.importorskip("torch")

CLEAR = (TypeError, ValueError, IndexError, RuntimeError, OverflowError, MemoryError, NotImplementedError)
DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64),
          "int64": (np.int64, torch.int64), "bool": (np.bool_, torch.bool)}


def _both(lam_fn, torch_fn):
    """(lamina result or exception, torch result or exception)."""
    try:
        t = torch_fn()
    except Exception as e:  # noqa: BLE001 - any torch error means "no defined result"
        t = e
    try:
        lam = lam_fn()
    except CLEAR as e:
        lam = e
    return lam, t


def _check(lam, t, what):
    if isinstance(t, Exception):
        assert isinstance(lam, Exception), f"{what}: PyTorch raises ({t}) but lamina returned {lam!r}"
        assert str(lam), f"{what}: lamina raised {type(lam).__name__} with no message"
        return
    assert not isinstance(lam, Exception), f"{what}: lamina raised {type(lam).__name__}: {lam} (PyTorch: {t})"
    got = lam.numpy()
    want = t.detach().numpy()
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs PyTorch {want.shape}"
    assert lam.dtype.name == str(t.dtype).replace("torch.", ""), f"{what}: dtype {lam.dtype} vs {t.dtype}"
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


# ---- lamina.tensor from odd Python objects ----
class ArrayLike:
    def __init__(self, a):
        self.a = a

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.a, dtype=dtype)


scalars = st.one_of(st.booleans(), st.integers(-2**64, 2**64), st.sampled_from([2**63 - 1, -2**63, 2**63]),
                    st.floats(allow_nan=True, allow_infinity=True, width=32), st.floats(allow_nan=True))
nested = st.recursive(scalars, lambda c: st.lists(c, max_size=3), max_leaves=10)


@fuzz_settings(100)
@given(nested)
def test_tensor_from_nested_python(obj):
    lam, t = _both(lambda: lamina.tensor(obj), lambda: torch.tensor(obj))
    if not isinstance(t, Exception) and isinstance(lam, ValueError) and _ragged(obj):
        return  # PyTorch accepts some ragged lists ([[], False] -> shape (2, 0)); lamina refuses them all
    _check(lam, t, f"tensor({obj!r})")
    if isinstance(t, ValueError) and "Overflow" in str(t) and not _ragged(obj):  # beyond int64: same kind
        assert isinstance(lam, ValueError) and "int64" in str(lam), f"tensor({obj!r}): {lam!r}"


# Found by fuzzing: numpy reads 2**63 as uint64 (and [0, 2**63] as float64), which lamina wrapped or
# converted silently; PyTorch infers int64 from Python ints and refuses the overflow.
INT_CASES = [2**63, -2**63 - 1, 2**64, [0, 2**63], [True, 2**63], [[1, 2], [3, -2**70]],  # ValueError
             [0.5, 2**63], [[0.5], [2**64]], [2**63 - 1, -2**63], [1, 2.0**70]]           # values


@pytest.mark.parametrize("obj", INT_CASES, ids=range(len(INT_CASES)))
def test_ints_beyond_int64_as_pytorch(obj):
    lam, t = _both(lambda: lamina.tensor(obj), lambda: torch.tensor(obj))
    if isinstance(t, Exception):
        assert type(lam) is type(t) is ValueError, (lam, t)
        assert "does not fit in int64" in str(lam) and str(abs(_first_big(obj))) in str(lam)
    else:
        _check(lam, t, f"tensor({obj!r})")


def _first_big(obj) -> int:
    for x in (obj if isinstance(obj, list) else [obj]):
        big = _first_big(x) if isinstance(x, list) else x if type(x) is int and not -2**63 <= x < 2**63 else None
        if big is not None:
            return big
    return None


def test_ints_beyond_int64_with_dtype():
    for dt, tdt in ((lamina.float32, torch.float32), (lamina.float64, torch.float64)):
        np.testing.assert_allclose(lamina.tensor([2**63, 1], dtype=dt).numpy(),
                                   torch.tensor([2**63, 1], dtype=tdt).numpy(), rtol=1e-7)
    assert lamina.tensor([2**63, 0], dtype=lamina.bool).tolist() == torch.tensor([2**63, 0], dtype=torch.bool).tolist()
    with pytest.raises(ValueError, match="9223372036854775808 does not fit in int64"):
        lamina.tensor([0.5, 2**63], dtype=lamina.int64)
    with pytest.raises(ValueError):
        torch.tensor([0.5, 2**63], dtype=torch.int64)


def _ragged(obj) -> bool:
    try:
        np.array(obj)
        return False
    except ValueError:
        return True


@fuzz_settings(30)
@given(st.sampled_from(list(DTYPES)), st.lists(st.integers(0, 3), max_size=3), st.booleans())
def test_tensor_from_array_likes(dt, shape, wrap_list):
    a = (np.arange(int(np.prod(shape)) if shape else 1) % 3).astype(DTYPES[dt][0]).reshape(shape)
    obj = [ArrayLike(a), ArrayLike(a)] if wrap_list else ArrayLike(a)
    lam, t = _both(lambda: lamina.tensor(obj), lambda: torch.tensor(np.asarray(obj) if wrap_list else a))
    _check(lam, t, f"tensor(__array__ of {dt}{shape}, list={wrap_list})")


def test_array_like_float64_keeps_its_dtype():
    # Found by fuzzing: the array's float64 was cast to the default float32. torch.tensor cannot
    # read such an object itself in 2.13 ("Could not infer dtype"), so the reference is its array;
    # numpy scalars and arrays inside lists keep their dtype as in torch.tensor.
    for obj, ref in ((ArrayLike(np.array([1.5])), np.array([1.5])),
                     ([ArrayLike(np.array([1.5])), ArrayLike(np.array([2.5]))], np.array([[1.5], [2.5]])),
                     ([np.float64(1.5), 0.5], [np.float64(1.5), 0.5]), ([np.float32(1.5), 0.5], [np.float32(1.5), 0.5]),
                     ([np.array([1.5]), np.array([2.5])], np.array([[1.5], [2.5]])), ([np.int64(1), 0.5], [np.int64(1), 0.5]),
                     ([0.5, 1.5], [0.5, 1.5])):
        _check(lamina.tensor(obj), torch.tensor(ref), f"tensor({obj!r})")


# ---- op argument spaces ----
@st.composite
def operand(draw, shape):
    """A lamina/torch pair over the same values: contiguous, a reversed view (negative strides), a
    transposed view, or a broadcast view (zero strides) of a NumPy array."""
    dt = draw(st.sampled_from(list(DTYPES)))
    npdt, _ = DTYPES[dt]
    kind = draw(st.sampled_from(["plain", "reversed", "transposed", "broadcast"]))
    n = int(np.prod(shape)) if shape else 1
    vals = np.asarray(draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n)), dtype=np.float64)
    if dt == "bool":
        base = (vals.reshape(shape) > 0)
    else:
        base = np.asarray(vals.reshape(shape).astype(npdt) + (0.5 if npdt in (np.float32, np.float64) else 0),
                          dtype=npdt)
    if kind == "reversed" and len(shape):
        a = np.ascontiguousarray(base[::-1])[::-1]
    elif kind == "transposed" and len(shape) >= 2:
        a = np.ascontiguousarray(np.swapaxes(base, 0, 1)).swapaxes(0, 1)
    elif kind == "broadcast" and len(shape) and shape[0] > 0:
        a = np.broadcast_to(base[:1], shape)
    else:
        a = base
    return a


def _torch_of(a: np.ndarray):
    return torch.tensor(np.array(a, copy=True, order="C"))  # (ascontiguousarray makes 0-d into 1-d)


def _lam_of(a: np.ndarray):
    return lamina.tensor(a)


dims = st.one_of(st.just(0), st.just(1), st.integers(2, 4))
shapes = st.lists(dims, max_size=3)


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast (or, one time in five, usually do not)."""
    s = draw(shapes)
    t = [draw(st.sampled_from([d, 1])) for d in s][draw(st.integers(0, len(s))):]
    if draw(st.integers(0, 4)) == 0:
        t = draw(shapes)
    return (s, t) if draw(st.booleans()) else (t, s)


BINARY = {"add": (lambda a, b: a + b), "sub": (lambda a, b: a - b), "mul": (lambda a, b: a * b),
          "div": (lambda a, b: a / b), "maximum": None, "minimum": None, "eq": (lambda a, b: a == b),
          "lt": (lambda a, b: a < b)}


@fuzz_settings(120)
@given(st.sampled_from(list(BINARY)), broadcast_pair(), st.data())
def test_binary_ops_vs_torch(op, shapes_, data):
    sa, sb = shapes_
    a, b = data.draw(operand(sa)), data.draw(operand(sb))
    fn = BINARY[op]
    if fn is None:
        lam_fn = lambda: getattr(lamina, op)(_lam_of(a), _lam_of(b))  # noqa: E731
        t_fn = lambda: getattr(torch, op)(_torch_of(a), _torch_of(b))  # noqa: E731
    else:
        lam_fn = lambda: fn(_lam_of(a), _lam_of(b))  # noqa: E731
        t_fn = lambda: fn(_torch_of(a), _torch_of(b))  # noqa: E731
    lam, t = _both(lam_fn, t_fn)
    if isinstance(t, RuntimeError) and "bool" in str(t):  # bool subtraction: the same error kind
        assert isinstance(lam, RuntimeError) and "bool" in str(lam), f"{op}: {lam!r} (PyTorch: {t})"
    _check(lam, t, f"{op}({a.dtype}{list(a.shape)} strides {a.strides}, {b.dtype}{list(b.shape)} strides {b.strides})")


REDUCE = ["sum", "mean", "amax", "amin", "prod"]


@fuzz_settings(100)
@given(st.sampled_from(REDUCE), shapes, st.data())
def test_reductions_vs_torch(op, shape, data):
    a = data.draw(operand(shape))
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape) - 1, len(shape))))
    keep = data.draw(st.booleans())
    kw = {} if dim is None else {"dim": dim, "keepdim": keep}
    if op == "mean":
        assume(a.dtype.kind == "f")  # torch refuses integer means; lamina's rule is tested elsewhere
    lam, t = _both(lambda: getattr(_lam_of(a), op)(**kw), lambda: getattr(_torch_of(a), op)(**kw))
    if isinstance(t, (RuntimeError, IndexError)) and op in ("amax", "amin"):  # the same error kind
        assert type(lam) is type(t), f"{op}({list(a.shape)}, {kw}): {lam!r} (PyTorch: {t!r})"
    _check(lam, t, f"{op}({a.dtype}{list(a.shape)}, {kw})")


@fuzz_settings(80)
@given(st.lists(dims, min_size=1, max_size=3), st.lists(dims, min_size=1, max_size=3), st.booleans(), st.data())
def test_matmul_vs_torch(sa, sb, share, data):
    if share and len(sb) >= 2:
        sb = sb[:-2] + [sa[-1], sb[-1]]  # usually compatible inner dimensions
    a = data.draw(operand(sa))
    b = data.draw(operand(sb))
    assume(a.dtype.kind == "f" and b.dtype == a.dtype)
    lam, t = _both(lambda: lamina.matmul(_lam_of(a), _lam_of(b)), lambda: torch.matmul(_torch_of(a), _torch_of(b)))
    _check(lam, t, f"matmul({list(a.shape)}, {list(b.shape)})")


@fuzz_settings(60)
@given(shapes, st.lists(st.integers(-2, 5), max_size=4), st.data())
def test_reshape_expand_vs_torch(shape, target, data):
    a = data.draw(operand(shape))
    for name in ("reshape", "expand"):
        if not target:
            continue  # torch requires a shape argument; lamina's reshape()/expand() of nothing is a no-op
        lam, t = _both(lambda n=name: getattr(_lam_of(a), n)(*target), lambda n=name: getattr(_torch_of(a), n)(*target))
        if name == "expand" and not isinstance(lam, Exception):
            lam = lam.contiguous()
        if not isinstance(t, Exception) and any(d < 0 for d in t.shape):
            t = ValueError("PyTorch returned a negative size")  # expand([] -> [0, -1]): torch has no check
        _check(lam, t, f"{name}({list(a.shape)} -> {target})")


def test_regression_expand_negative_size():
    with pytest.raises(ValueError, match="expand: size -2 at dimension 0 is negative"):
        lamina.ones(1).expand(-2)


def test_huge_sizes_raise_cleanly():
    for f in (lambda: lamina.zeros(2**31, 2**31, 2**3), lambda: lamina.ones(1).expand(2**62, 4),
              lambda: lamina.zeros(0, 2**62).reshape(-1, 0)):
        try:
            f()
        except CLEAR as e:
            assert str(e)
    assert math.isnan(float(lamina.tensor(float("nan"))))


# Found by fuzzing: bool + bool gave int64 (and bool += bool raised) and bool - x computed; PyTorch
# keeps bool / refuses (negation too, with its own message).
BOOL_CASES = {"b+b": lambda m, T, F: T + F, "b+b+": lambda m, T, F: m.add(T, T, alpha=2), "b*b": lambda m, T, F: T * F,
              "b+True": lambda m, T, F: F + True, "True*b": lambda m, T, F: True * T, "b+1": lambda m, T, F: T + 1,
              "b*2.5": lambda m, T, F: T * 2.5, "b/b": lambda m, T, F: T / T, "max": lambda m, T, F: m.maximum(T, F),
              "min": lambda m, T, F: m.minimum(T, F), "b*i": lambda m, T, F: T * m.tensor([3, 4]),
              "b-b": lambda m, T, F: T - F, "b-1": lambda m, T, F: T - 1, "1-b": lambda m, T, F: 1 - T,
              "f-b": lambda m, T, F: m.tensor([1.0, 2.0]) - T, "f-True": lambda m, T, F: m.tensor([1.0]) - True,
              "sub": lambda m, T, F: m.sub(T, F), "rsub": lambda m, T, F: m.rsub(T, 1),
              "b+=b": lambda m, T, F: F.clone().add_(T), "b*=b": lambda m, T, F: T.clone().mul_(F),
              "b-=b": lambda m, T, F: T.clone().sub_(F), "b+=i": lambda m, T, F: T.clone().add_(m.tensor([1, 2])),
              "b+=wider": lambda m, T, F: T[:1].clone().add_(F),
              # -mask raised TypeError (PyTorch: RuntimeError) and sign(mask) raised (PyTorch: the mask)
              "-b": lambda m, T, F: -T, "neg_": lambda m, T, F: T.clone().neg_(), "sign": lambda m, T, F: m.sign(T)}


@pytest.mark.parametrize("case", list(BOOL_CASES))
def test_bool_arithmetic(case):
    fn = BOOL_CASES[case]
    lam, t = _both(lambda: fn(lamina, lamina.tensor([True, False]), lamina.tensor([False, False])),
                   lambda: fn(torch, torch.tensor([True, False]), torch.tensor([False, False])))
    if isinstance(t, Exception):
        assert type(lam) is type(t) is RuntimeError, (lam, t)
        for kind in ("Subtraction", "Negation"):  # torch's own wording for these two refusals
            assert (kind in str(lam)) == (kind in str(t)), (lam, t)
    _check(lam, t, case)


# Found by fuzzing: a max/min over nothing returned an empty tensor (or an IndexError) where
# PyTorch raises RuntimeError (no dim) or IndexError (a named zero-size dim).
EMPTY_CASES = [((0,), "amax", {}), ((0, 3), "amin", {}), ((0,), "max", {}), ((2, 0), "min", {}),
               ((0, 0), "amax", {"dim": 1}), ((0, 2, 0), "amin", {"dim": -1}), ((0, 3), "amax", {"dim": (0, 1)}),
               ((0, 0), "max", {"dim": 0}), ((0,), "amax", {"dim": 0, "keepdim": True}), ((0, 2), "amax", {"dim": 1}),
               ((0, 2), "min", {"dim": 1})]


@pytest.mark.parametrize("shape,op,kw", EMPTY_CASES, ids=[f"{o}{s}{k}" for s, o, k in EMPTY_CASES])
def test_empty_max_min_as_pytorch(shape, op, kw):
    lam, t = _both(lambda: getattr(lamina.zeros(*shape), op)(**kw), lambda: getattr(torch.zeros(*shape), op)(**kw))
    if isinstance(t, Exception):
        assert type(lam) is type(t), (lam, t)
        assert "non-zero size" in str(lam) or "Expected reduction dim to be specified" in str(lam), lam
        return
    if op in ("max", "min"):
        lam, t = lam[0], t.values
    _check(lam, t, f"{op}{shape}{kw}")
