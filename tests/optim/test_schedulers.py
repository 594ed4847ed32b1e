"""lamina.optim.lr_scheduler against torch.optim.lr_scheduler: the same lr sequences over 40
epochs (two param groups with different base lrs), ReduceLROnPlateau on fixed metric sequences,
state_dict round trips and argument errors."""
import math

import numpy as np
import pytest

import lamina
import lamina.optim as optim
from lamina.optim import lr_scheduler as ls

torch = pytest.importorskip("torch")
tls = torch.optim.lr_scheduler

EPOCHS = 40


def pair(opt_name="SGD"):
    lp = [lamina.tensor([1.0], requires_grad=True), lamina.tensor([2.0], requires_grad=True)]
    tp = [torch.tensor([1.0], requires_grad=True), torch.tensor([2.0], requires_grad=True)]
    groups = lambda ps: [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.03}]  # noqa: E731
    lo = getattr(optim, opt_name)(groups(lp), lr=0.1)
    to = getattr(torch.optim, opt_name)(groups(tp), lr=0.1)
    return lo, to


def lr_sequence(sched, opt, n=EPOCHS):
    seq = [list(sched.get_last_lr())]
    for _ in range(n):
        opt.step()
        sched.step()
        seq.append(list(sched.get_last_lr()))
        assert seq[-1] == [g["lr"] for g in opt.param_groups]
    return seq


class Scale:
    """A callable object (not a function): its state is saved by LambdaLR.state_dict."""

    def __init__(self, k):
        self.k = k

    def __call__(self, epoch):
        return self.k ** epoch


SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 25], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),  # several half-periods: exercises the restart branch
    ("CosineAnnealingLR", dict(T_max=13, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e))),
    ("LambdaLR", "per-group"),
]


@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_lr_sequence_matches_torch(name, kw):
    lo, to = pair()
    if kw == "per-group":
        kw_l = dict(lr_lambda=[lambda e: 0.95 ** e, Scale(0.8)])
        kw_t = dict(lr_lambda=[lambda e: 0.95 ** e, Scale(0.8)])
    else:
        kw_l = kw_t = kw
    sl = getattr(ls, name)(lo, **kw_l)
    st = getattr(tls, name)(to, **kw_t)
    assert lo.param_groups[0]["initial_lr"] == 0.1 and lo.param_groups[1]["initial_lr"] == 0.03
    a, b = lr_sequence(sl, lo), lr_sequence(st, to)
    np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-12, atol=1e-15)
    assert sl.last_epoch == st.last_epoch == EPOCHS


def test_cosine_closed_form_and_values():
    lo, _ = pair()
    s = ls.CosineAnnealingLR(lo, T_max=10, eta_min=0.0)
    lrs = lr_sequence(s, lo, 10)
    expect = [0.1 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose([x[0] for x in lrs], expect, atol=1e-12)


@pytest.mark.parametrize("name,kw", [("StepLR", dict(step_size=3, gamma=0.5)),
                                     ("MultiStepLR", dict(milestones=[2, 5], gamma=0.1)),
                                     ("ExponentialLR", dict(gamma=0.7)),
                                     ("CosineAnnealingLR", dict(T_max=8))])
def test_step_with_epoch_uses_closed_form(name, kw):
    lo, to = pair()
    sl, st = getattr(ls, name)(lo, **kw), getattr(tls, name)(to, **kw)
    with pytest.warns(UserWarning):
        st.step(6)
    sl.step(6)
    np.testing.assert_allclose(sl.get_last_lr(), st.get_last_lr(), rtol=1e-12)


@pytest.mark.parametrize("kw,metrics", [
    (dict(patience=2), [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85] * 4),
    (dict(mode="max", factor=0.5, patience=1, cooldown=2),
     [0.1, 0.2, 0.2, 0.19, 0.18, 0.3, 0.3, 0.3, 0.3, 0.31] * 4),
    (dict(patience=0, threshold=0.1, threshold_mode="abs", min_lr=0.004),
     list(np.linspace(1.0, 0.0, 40))),
    (dict(patience=1, threshold=0.05, min_lr=[0.01, 0.0], eps=1e-3, factor=0.3),
     [5.0, 4.9, 4.8, 4.0, 4.0, 3.99, 3.0] * 6),
    (dict(mode="max", threshold_mode="abs", threshold=0.01, patience=3),
     list(np.sin(np.arange(40) / 3.0))),
])
def test_reduce_on_plateau_matches_torch(kw, metrics):
    lo, to = pair()
    sl, st = ls.ReduceLROnPlateau(lo, **kw), tls.ReduceLROnPlateau(to, **kw)
    for i, m in enumerate(metrics):
        lo.step()
        to.step()
        sl.step(m if i % 2 else lamina.tensor(m, dtype=lamina.float64))  # 0-d tensors are accepted as metrics
        st.step(m)
        assert sl.get_last_lr() == st.get_last_lr(), f"epoch {i}"
        assert (sl.num_bad_epochs, sl.cooldown_counter, sl.best) == \
            (st.num_bad_epochs, st.cooldown_counter, st.best)
    assert sl.get_last_lr() != [0.1, 0.03]  # the sequences did reduce the lr


def test_reduce_on_plateau_state_dict_and_errors():
    lo, _ = pair()
    s = ls.ReduceLROnPlateau(lo, patience=1)
    for m in [1.0, 1.0, 1.0, 1.0]:
        s.step(m)
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    lo2, _ = pair()
    s2 = ls.ReduceLROnPlateau(lo2)
    s2.load_state_dict(sd)
    assert s2.patience == 1 and s2.best == 1.0 and s2.mode_worse == math.inf
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        ls.ReduceLROnPlateau(lo, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown!"):
        ls.ReduceLROnPlateau(lo, mode="avg")
    with pytest.raises(ValueError, match="threshold mode x is unknown!"):
        ls.ReduceLROnPlateau(lo, threshold_mode="x")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        ls.ReduceLROnPlateau(lo, min_lr=[0, 0, 0])
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        ls.ReduceLROnPlateau([])


def test_scheduler_state_dict_round_trip():
    lo, _ = pair()
    s = ls.StepLR(lo, step_size=4, gamma=0.5)
    for _ in range(6):
        lo.step()
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 6 and sd["base_lrs"] == [0.1, 0.03]
    ref = lr_sequence(s, lo, 10)

    lo2, _ = pair()
    s2 = ls.StepLR(lo2, step_size=100)
    s2.load_state_dict(sd)
    for g, lr in zip(lo2.param_groups, sd["_last_lr"]):
        g["lr"] = lr
    assert lr_sequence(s2, lo2, 10) == ref


def test_lambda_state_dict_saves_callable_objects_only():
    lo, _ = pair()
    s = ls.LambdaLR(lo, [lambda e: 1.0, Scale(0.5)])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [None, {"k": 0.5}]
    lo2, _ = pair()
    s2 = ls.LambdaLR(lo2, [lambda e: 1.0, Scale(0.9)])
    s2.load_state_dict(sd)
    assert s2.lr_lambdas[1].k == 0.5


def test_scheduler_errors():
    lo, _ = pair()
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        ls.StepLR([], step_size=1)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        ls.LambdaLR(lo, [lambda e: 1.0])
    with pytest.raises(KeyError, match="initial_lr"):
        ls.ExponentialLR(lo, gamma=0.9, last_epoch=3)


def test_resume_with_last_epoch_matches_torch():
    lo, to = pair()
    for o in (lo, to):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
    sl = ls.CosineAnnealingLR(lo, T_max=12, last_epoch=4)
    st = tls.CosineAnnealingLR(to, T_max=12, last_epoch=4)
    np.testing.assert_allclose(lr_sequence(sl, lo, 15), lr_sequence(st, to, 15), rtol=1e-12)


def test_scheduler_drives_the_optimizer():
    p = lamina.tensor([1.0], requires_grad=True)
    o = optim.SGD([p], lr=1.0)
    s = ls.StepLR(o, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = lamina.tensor([1.0])
        o.step()
        s.step()
    # steps of 1.0, 0.5, 0.25
    np.testing.assert_allclose(p.detach().numpy(), [1.0 - 1.75])
