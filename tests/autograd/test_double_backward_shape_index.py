"""Double backward (create_graph=True) of the shape/view ops (ops/shape.py) and the indexing and
joining ops (ops/indexing.py): gradgradcheck for every Function and mode, the create_graph
gradient equal to the fast one, third order through the adjoint pairs, and second derivatives
against torch (a gradient penalty and a Hessian-vector product)."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina.autograd import grad, gradgradcheck

I64 = lamina.int64


def _t(rng, *shape):
    return lamina.tensor(rng.standard_normal(shape), dtype=lamina.float64, requires_grad=True)


def _idx(v):
    return lamina.tensor(v, dtype=I64)


def _same_first_grads(fn, inputs, seed=1):
    """The create_graph gradient (backward_graph) equals the fast fused one."""
    rng = np.random.default_rng(seed)
    out = fn(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    gos = [lamina.tensor(rng.standard_normal(o.shape), dtype=lamina.float64) for o in outs]
    diff = [x for x in inputs if x.requires_grad]
    fast = grad(list(outs), diff, gos)
    out = fn(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    slow = grad(list(outs), diff, gos, create_graph=True)
    for a, b in zip(fast, slow):
        assert b.requires_grad or not any(x.requires_grad for x in gos)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)


def _check(fn, *inputs):
    _same_first_grads(fn, inputs)
    assert gradgradcheck(fn, inputs)


# ---- shape ops --------------------------------------------------------------------------------

SHAPE_CASES = {
    "reshape": lambda x: x.reshape(6, 4) ** 2,
    "reshape_copy": lambda x: x.transpose(0, 1).reshape(12, 2) ** 2,
    "view": lambda x: x.view(2, 12) ** 2,
    "flatten": lambda x: x.flatten(1) ** 2,
    "transpose": lambda x: x.transpose(0, 2) ** 2,
    "t": lambda x: x[0].t() ** 2,
    "permute": lambda x: x.permute(2, 0, 1) ** 2,
    "expand": lambda x: x[:, :1].expand(2, 3, 4) ** 2,
    "expand_lead": lambda x: x[0, 0].expand(3, 4) ** 2,
    "squeeze_dim": lambda x: x[:, :1].squeeze(1) ** 2,
    "squeeze_all": lambda x: x[:1, :, None].squeeze() ** 2,
    "unsqueeze": lambda x: x.unsqueeze(1) ** 2,
    "contiguous": lambda x: x.transpose(0, 1).contiguous() ** 2,
    "clone": lambda x: x.clone() ** 2,
    "basic_index": lambda x: x[:, 1:, None, ::2] ** 2,
    "int_index": lambda x: x[1, -1] ** 2,
    "ellipsis": lambda x: x[..., 1:3] ** 2,
    "narrow": lambda x: x.narrow(2, 1, 2) ** 2,
    "select": lambda x: x.select(1, 2) ** 2,
    "unbind": lambda x: x.unbind(1)[1] ** 2,
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_shape_gradgradcheck(name):
    x = _t(np.random.default_rng(0), 2, 3, 4)
    _check(SHAPE_CASES[name], x)


def test_to_dtype_double_backward():
    # float64 -> float32 -> float64 loses precision: a loose finite-difference check.
    x = _t(np.random.default_rng(0), 3, 2)
    fn = lambda x: x.to(lamina.float32).to(lamina.float64) ** 3  # noqa: E731
    assert gradgradcheck(fn, (x,), eps=1e-3, atol=1e-2, rtol=1e-2)
    (g,) = grad([fn(x)], [x], [lamina.ones(3, 2, dtype=lamina.float64)], create_graph=True)
    assert g.dtype is lamina.float64 and g.requires_grad


def test_basic_index_third_order():
    x = _t(np.random.default_rng(0), 3, 4)
    y = x[1:, ::2] ** 3
    (g,) = grad([y], [x], [lamina.ones(2, 2, dtype=lamina.float64)], create_graph=True)
    (h,) = grad([g], [x], [lamina.ones(3, 4, dtype=lamina.float64)], create_graph=True)
    (k,) = grad([h], [x], [lamina.ones(3, 4, dtype=lamina.float64)])
    ref = np.zeros((3, 4))
    ref[1:, ::2] = 6.0  # d^3/dx^3 x^3
    np.testing.assert_allclose(k.numpy(), ref)


# ---- indexing / joining ---------------------------------------------------------------------

def _setitem_adv(x, y):
    z = x * 1.0
    z[_idx([1, 0]), 1:] = y[:, :1, :] * 2.0
    return z ** 2


def _setitem_basic(x, y):
    z = x * 1.0
    z[:, 1:3] = y[0]
    return z ** 2


def _setitem_mask(x, y):
    z = x * 1.0
    z[x.detach() > 0.3] = y[0, 0, 0] ** 2
    return z ** 2


def _copy(x, y):
    z = x * 1.0
    z[0].copy_(y[1, :1] ** 2)
    return z ** 3


GIDX = [[[2, 0, 1], [1, 1, 0], [0, 2, 2]], [[1, 0, 0], [2, 2, 1], [0, 1, 2]]]

INDEX_CASES = {
    "cat": (lambda x, y: lamina.cat([x, y], 1) ** 2, "xy"),
    "cat_neg_dim": (lambda x, y: lamina.cat([x, y * y], -2) ** 2, "xy"),
    "cat_empty": (lambda x: lamina.cat([lamina.zeros(0, dtype=lamina.float64), x], 0) ** 2, "x"),
    "stack": (lambda x, y: lamina.stack([x, y[:, :1].expand(2, 3, 4)], 2) ** 2, "xy"),
    "split": (lambda x: tuple(p ** 2 for p in lamina.split(x, [1, 2], 1)), "x"),
    "split_one_used": (lambda x: lamina.split(x, [1, 2], 1)[1] ** 2, "x"),
    "chunk": (lambda x: lamina.chunk(x, 2, 2)[0] ** 3, "x"),
    "index_select": (lambda x: x.index_select(1, _idx([2, 0, 2])) ** 2, "x"),
    "gather": (lambda x: x.gather(1, _idx(GIDX)) ** 2, "x"),
    "scatter_add": (lambda x, s: x.scatter_add(1, _idx(GIDX), s) ** 2, "xs"),
    "adv_index": (lambda x: x[_idx([1, 0, 1]), :, [0, 3, 3]] ** 2, "x"),
    "adv_separated": (lambda x: x[[0, 1], 1:, [2, 3]] ** 2, "x"),
    "bool_mask": (lambda x: x[x.detach() > 0] ** 2, "x"),
    "setitem_adv": (_setitem_adv, "xy"),
    "setitem_basic": (_setitem_basic, "xy"),
    "setitem_mask": (_setitem_mask, "xy"),
    "copy_": (_copy, "xy"),
    "pad_constant": (lambda x: F.pad(x, (1, 2, 0, 1), value=0.5) ** 2, "x"),
    "pad_negative": (lambda x: F.pad(x, (1, -1, -1, 0)) ** 2, "x"),
    "pad_reflect": (lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect") ** 2, "x"),
    "pad_replicate": (lambda x: F.pad(x, (2, 1), mode="replicate") ** 2, "x"),
    "pad_circular": (lambda x: F.pad(x, (2, 1, -1, 1), mode="circular") ** 2, "x"),
}


@pytest.mark.parametrize("name", sorted(INDEX_CASES))
def test_indexing_gradgradcheck(name):
    rng = np.random.default_rng(0)
    shapes = {"x": (2, 3, 4), "y": (2, 2, 4), "s": (2, 5, 4)}
    fn, args = INDEX_CASES[name]
    _check(fn, *[_t(rng, *shapes[a]) for a in args])


def test_scatter_add_src_larger_than_index():
    rng = np.random.default_rng(0)
    x, s = _t(rng, 3, 4), _t(rng, 4, 5)
    idx = _idx([[0, 2], [1, 1], [2, 0]])
    _check(lambda x, s: x.scatter_add(0, idx, s) ** 2, x, s)


@pytest.mark.parametrize("name", ["index_select", "gather", "adv_index", "pad_constant", "setitem_adv"])
def test_indexing_third_order(name):
    """The backward of each op is itself a Function with a backward_graph (adjoint pairs), so a
    third derivative exists; for fn(x) = op(x) ** 3 it is 6 * op'(ones) summed back."""
    rng = np.random.default_rng(0)
    fn, args = INDEX_CASES[name]
    ins = [_t(rng, *{"x": (2, 3, 4), "y": (2, 2, 4)}[a]) for a in args]
    cube = lambda *a: fn(*a) ** 1.5  # noqa: E731  (op ** 2 ** 1.5 = |op| ** 3)
    out = cube(*ins)
    ones = lamina.ones(*out.shape, dtype=lamina.float64)
    (g,) = grad([out], [ins[0]], [ones], create_graph=True)
    (h,) = grad([g], [ins[0]], [lamina.ones(*g.shape, dtype=lamina.float64)], create_graph=True)
    (k,) = grad([h], [ins[0]], [lamina.ones(*h.shape, dtype=lamina.float64)], allow_unused=True)
    assert k is not None and np.isfinite(k.numpy()).all()


# ---- against torch -----------------------------------------------------------------------------

def _model(lib, F_, x, w):
    """A small model made of shape and indexing ops (and elementwise products)."""
    h = (x * w).permute(0, 2, 1)                                  # (2, 4, 3)
    h = F_.pad(h, (1, 1), mode="reflect")                         # (2, 4, 5)
    h = lib.cat([h, h[:, :2] ** 2], 1)                            # (2, 6, 5)
    h = h.reshape(2, 30).index_select(1, lib.tensor([0, 7, 7, 29, 13, 4]))
    h = lib.stack([h, h.transpose(0, 1).t()[[1, 0]] * 0.5], 2)     # (2, 6, 2)
    g = h.gather(1, lib.tensor([[[1, 0], [5, 2]], [[3, 3], [0, 4]]]))
    return (g * g * h[:, :2] + h[:, 1:3, :1].expand(2, 2, 2) ** 3)


def _both(seed=0):
    rng = np.random.default_rng(seed)
    xa, wa = rng.standard_normal((2, 3, 4)), rng.standard_normal((4,))
    lx, lw = (lamina.tensor(a, dtype=lamina.float64, requires_grad=True) for a in (xa, wa))
    torch = pytest.importorskip("torch")
    tx, tw = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (xa, wa))
    return torch, (lx, lw), (tx, tw)


def test_gradient_penalty_matches_torch():
    torch, (lx, lw), (tx, tw) = _both()
    lo = _model(lamina, F, lx, lw)
    to = _model(torch, torch.nn.functional, tx, tw)
    np.testing.assert_allclose(lo.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    go = np.random.default_rng(5).standard_normal(tuple(to.shape))
    (lg,) = grad([lo], [lx], [lamina.tensor(go, dtype=lamina.float64)], create_graph=True)
    (tg,) = torch.autograd.grad(to, tx, torch.tensor(go), create_graph=True)
    ((lg * lg).sum()).backward()
    ((tg * tg).sum()).backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_matches_torch():
    torch, (lx, lw), (tx, tw) = _both(1)
    v = np.random.default_rng(7).standard_normal((2, 3, 4))
    go = np.random.default_rng(8).standard_normal((2, 2, 2))
    lo = _model(lamina, F, lx, lw)
    to = _model(torch, torch.nn.functional, tx, tw)
    (lg,) = grad([lo], [lx], [lamina.tensor(go, dtype=lamina.float64)], create_graph=True)
    (tg,) = torch.autograd.grad(to, tx, torch.tensor(go), create_graph=True)
    lhv = grad([lg], [lx, lw], [lamina.tensor(v, dtype=lamina.float64)])
    thv = torch.autograd.grad(tg, (tx, tw), torch.tensor(v))
    for a, b in zip(lhv, thv):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
