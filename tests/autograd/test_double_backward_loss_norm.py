"""Double backward (create_graph=True) of the losses (ops/loss.py), batch/layer norm (ops/norm.py),
embedding and dropout: gradgradcheck for every Function, mode and reduction, the create_graph
gradient equal to the fast fused one, and second derivatives against torch (a gradient penalty
through a small model, a Hessian-vector product)."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina.autograd import grad, gradgradcheck

F64 = lamina.float64
REDS = ["none", "mean", "sum"]


def _t(rng, *shape, lo=None, hi=None):
    a = rng.standard_normal(shape) if lo is None else rng.uniform(lo, hi, shape)
    return lamina.tensor(a, dtype=F64, requires_grad=True)


def _c(rng, *shape, lo=None, hi=None):
    return _t(rng, *shape, lo=lo, hi=hi).detach()


def _check(fn, *inputs):
    """create_graph gradients equal the fast ones, then gradgradcheck."""
    rng = np.random.default_rng(1)
    out = fn(*inputs)
    go = lamina.tensor(rng.standard_normal(out.shape), dtype=F64)
    diff = [x for x in inputs if x.requires_grad]
    fast = grad([fn(*inputs)], diff, [go])
    slow = grad([fn(*inputs)], diff, [go], create_graph=True)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert gradgradcheck(fn, inputs)


TG3 = [[0, 3], [2, -100], [1, 1]]  # [N=3, d=2] class indices for logits [3, 4, 2]
TG1 = [0, 3, 2, 1, -100]           # [N=5] for logits [5, 4]


# ---- cross-entropy / nll ------------------------------------------------------------------

@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("ls", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("spatial", [False, True])
def test_cross_entropy_indices(red, ls, weighted, spatial):
    rng = np.random.default_rng(0)
    x = _t(rng, 3, 4, 2) if spatial else _t(rng, 5, 4)
    tg = lamina.tensor(TG3 if spatial else TG1, dtype=lamina.int64)
    w = _c(rng, 4, lo=0.5, hi=2.0) if weighted else None
    _check(lambda x: F.cross_entropy(x, tg, weight=w, reduction=red, label_smoothing=ls), x)


@pytest.mark.parametrize("red", REDS)
def test_cross_entropy_unbatched(red):
    x = _t(np.random.default_rng(0), 4)
    _check(lambda x: F.cross_entropy(x, lamina.tensor(2, dtype=lamina.int64), reduction=red,
                                     label_smoothing=0.1), x)


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("ls", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probabilities(red, ls, weighted):
    rng = np.random.default_rng(0)
    x = _t(rng, 3, 4, 2)
    p = _c(rng, 3, 4, 2).softmax(1).requires_grad_()
    w = _c(rng, 4, lo=0.5, hi=2.0) if weighted else None
    _check(lambda x, p: F.cross_entropy(x, p, weight=w, reduction=red, label_smoothing=ls), x, p)


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(red, weighted):
    rng = np.random.default_rng(0)
    lp = _c(rng, 5, 4).log_softmax(1).requires_grad_()
    tg = lamina.tensor(TG1, dtype=lamina.int64)
    w = _c(rng, 4, lo=0.5, hi=2.0) if weighted else None
    # NLL is linear in its input: multiply by it so the second derivative is not zero.
    _check(lambda x: F.nll_loss(x, tg, weight=w, reduction=red) * x[:, 1], lp)


# ---- pointwise losses -----------------------------------------------------------------------

def _pointwise_cases():
    yield "mse", lambda a, b, r: F.mse_loss(a, b, reduction=r), {}
    yield "mse_broadcast", lambda a, b, r: F.mse_loss(a, b[0], reduction=r), {}
    yield "l1", lambda a, b, r: F.l1_loss(a, b, reduction=r) * (a * b), {}
    yield "huber", lambda a, b, r: F.huber_loss(a, b, reduction=r, delta=0.7) * a, {}
    yield "smooth_l1", lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.7) * a, {}
    yield "smooth_l1_beta0", lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.0) * a, {}
    yield "bce", lambda a, b, r: F.binary_cross_entropy(a, b, reduction=r), {"a": (0.1, 0.9), "b": (0.0, 1.0)}
    yield "bce_weight", lambda a, b, r: F.binary_cross_entropy(
        a, b, weight=lamina.tensor([0.5, 1.0, 2.0, 1.5], dtype=F64), reduction=r), {"a": (0.1, 0.9), "b": (0.0, 1.0)}
    yield "bce_logits", lambda a, b, r: F.binary_cross_entropy_with_logits(a, b, reduction=r), {"b": (0.0, 1.0)}
    yield "bce_logits_pos_weight", lambda a, b, r: F.binary_cross_entropy_with_logits(
        a, b, weight=lamina.tensor([0.5, 1.0, 2.0, 1.5], dtype=F64),
        pos_weight=lamina.tensor([2.0, 0.5, 1.0, 3.0], dtype=F64), reduction=r), {"b": (0.0, 1.0)}
    yield "kl", lambda a, b, r: F.kl_div(a, b, reduction=r) * a, {"b": (0.1, 1.0)}
    yield "kl_log_target", lambda a, b, r: F.kl_div(a, b, reduction=r, log_target=True) * a, {}


POINTWISE = {name: (fn, rng) for name, fn, rng in _pointwise_cases()}


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_losses(name, red):
    fn, ranges = POINTWISE[name]
    rng = np.random.default_rng(0)
    a = _t(rng, 3, 4, lo=ranges.get("a", (None, None))[0], hi=ranges.get("a", (None, None))[1])
    b = _t(rng, 3, 4, lo=ranges.get("b", (None, None))[0], hi=ranges.get("b", (None, None))[1])
    _check(lambda a, b: fn(a, b, red), a, b)


def test_kl_div_batchmean():
    rng = np.random.default_rng(0)
    a, b = _c(rng, 3, 4).log_softmax(1).requires_grad_(), _t(rng, 3, 4, lo=0.1, hi=1.0)
    _check(lambda a, b: F.kl_div(a, b, reduction="batchmean") * a, a, b)


# ---- norms ------------------------------------------------------------------------------------

@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(3, 2, 2, 3), (5, 3), (4, 2, 3)])
def test_batch_norm(training, affine, shape):
    rng = np.random.default_rng(0)
    C = shape[1]
    x = _t(rng, *shape)
    rm, rv = _c(rng, C), _c(rng, C, lo=0.5, hi=2.0)
    if affine:
        w, b = _t(rng, C, lo=0.5, hi=1.5), _t(rng, C)
        _check(lambda x, w, b: F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=training, eps=1e-3), x, w, b)
    else:
        _check(lambda x: F.batch_norm(x, rm.clone(), rv.clone(), training=training) * x, x)


def test_batch_norm_training_without_running_stats():
    rng = np.random.default_rng(0)
    x, w, b = _t(rng, 5, 3), _t(rng, 3, lo=0.5, hi=1.5), _t(rng, 3)
    _check(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b)


@pytest.mark.parametrize("norm_shape", [[3], [2, 3], [4, 2, 3]])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(norm_shape, affine):
    rng = np.random.default_rng(0)
    x = _t(rng, 4, 2, 3)
    if affine:
        w, b = _t(rng, *norm_shape, lo=0.5, hi=1.5), _t(rng, *norm_shape)
        _check(lambda x, w, b: F.layer_norm(x, norm_shape, w, b, eps=1e-3), x, w, b)
    else:
        _check(lambda x: F.layer_norm(x, norm_shape) * x, x)


# ---- embedding / dropout ----------------------------------------------------------------------

@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding(padding_idx):
    rng = np.random.default_rng(0)
    w = _t(rng, 5, 3)
    ids = lamina.tensor([[0, 2, 2], [4, 1, 2]], dtype=lamina.int64)
    _check(lambda w: F.embedding(ids, w, padding_idx=padding_idx) ** 2, w)


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_scale_grad_by_freq(padding_idx):
    # The scaled gradient is not the derivative of the lookup, so check it where the first
    # gradient does not depend on the weight: the second derivative is then that of the
    # gradient with respect to dout (the adjoint, with the same per-row scale).
    rng = np.random.default_rng(0)
    w = _t(rng, 5, 3)
    c = _c(rng, 2, 3, 3)
    ids = lamina.tensor([[0, 2, 2], [4, 1, 2]], dtype=lamina.int64)
    _check(lambda w: F.embedding(ids, w, padding_idx=padding_idx, scale_grad_by_freq=True) * c, w)


def test_embedding_third_order():
    rng = np.random.default_rng(0)
    w = _t(rng, 4, 2)
    ids = lamina.tensor([1, 3, 1], dtype=lamina.int64)
    y = F.embedding(ids, w) ** 3
    (g,) = grad([y], [w], [lamina.ones(3, 2, dtype=F64)], create_graph=True)
    (h,) = grad([g], [w], [lamina.ones(4, 2, dtype=F64)], create_graph=True)
    (k,) = grad([h], [w], [lamina.ones(4, 2, dtype=F64)])
    counts = np.array([0, 2, 0, 1])[:, None]
    np.testing.assert_allclose(k.numpy(), 6.0 * counts * np.ones((4, 2)))


@pytest.mark.parametrize("inplace", [False, True])
def test_dropout(inplace):
    x = _t(np.random.default_rng(0), 4, 6)

    def fn(x):
        lamina.manual_seed(3)
        if not inplace:
            return F.dropout(x, 0.4) ** 2
        y = x * 1.0
        F.dropout(y, 0.3, inplace=True)
        return y ** 3

    _check(fn, x)


def test_dropout_third_order_keeps_mask():
    x = _t(np.random.default_rng(0), 3, 5)
    lamina.manual_seed(1)
    y = F.dropout(x, 0.5) ** 3
    ones = lamina.ones(3, 5, dtype=F64)
    (g,) = grad([y], [x], [ones], create_graph=True)
    (h,) = grad([g], [x], [ones], create_graph=True)
    (k,) = grad([h], [x], [ones])
    kept = (y.detach().numpy() != 0)
    # d^3/dx^3 (2x)^3 = 6 * 8 where kept, 0 where dropped
    np.testing.assert_allclose(k.numpy(), np.where(kept, 48.0, 0.0))


# ---- against torch ------------------------------------------------------------------------------

def _model(F_, x, w, b, ids, emb, tg):
    """Embedding, layer norm, batch norm and the losses, joined with elementwise products."""
    e = F_.embedding(ids, emb)                                      # (4, 3)
    h = F_.layer_norm(x * e, [3], w, b)                             # (4, 3)
    h = F_.batch_norm(h * h, None, None, w, b, training=True)       # (4, 3)
    return (F_.cross_entropy(h, tg, label_smoothing=0.1)
            + F_.mse_loss(h, x * 0.5) * 0.3
            + F_.binary_cross_entropy_with_logits(h, x.detach() * 0 + 0.25)
            + F_.smooth_l1_loss(h, e, beta=0.5))


def _both(seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((4, 3)), rng.uniform(0.5, 1.5, 3), rng.standard_normal(3),
              rng.standard_normal((5, 3))]
    la = [lamina.tensor(a, dtype=F64, requires_grad=True) for a in arrays]
    ta = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    lo = _model(F, *la[:3], lamina.tensor([4, 0, 4, 2], dtype=lamina.int64), la[3],
                lamina.tensor([2, 0, 1, 1], dtype=lamina.int64))
    to = _model(torch.nn.functional, *ta[:3], torch.tensor([4, 0, 4, 2]), ta[3],
                torch.tensor([2, 0, 1, 1]))
    np.testing.assert_allclose(lo.item(), to.item(), rtol=1e-10)
    return torch, la, lo, ta, to


def test_gradient_penalty_matches_torch():
    torch, la, lo, ta, to = _both(0)
    lg = grad([lo], la, create_graph=True)
    tg = torch.autograd.grad(to, ta, create_graph=True)
    lp = sum(((g * g).sum() for g in lg), lamina.tensor(0.0, dtype=F64))
    tp = sum((g * g).sum() for g in tg)
    lp.backward()
    tp.backward()
    for a, b in zip(la, ta):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_hessian_vector_product_matches_torch():
    torch, la, lo, ta, to = _both(1)
    rng = np.random.default_rng(2)
    vs = [rng.standard_normal(tuple(t.shape)) for t in ta]
    lg = grad([lo], la, create_graph=True)
    tg = torch.autograd.grad(to, ta, create_graph=True)
    lhv = grad(list(lg), la, [lamina.tensor(v, dtype=F64) for v in vs])
    thv = torch.autograd.grad(tg, ta, [torch.tensor(v) for v in vs])
    for a, b in zip(lhv, thv):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)
