"""Losses vs PyTorch: every reduction and option, gradients, finite differences, error messages."""
import numpy as np
import pytest
from helpers import check_op

import lamina
import lamina.nn.functional as F


def tF():
    return pytest.importorskip("torch").nn.functional


def labels(shape, C, ignore=None):
    def f(rng):
        t = rng.integers(0, C, size=shape)
        if ignore is not None:
            t.reshape(-1)[::3] = ignore
        return t.astype(np.int64)
    return f


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_indices(reduction):
    for shape, tshape in [((8, 10), (8,)), ((1, 3), (1,)), ((3, 4, 5), (3, 5)), ((2, 3, 2, 2), (2, 2, 2))]:
        check_op(lambda x, t: F.cross_entropy(x, t, reduction=reduction),
                 lambda x, t: tF().cross_entropy(x, t, reduction=reduction),
                 [shape, labels(tshape, shape[1])])
    check_op(lambda x, t: F.cross_entropy(x, t), lambda x, t: tF().cross_entropy(x, t), [(6,), labels((), 6)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_options(reduction, ls):
    w = lambda rng: rng.uniform(0.5, 2.0, 5)  # noqa: E731
    kw = dict(reduction=reduction, label_smoothing=ls, ignore_index=2)
    check_op(lambda x, t, w: F.cross_entropy(x, t, weight=w, **kw),
             lambda x, t, w: tF().cross_entropy(x, t, weight=w, **kw),
             [(7, 5), labels((7,), 5), w], grad=[True, False, False])
    check_op(lambda x, t: F.cross_entropy(x, t, **kw), lambda x, t: tF().cross_entropy(x, t, **kw),
             [(4, 5, 3), labels((4, 3), 5)], noncontig=True)
    kw2 = dict(reduction=reduction, label_smoothing=ls)
    check_op(lambda x, t: F.cross_entropy(x, t, ignore_index=-1, **kw2),
             lambda x, t: tF().cross_entropy(x, t, ignore_index=-1, **kw2), [(9, 4), labels((9,), 4, ignore=-1)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probabilities(reduction):
    probs = lambda shape: (lambda rng: np.exp(p := rng.standard_normal(shape)) / np.exp(p).sum(1, keepdims=True))  # noqa
    for ls in (0.0, 0.1):
        check_op(lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=ls),
                 lambda x, t: tF().cross_entropy(x, t, reduction=reduction, label_smoothing=ls),
                 [(5, 4), probs((5, 4))])
    check_op(lambda x, t, w: F.cross_entropy(x, t, w, reduction=reduction),
             lambda x, t, w: tF().cross_entropy(x, t, w, reduction=reduction),
             [(2, 3, 4), probs((2, 3, 4)), lambda rng: rng.uniform(0.5, 2, 3)], grad=[True, True, False])


def test_cross_entropy_all_ignored_and_empty():
    x = lamina.randn(3, 4)
    t = lamina.tensor([-100, -100, -100])
    assert np.isnan(F.cross_entropy(x, t).item())
    assert F.cross_entropy(x, t, reduction="sum").item() == 0.0


def test_cross_entropy_errors():
    x = lamina.randn(8, 10)
    with pytest.raises(ValueError, match=r"cross_entropy: expected target of shape \[N\]=\[8\] with class "
                                         r"indices in \[0, 10\), got shape \[8, 1\]"):
        F.cross_entropy(x, lamina.zeros(8, 1, dtype=lamina.int64))
    with pytest.raises(IndexError, match=r"cross_entropy: target 10 is out of bounds.*\[0, 10\)"):
        F.cross_entropy(x, lamina.full((8,), 10, dtype=lamina.int64))
    with pytest.raises(IndexError, match="target -3"):
        F.cross_entropy(x, lamina.full((8,), -3, dtype=lamina.int64))
    with pytest.raises(ValueError, match=r"floating target.*\[8, 10\].*got \[8\]"):
        F.cross_entropy(x, lamina.zeros(8))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, lamina.zeros(8, dtype=lamina.int64), reduction="avg")
    with pytest.raises(ValueError, match=r"weight of shape \[C\]=\[10\], got \[3\]"):
        F.cross_entropy(x, lamina.zeros(8, dtype=lamina.int64), weight=lamina.ones(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, lamina.zeros(8, dtype=lamina.int64), label_smoothing=1.5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    kw = dict(reduction=reduction)
    check_op(lambda x, t: F.nll_loss(x, t, **kw), lambda x, t: tF().nll_loss(x, t, **kw),
             [(6, 4), labels((6,), 4)])
    check_op(lambda x, t, w: F.nll_loss(x, t, w, ignore_index=1, **kw),
             lambda x, t, w: tF().nll_loss(x, t, w, ignore_index=1, **kw),
             [(3, 4, 5), labels((3, 5), 4), lambda rng: rng.uniform(0.5, 2, 4)], grad=[True, False, False])
    with pytest.raises(ValueError, match=r"nll_loss: expected target of shape \[N\]=\[6\]"):
        F.nll_loss(lamina.randn(6, 4), lamina.zeros(5, dtype=lamina.int64))


POINTWISE = [
    ("mse_loss", {}), ("l1_loss", {}), ("huber_loss", {"delta": 0.7}), ("huber_loss", {}),
    ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.0}),
]


def away(shape, gap=0.05):
    """Differences kept away from 0 and from +-0.5/0.7/1 kinks for finite differences."""
    def f(rng):
        d = rng.uniform(0.1, 2.0, shape) * rng.choice([-1, 1], shape)
        for k in (0.5, 0.7, 1.0):
            d = np.where(np.abs(np.abs(d) - k) < gap, d + 2 * gap * np.sign(d), d)
        return d
    return f


@pytest.mark.parametrize("name,kw", POINTWISE)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_regression_losses(name, kw, reduction):
    check_op(lambda d, y: getattr(F, name)(d + y, y, reduction=reduction, **kw),
             lambda d, y: getattr(tF(), name)(d + y, y, reduction=reduction, **kw),
             [away((4, 5)), (4, 5)])
    check_op(lambda x, y: getattr(F, name)(x, y, reduction=reduction, **kw),
             lambda x, y: getattr(tF(), name)(x, y, reduction=reduction, **kw),
             [away((3, 4)), (3, 4)], noncontig=True, fd=False)


def test_mse_broadcast_and_sse():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda x, y: F.mse_loss(x, y), lambda x, y: tF().mse_loss(x, y), [(4, 3), (3,)])
    a = np.arange(6.0).reshape(2, 3)
    sse = F.mse_loss(lamina.from_numpy(a), lamina.zeros(2, 3, dtype=lamina.float64), reduction="sum")
    assert sse.item() == float((a ** 2).sum())
    assert np.isnan(F.mse_loss(lamina.zeros(0), lamina.zeros(0)).item())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction):
    p = lambda rng: rng.uniform(0.05, 0.95, (4, 3))  # noqa: E731
    y = lambda rng: rng.uniform(0, 1, (4, 3))  # noqa: E731
    check_op(lambda x, t: F.binary_cross_entropy(x, t, reduction=reduction),
             lambda x, t: tF().binary_cross_entropy(x, t, reduction=reduction), [p, y])
    check_op(lambda x, t, w: F.binary_cross_entropy(x, t, w, reduction=reduction),
             lambda x, t, w: tF().binary_cross_entropy(x, t, w, reduction=reduction),
             [p, y, lambda rng: rng.uniform(0.5, 2, (3,))], grad=[True, False, False])


def test_binary_cross_entropy_clamp_and_errors():
    x = lamina.tensor([0.0, 1.0], dtype=lamina.float64)
    t = lamina.tensor([1.0, 0.0], dtype=lamina.float64)
    assert F.binary_cross_entropy(x, t).item() == 100.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(lamina.tensor([1.5]), lamina.tensor([1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target shape \[4\] must be the same as "
                                         r"input shape \[4, 1\]"):
        F.binary_cross_entropy(lamina.rand(4, 1), lamina.rand(4))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction):
    y = lambda rng: rng.uniform(0, 1, (5, 3))  # noqa: E731
    check_op(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=reduction),
             lambda x, t: tF().binary_cross_entropy_with_logits(x, t, reduction=reduction), [(5, 3), y])
    pw = lambda rng: rng.uniform(0.5, 3, (3,))  # noqa: E731
    w = lambda rng: rng.uniform(0.5, 2, (5, 1))  # noqa: E731
    check_op(lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=pw),
             lambda x, t, w, pw: tF().binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=pw),
             [(5, 3), y, w, pw], grad=[True, True, False, False])
    big = lamina.tensor([100.0, -100.0])
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(big, lamina.tensor([1.0, 0.0])).item(), 0.0,
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"with_logits.*\[3\].*\[2\]"):
        F.binary_cross_entropy_with_logits(lamina.randn(2), lamina.rand(3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    inp = lambda rng: np.log(rng.uniform(0.1, 1, (4, 5)))  # noqa: E731
    tgt = (lambda rng: np.log(rng.uniform(0.1, 1, (4, 5)))) if log_target else (lambda rng: rng.uniform(0.1, 1, (4, 5)))
    check_op(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
             lambda x, t: tF().kl_div(x, t, reduction=reduction, log_target=log_target), [inp, tgt])


def test_loss_errors():
    with pytest.raises(ValueError, match=r"mse_loss: input shape \[2, 3\] and target shape \[4\]"):
        F.mse_loss(lamina.randn(2, 3), lamina.randn(4))
    with pytest.raises(ValueError, match=r"kl_div: reduction must be one of"):
        F.kl_div(lamina.randn(2), lamina.rand(2), reduction="avg")
    with pytest.raises(TypeError, match="mse_loss: target dtype"):
        F.mse_loss(lamina.randn(2), lamina.randn(2, dtype=lamina.float64))
    with pytest.raises(TypeError, match="Tensor"):
        F.l1_loss(lamina.randn(2), [1.0, 2.0])
