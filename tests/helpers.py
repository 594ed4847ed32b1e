"""``check_op``: the one harness every op test uses (see ../shared/DESIGN.md).

For each dtype it builds the same random inputs for lamina and PyTorch, compares forward values,
then gradients of ``(out * dout).sum()`` for a random ``dout``. Independently of PyTorch it runs
float64 central finite differences (``lamina.autograd.gradcheck``) on the same function.
"""
from __future__ import annotations

import numpy as np
import pytest

import lamina

TOL = {  # (rtol, atol) for values, then for gradients
    "float32": ((1e-5, 1e-4), (1e-4, 1e-3)),
    "float64": ((1e-10, 1e-10), (1e-8, 1e-8)),
}


def _torch():
    return pytest.importorskip("torch")


def make_inputs(specs, dtype: str, seed: int = 0):
    """Numpy arrays from specs: a shape tuple (standard normal), or a callable rng -> array."""
    rng = np.random.default_rng(seed)
    out = []
    for s in specs:
        if callable(s):
            a = np.asarray(s(rng))
        elif isinstance(s, np.ndarray):
            a = s
        else:
            a = rng.standard_normal(s)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        out.append(a)
    return out


def _noncontig(a: np.ndarray) -> np.ndarray:
    """The same values in a transposed (non-contiguous) layout."""
    if a.ndim < 2:
        big = np.empty(a.shape[:-1] + (a.shape[-1] * 2,) if a.ndim else (2,), a.dtype)
        if a.ndim == 0:
            return a
        big[..., ::2] = a
        return big[..., ::2]
    return np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)


def to_lamina(arrs, grad_mask, noncontig=False):
    ts = []
    for a, g in zip(arrs, grad_mask):
        src = _noncontig(a) if noncontig and a.dtype.kind == "f" else a
        t = lamina.from_numpy(src if noncontig else np.array(src, copy=True))
        if g and a.dtype.kind == "f":
            t.requires_grad_(True)
        ts.append(t)
    return ts


def to_torch(arrs, grad_mask):
    torch = _torch()
    ts = []
    for a, g in zip(arrs, grad_mask):
        t = torch.from_numpy(np.array(a, copy=True))
        if g and a.dtype.kind == "f":
            t.requires_grad_(True)
        ts.append(t)
    return ts


def _as_tuple(o):
    return tuple(o) if isinstance(o, (tuple, list)) else (o,)


def check_op(lamina_fn, torch_fn, specs, dtypes=("float32", "float64"), grad=None, fd=True,
             noncontig=False, tol=None, seed=0, fd_eps=1e-6, fd_tol=(1e-5, 1e-4)):
    """Checks ``lamina_fn(*inputs)`` against ``torch_fn(*inputs)``.

    specs: per input, a shape tuple, a numpy array, or ``lambda rng: array`` (use that to keep
    inputs away from kinks, or to make integer indices). grad: per input, whether to check its
    gradient (default: every floating input). fd: also run float64 finite differences.
    noncontig: feed lamina transposed/strided views of the same values.
    """
    torch = _torch()
    n = len(specs)
    for dt in dtypes:
        arrs = make_inputs(specs, dt, seed)
        mask = grad if grad is not None else [a.dtype.kind == "f" for a in arrs]
        (vr, va), (gr, ga) = tol[dt] if tol and dt in tol else TOL[dt]
        lt = to_lamina(arrs, mask, noncontig)
        tt = to_torch(arrs, mask)
        lo = _as_tuple(lamina_fn(*lt))
        to = _as_tuple(torch_fn(*tt))
        assert len(lo) == len(to), f"{dt}: lamina returned {len(lo)} outputs, torch {len(to)}"
        for k, (a, b) in enumerate(zip(lo, to)):
            an = a.detach().numpy() if isinstance(a, lamina.Tensor) else np.asarray(a)
            bn = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
            assert tuple(an.shape) == tuple(bn.shape), f"{dt} output {k}: shape {an.shape} vs torch {bn.shape}"
            np.testing.assert_allclose(an, bn, rtol=vr, atol=va, err_msg=f"{dt} output {k} values")
        if not any(mask):
            continue
        rng = np.random.default_rng(seed + 1)
        douts = [rng.standard_normal(b.shape).astype(dt) if getattr(b, "requires_grad", False) else None for b in to]
        pairs_l = [(a, lamina.tensor(d)) for a, d in zip(lo, douts) if d is not None]
        pairs_t = [(b, torch.from_numpy(d)) for b, d in zip(to, douts) if d is not None]
        if not pairs_t:
            continue
        torch.autograd.backward([p[0] for p in pairs_t], [p[1] for p in pairs_t])
        lamina.autograd.backward([p[0] for p in pairs_l], [p[1] for p in pairs_l])
        for i in range(n):
            if not mask[i] or arrs[i].dtype.kind != "f":
                continue
            tg = tt[i].grad
            lg = lt[i].grad
            if tg is None:
                assert lg is None or np.allclose(lg.numpy(), 0), f"{dt}: input {i} got a gradient torch does not give"
                continue
            assert lg is not None, f"{dt}: input {i} got no gradient (torch gives one)"
            assert tuple(lg.shape) == tuple(tg.shape), f"{dt}: grad {i} shape {lg.shape} vs {tuple(tg.shape)}"
            np.testing.assert_allclose(lg.numpy(), tg.numpy(), rtol=gr, atol=ga, err_msg=f"{dt} grad of input {i}")
    if fd and grad is not False:
        arrs = make_inputs(specs, "float64", seed)
        mask = grad if grad is not None else [a.dtype.kind == "f" for a in arrs]
        lt = to_lamina(arrs, mask, noncontig)
        lamina.autograd.gradcheck(lamina_fn, tuple(lt), eps=fd_eps, atol=fd_tol[0], rtol=fd_tol[1])


def check_fd(lamina_fn, specs, seed=0, grad=None, eps=1e-6, atol=1e-5, rtol=1e-4):
    """Finite differences only (no torch): float64 central differences on lamina_fn."""
    arrs = make_inputs(specs, "float64", seed)
    mask = grad if grad is not None else [a.dtype.kind == "f" for a in arrs]
    lt = to_lamina(arrs, mask)
    lamina.autograd.gradcheck(lamina_fn, tuple(lt), eps=eps, atol=atol, rtol=rtol)



def same_first_order(fn, *inputs, rtol=1e-11, atol=1e-13):
    """The create_graph=True gradient of ``fn`` at float64 ``inputs`` equals the fast fused one
    (as the C++ computes it, kinks and ties included)."""
    from lamina.autograd import grad

    rng = np.random.default_rng(1)
    go = lamina.tensor(rng.standard_normal(fn(*inputs).shape), dtype=lamina.float64)
    diff = [x for x in inputs if x.requires_grad]
    fast = grad([fn(*inputs)], diff, [go])
    slow = grad([fn(*inputs)], diff, [go], create_graph=True)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(b.detach().numpy(), a.numpy(), rtol=rtol, atol=atol)


def check_double_backward(fn, *inputs, rtol=1e-11, atol=1e-13):
    """Double backward of ``fn`` at float64 ``inputs``: same_first_order, then gradgradcheck
    (second derivatives against finite differences)."""
    from lamina.autograd import gradgradcheck

    same_first_order(fn, *inputs, rtol=rtol, atol=atol)
    assert gradgradcheck(fn, inputs)


def check_conv2d_thread_bits(xs, ws, kw, rtol=1e-4, atol=1e-4):
    """F.conv2d (float32, with bias) at 1 and 2 threads gives the same bits, and matches PyTorch.
    For kernels whose work split must not change the summation order."""
    torch = _torch()
    rng = np.random.default_rng(0)
    x = lamina.tensor(rng.standard_normal(xs).astype(np.float32))
    w = lamina.tensor(rng.standard_normal(ws).astype(np.float32))
    b = lamina.tensor(rng.standard_normal(ws[0]).astype(np.float32))
    old = lamina.get_num_threads()
    try:
        outs = []
        for t in (1, 2):
            lamina.set_num_threads(t)
            outs.append(lamina.nn.functional.conv2d(x, w, b, **kw).numpy())
    finally:
        lamina.set_num_threads(old)
    np.testing.assert_array_equal(outs[0], outs[1])
    ref = torch.nn.functional.conv2d(torch.from_numpy(x.numpy()), torch.from_numpy(w.numpy()),
                                     torch.from_numpy(b.numpy()), **kw)
    np.testing.assert_allclose(outs[0], ref.numpy(), rtol=rtol, atol=atol)


def at_thread_counts(f, counts=(1, 2, 3)):
    """f() evaluated at each thread count (the previous count restored after)."""
    before = lamina.get_num_threads()
    try:
        outs = []
        for nt in counts:
            lamina.set_num_threads(nt)
            outs.append(f())
    finally:
        lamina.set_num_threads(before)
    return outs


def philox_words(seed: int, offset: int, n: int):
    """Words 0 and 1 (uint64 arrays holding 32-bit values) of Philox4x32-10 (cpp/core/philox.h) on
    counters offset .. offset + n - 1, in numpy: the independent reference for lamina's random ops."""
    ctr = np.uint64(offset) + np.arange(n, dtype=np.uint64)
    m32 = np.uint64(0xFFFFFFFF)
    c0, c1 = ctr & m32, ctr >> np.uint64(32)
    c2 = np.zeros(n, np.uint64)
    c3 = np.zeros(n, np.uint64)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        n0 = (p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0)
        n2 = (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1)
        c1, c3, c0, c2 = p1 & m32, p0 & m32, n0, n2
        k0 = (k0 + 0x9E3779B9) & 0xFFFFFFFF
        k1 = (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return c0, c1
