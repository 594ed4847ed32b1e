"""Parameter groups with their own hyper-parameters in every optimizer, against torch.optim in float64:
two groups differing in lr, weight decay, momentum and the optimizer's other options, a group added
with add_param_group partway through training (the fine-tuning pattern: unfreeze a layer, give it
a smaller lr), and state_dict / load_state_dict keeping every group's options and state."""
import io

import numpy as np
import pytest

import lamina
import lamina.optim as optim

torch = pytest.importorskip("torch")

# (optimizer, defaults, group 0 overrides, group 1 overrides): every option that changes the math
# differs between the groups somewhere.
GROUPS = [
    ("SGD", dict(lr=0.1), dict(momentum=0.9, nesterov=True),
     dict(lr=0.02, momentum=0.5, dampening=0.2, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.9), dict(weight_decay=0.1, maximize=True), dict(lr=0.3, momentum=0.0)),
    ("Adam", dict(lr=0.01), dict(weight_decay=0.05),
     dict(lr=0.002, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.2, amsgrad=True)),
    ("AdamW", dict(lr=0.01), dict(weight_decay=0.0), dict(lr=0.03, weight_decay=0.3, betas=(0.5, 0.9), maximize=True)),
    ("RMSprop", dict(lr=0.01), dict(momentum=0.9), dict(lr=0.001, alpha=0.9, weight_decay=0.05, centered=True, eps=1e-4)),
    ("Adagrad", dict(lr=0.1), dict(lr_decay=0.05), dict(lr=0.02, weight_decay=0.1, eps=1e-6)),
]
IDS = [f"{g[0]}-{i}" for i, g in enumerate(GROUPS)]
SHAPES = [(3, 4), (4,), (2, 5), (5,)]


def params(seed=0):
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal(s) for s in SHAPES]
    return ([lamina.tensor(a, requires_grad=True) for a in arrs], [torch.tensor(a, requires_grad=True) for a in arrs])


def set_grads(lam, tor, rng):
    for lp, tp in zip(lam, tor):
        g = rng.standard_normal(tuple(tp.shape))
        lp.grad, tp.grad = lamina.tensor(g), torch.tensor(g)


def same(lam, tor, what):
    for i, (lp, tp) in enumerate(zip(lam, tor)):
        np.testing.assert_allclose(lp.detach().numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=f"{what}: param {i}")


def step_both(lo, to, lam, tor, rng, n, what):
    for s in range(n):
        set_grads(lam, tor, rng)
        lo.step()
        to.step()
        same(lam, tor, f"{what} step {s}")


@pytest.mark.parametrize("name,defaults,g0,g1", GROUPS, ids=IDS)
def test_two_groups_match_torch(name, defaults, g0, g1):
    lam, tor = params()
    groups = lambda ps: [{"params": ps[:2], **g0}, {"params": ps[2:], **g1}]  # noqa: E731
    lo = getattr(optim, name)(groups(lam), **defaults)
    to = getattr(torch.optim, name)(groups(tor), foreach=False, **defaults)
    for key in set(g0) | set(g1) | set(defaults):  # every option resolved per group as torch does
        for lg, tg in zip(lo.param_groups, to.param_groups):
            assert lg[key] == tg[key], key
    step_both(lo, to, lam, tor, np.random.default_rng(1), 6, name)
    # changing one group's options between steps (what schedulers do) affects that group only
    for o in (lo, to):
        o.param_groups[1]["lr"] *= 0.5
        o.param_groups[0]["weight_decay"] = 0.01
    step_both(lo, to, lam, tor, np.random.default_rng(2), 3, f"{name} after edits")


@pytest.mark.parametrize("name,defaults,g0,g1", GROUPS, ids=IDS)
def test_add_param_group_midway_matches_torch(name, defaults, g0, g1):
    lam, tor = params(3)
    lo = getattr(optim, name)([{"params": lam[:2], **g0}], **defaults)
    to = getattr(torch.optim, name)([{"params": tor[:2], **g0}], foreach=False, **defaults)
    rng = np.random.default_rng(4)
    for s in range(3):  # only the first group trains; the others get gradients nobody applies
        set_grads(lam, tor, rng)
        lo.step()
        to.step()
        same(lam[:2], tor[:2], f"{name} before add, step {s}")
    lo.add_param_group({"params": lam[2:], **g1})
    to.add_param_group({"params": tor[2:], **g1})
    assert len(lo.param_groups) == 2
    for k, v in lo.param_groups[1].items():
        if k != "params":
            assert v == to.param_groups[1][k], k
    # the untouched parameters start from where they were, then train with their own options
    same(lam[2:], tor[2:], f"{name} at add")
    step_both(lo, to, lam, tor, rng, 4, f"{name} after add")


@pytest.mark.parametrize("name,defaults,g0,g1", GROUPS, ids=IDS)
def test_state_dict_keeps_groups(name, defaults, g0, g1):
    lam, tor = params(5)
    groups = lambda ps: [{"params": ps[:2], **g0}, {"params": ps[2:], **g1}]  # noqa: E731
    lo = getattr(optim, name)(groups(lam), **defaults)
    to = getattr(torch.optim, name)(groups(tor), foreach=False, **defaults)
    step_both(lo, to, lam, tor, np.random.default_rng(6), 3, name)

    sd = lo.state_dict()
    tsd = to.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]] == [[0, 1], [2, 3]]
    for lg, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert {k: v for k, v in lg.items() if k in tg} == {k: v for k, v in tg.items() if k in lg}
    # a fresh optimizer built with other options and one group per parameter set gets them all back,
    # through a file (lamina.save / lamina.load) as a training checkpoint would
    copy = [lamina.tensor(p.detach().numpy().copy(), requires_grad=True) for p in lam]
    lo2 = getattr(optim, name)([{"params": copy[:2]}, {"params": copy[2:]}], lr=123.0)
    buf = io.BytesIO()
    lamina.save(sd, buf)
    buf.seek(0)
    lo2.load_state_dict(lamina.load(buf))
    for g, want in zip(lo2.param_groups, lo.param_groups):
        assert {k: v for k, v in g.items() if k != "params"} == {k: v for k, v in want.items() if k != "params"}
    assert lo2.param_groups[1]["params"][0] is copy[2]
    rng = np.random.default_rng(7)
    for s in range(3):
        set_grads(copy, tor, rng)
        lo2.step()
        to.step()
        same(copy, tor, f"{name} loaded, step {s}")


def test_adagrad_initial_accumulator_value_per_group():
    """A deliberate difference from torch: torch.optim.Adagrad fills every group's ``sum`` with the
    constructor's initial_accumulator_value, ignoring a group's own; lamina uses the group's."""
    a = lamina.tensor(np.array([1.0, 2.0]), requires_grad=True)  # float64
    b = lamina.tensor(np.array([3.0]), requires_grad=True)
    o = optim.Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 0.5}], lr=0.1,
                      initial_accumulator_value=0.1)
    np.testing.assert_array_equal(o.state[a]["sum"].numpy(), [0.1, 0.1])
    np.testing.assert_array_equal(o.state[b]["sum"].numpy(), [0.5])
    c = lamina.tensor(np.array([4.0]), requires_grad=True)
    o.add_param_group({"params": [c], "initial_accumulator_value": 2.0})
    c.grad = lamina.tensor(np.array([1.0]))
    o.step()
    np.testing.assert_allclose(o.state[c]["sum"].numpy(), [3.0])
    np.testing.assert_allclose(c.detach().numpy(), [4.0 - 0.1 / (np.sqrt(3.0) + 1e-10)])


def test_finetune_pattern_frozen_then_unfrozen_with_smaller_lr():
    """The pattern of fine-tuning: the head trains first; then the body is unfrozen and added as a
    group with a tenth of the lr; both groups then follow their own lr (and a scheduler scales both)."""
    from lamina import nn
    from lamina.nn.utils import freeze, unfreeze
    lamina.manual_seed(0)
    body, head = nn.Linear(4, 8), nn.Linear(8, 2)
    model = nn.Sequential(body, nn.ReLU(), head)
    freeze(model, except_="2")
    o = optim.SGD(head.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5)
    x = lamina.randn(16, 4)
    w0 = body.weight.detach().numpy().copy()
    model(x).sum().backward()
    o.step()
    np.testing.assert_array_equal(body.weight.detach().numpy(), w0)
    unfreeze(body)
    o.add_param_group({"params": body.parameters(), "lr": 0.01})
    o.zero_grad()
    model(x).sum().backward()
    g = body.weight.grad.numpy().copy()
    o.step()
    np.testing.assert_allclose(body.weight.detach().numpy(), w0 - 0.01 * g, rtol=1e-6, atol=1e-7)
    sched.step()
    assert [pg["lr"] for pg in o.param_groups] == pytest.approx([0.05, 0.005])
