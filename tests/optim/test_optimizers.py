"""lamina.optim against torch.optim: the same parameters and the same hand-set gradients must give
the same parameters step after step (float32 and float64, every option that changes the math),
plus param groups, state_dict round trips, zero_grad, closures and argument errors."""
import numpy as np
import pytest

import lamina
import lamina.optim as optim

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (), (2, 3, 2), (0, 3)]
TOL = {"float32": 1e-6, "float64": 1e-12}
NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


def make_params(dtype, shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    lam = [lamina.tensor(a, requires_grad=True) for a in arrs]
    tor = [torch.tensor(a, requires_grad=True) for a in arrs]
    return lam, tor


def set_grads(lam, tor, rng, skip=()):
    for i, (lp, tp) in enumerate(zip(lam, tor)):
        if i in skip:
            lp.grad, tp.grad = None, None
            continue
        g = rng.standard_normal(tp.shape).astype(str(tp.dtype).split(".")[1])
        lp.grad = lamina.tensor(g)
        tp.grad = torch.tensor(g)


def assert_same(lam, tor, dtype, what=""):
    tol = TOL[dtype]
    for i, (lp, tp) in enumerate(zip(lam, tor)):
        a = lp.detach().numpy()
        b = tp.detach().numpy()
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{what} param {i}")


def torch_opt(name, params, **kw):
    return getattr(torch.optim, name)(params, foreach=False, **kw)


def run_compare(name, kw, dtype, steps=6, skip_at=None):
    lam, tor = make_params(dtype)
    lo = getattr(optim, name)(lam, **kw)
    to = torch_opt(name, tor, **kw)
    rng = np.random.default_rng(1)
    for s in range(steps):
        skip = skip_at.get(s, ()) if skip_at else ()
        set_grads(lam, tor, rng, skip)
        lo.step()
        to.step()
        assert_same(lam, tor, dtype, f"{name}{kw} step {s}")
    return lam, lo


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True, maximize=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.2, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.01)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.6))),  # lerp weight >= 0.5 takes torch's other branch
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True, alpha=0.3)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, eps=1e-6, maximize=True)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch(name, kw, dtype):
    run_compare(name, kw, dtype)


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
])
def test_none_grads_are_skipped(name, kw):
    # param 0 has no gradient at steps 0-1 (its momentum starts late, its step count lags) and
    # param 3 none at step 2: each keeps its own state, as in torch.
    lam, _ = run_compare(name, kw, "float64", steps=5, skip_at={0: (0,), 1: (0,), 2: (3,)})


def test_skipped_param_is_untouched():
    p = lamina.tensor([1.0, 2.0], requires_grad=True)
    q = lamina.tensor([3.0], requires_grad=True)
    q.grad = lamina.tensor([1.0])
    opt = optim.Adam([p, q], lr=0.1, weight_decay=0.5)
    opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, 2.0])
    assert len(opt.state[p]) == 0 and opt.state[q]["step"] == 1


def test_many_elements_parallel_path():
    # Above the grain size the concatenated range is split across threads; results must not change.
    shapes = [(70000,), (3,), (40000, 2)]
    for name, kw in [("Adam", dict(lr=0.01, amsgrad=True)), ("SGD", dict(lr=0.1, momentum=0.9))]:
        lam, tor = make_params("float32", shapes)
        lo, to = getattr(optim, name)(lam, **kw), torch_opt(name, tor, **kw)
        rng = np.random.default_rng(3)
        for _ in range(3):
            set_grads(lam, tor, rng)
            lo.step()
            to.step()
        assert_same(lam, tor, "float32", name)


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_with_different_options(name):
    lam, tor = make_params("float64")
    extra = {"SGD": dict(momentum=0.9), "Adam": dict(amsgrad=True), "AdamW": dict(weight_decay=0.5),
             "RMSprop": dict(centered=True), "Adagrad": dict(lr_decay=0.2)}[name]
    groups = lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.003, **extra}]  # noqa: E731
    lo = getattr(optim, name)(groups(lam), lr=0.05)
    to = torch_opt(name, groups(tor), lr=0.05)
    assert lo.param_groups[1]["lr"] == 0.003 and lo.param_groups[0]["lr"] == 0.05
    rng = np.random.default_rng(2)
    for s in range(4):
        set_grads(lam, tor, rng)
        lo.step()
        to.step()
        assert_same(lam, tor, "float64", f"step {s}")
    # editing a group's lr between steps takes effect, as in torch
    lo.param_groups[0]["lr"] = to.param_groups[0]["lr"] = 0.5
    set_grads(lam, tor, rng)
    lo.step()
    to.step()
    assert_same(lam, tor, "float64", "after lr change")


ROUND_TRIP = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
]


@pytest.mark.parametrize("name,kw", ROUND_TRIP)
def test_state_dict_round_trip(name, kw):
    rng = np.random.default_rng(5)
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(6)]

    def put(ps, gs):
        for p, g in zip(ps, gs):
            p.grad = lamina.tensor(g)

    a, _ = make_params("float64")
    oa = getattr(optim, name)([{"params": a[:3]}, {"params": a[3:], "lr": 0.02}], **kw)
    for s in range(3):
        put(a, grads[s])
        oa.step()
    sd = oa.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1, 2], [3, 4]]
    assert sd["param_groups"][1]["lr"] == 0.02
    assert set(sd["state"]) == {0, 1, 2, 3, 4}
    assert sd["state"][0]["step" if name != "SGD" else "momentum_buffer"] is not None

    b = [lamina.tensor(p.detach().numpy().copy(), requires_grad=True) for p in a]
    ob = getattr(optim, name)([{"params": b[:3]}, {"params": b[3:]}], lr=123.0)
    ob.load_state_dict(sd)
    assert ob.param_groups[1]["lr"] == 0.02 and ob.param_groups[0]["params"][0] is b[0]
    for s in range(3, 6):
        put(a, grads[s])
        put(b, grads[s])
        oa.step()
        ob.step()
        for pa, pb in zip(a, b):
            np.testing.assert_array_equal(pa.detach().numpy(), pb.detach().numpy())
    # the loaded state is a copy: the two optimizers did not share buffers
    key = next(k for k in ob.state[b[0]] if k != "step")
    assert ob.state[b[0]][key].data_ptr() != oa.state[a[0]][key].data_ptr()


def test_load_state_dict_mismatch():
    a, _ = make_params("float32")
    sd = optim.SGD(a, lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": a[:2]}, {"params": a[2:]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD(a[:2], lr=0.1).load_state_dict(sd)


def test_state_dict_casts_to_param_dtype():
    p = lamina.tensor(np.ones(3), requires_grad=True)  # float64
    p.grad = lamina.tensor(np.ones(3))
    o = optim.Adam([p])
    o.step()
    sd = o.state_dict()
    q = lamina.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    o2 = optim.Adam([q])
    o2.load_state_dict(sd)
    assert o2.state[q]["exp_avg"].dtype is lamina.float32 and o2.state[q]["step"] == 1


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    a, _ = make_params("float32")
    rng = np.random.default_rng(0)
    for p in a:
        p.grad = lamina.tensor(rng.standard_normal(p.shape).astype(np.float32))
    a[1].grad = None
    o = optim.SGD(a, lr=0.1)
    o.zero_grad(set_to_none=set_to_none)
    for i, p in enumerate(a):
        if set_to_none or i == 1:
            assert p.grad is None
        else:
            assert p.grad.shape == p.shape
            np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape, np.float32))


def test_zero_grad_default_is_set_to_none():
    p = lamina.tensor([1.0], requires_grad=True)
    p.grad = lamina.tensor([2.0])
    optim.Adam([p]).zero_grad()
    assert p.grad is None


def test_step_with_closure_runs_under_grad_and_update_under_no_grad():
    p = lamina.tensor([1.0, -2.0], requires_grad=True)
    seen = []

    def closure():
        seen.append(lamina.is_grad_enabled())
        p.grad = lamina.tensor([0.5, 0.5])
        return 3.5

    o = optim.SGD([p], lr=1.0)
    with lamina.no_grad():
        loss = o.step(closure)
    assert loss == 3.5 and seen == [True]
    np.testing.assert_allclose(p.detach().numpy(), [0.5, -2.5])
    assert p.grad_fn is None and p.requires_grad and p.is_leaf
    assert lamina.is_grad_enabled()


def test_noncontiguous_grad_is_accepted():
    p = lamina.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    g = np.arange(6.0).reshape(3, 2)
    p.grad = lamina.tensor(g).transpose(0, 1)
    assert not p.grad.is_contiguous()
    optim.SGD([p], lr=1.0).step()
    np.testing.assert_allclose(p.detach().numpy(), np.arange(6.0).reshape(2, 3) - g.T)


def test_noncontiguous_param_names_index():
    q = lamina.tensor([1.0], requires_grad=True)
    q.grad = lamina.tensor([1.0])
    base = lamina.tensor(np.zeros((3, 2)))
    p = base.transpose(0, 1).detach().requires_grad_()
    p.grad = lamina.tensor(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"params\[1\] of shape \[2, 3\] is not contiguous"):
        optim.Adam([q, p]).step()


def test_grad_shape_and_dtype_errors():
    p = lamina.tensor(np.zeros((2, 3)), requires_grad=True)
    p.grad = lamina.tensor(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \[3, 2\] but params\[0\] has shape \[2, 3\]"):
        optim.SGD([p], lr=0.1).step()
    p.grad = lamina.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"grads\[0\] is float32 but params\[0\] is float64"):
        optim.Adam([p]).step()
    n = lamina.tensor([1, 2])
    n.grad = lamina.tensor([1, 2])
    with pytest.raises(TypeError, match="floating-point"):
        optim.SGD([n], lr=0.1).step()


def test_mixed_dtypes_in_one_group():
    a32, t32 = make_params("float32", [(4,), (2, 2)])
    a64, t64 = make_params("float64", [(3,)])
    lam, tor = a32 + a64, t32 + t64
    lo, to = optim.Adam(lam, lr=0.1), torch_opt("Adam", tor, lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(3):
        set_grads(lam, tor, rng)
        lo.step()
        to.step()
    assert_same(lam, tor, "float32")


INVALID = [
    (optim.SGD, dict(lr=-1), "Invalid learning rate: -1"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (optim.Adam, dict(lr=-0.5), "Invalid learning rate: -0.5"),
    (optim.Adam, dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (optim.Adam, dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (optim.Adam, dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (optim.Adam, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.AdamW, dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (optim.RMSprop, dict(lr=-1), "Invalid learning rate: -1"),
    (optim.RMSprop, dict(alpha=-0.1), "Invalid alpha value: -0.1"),
    (optim.RMSprop, dict(momentum=-1), "Invalid momentum value: -1"),
    (optim.RMSprop, dict(eps=-1), "Invalid epsilon value: -1"),
    (optim.RMSprop, dict(weight_decay=-2), "Invalid weight_decay value: -2"),
    (optim.Adagrad, dict(lr=-1), "Invalid learning rate: -1"),
    (optim.Adagrad, dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    (optim.Adagrad, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.Adagrad, dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    (optim.Adagrad, dict(eps=-1), "Invalid epsilon value: -1"),
]


@pytest.mark.parametrize("cls,kw,msg", INVALID)
def test_invalid_hyperparameters(cls, kw, msg):
    p = lamina.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        cls([p], **kw)


def test_invalid_params_argument():
    p = lamina.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got .*Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.Adam([{"params": {p}}])
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is .*ndarray"):
        optim.Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optim.Adam([{"params": [p]}, {"params": [p]}])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.Adam([p, p])
    nl = lamina.tensor([1.0], requires_grad=True)
    nl.grad_fn = object()  # stands in for the output of an op
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.Adam([nl])


def test_add_param_group_and_defaults():
    a = lamina.tensor([1.0], requires_grad=True)
    b = lamina.tensor([2.0], requires_grad=True)
    o = optim.SGD([a], lr=0.1, momentum=0.9)
    o.add_param_group({"params": b, "lr": 0.5})
    assert o.param_groups[1]["params"][0] is b and o.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        o.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        o.add_param_group([b])
    a.grad, b.grad = lamina.tensor([1.0]), lamina.tensor([1.0])
    o.step()
    np.testing.assert_allclose([a.detach().item(), b.detach().item()], [0.9, 1.5])
    assert "SGD (" in repr(o) and "Parameter Group 1" in repr(o)


def test_named_parameters():
    a = lamina.tensor([1.0], requires_grad=True)
    o = optim.Adam([("w", a)])
    assert o.param_groups[0]["param_names"] == ["w"] and o.param_groups[0]["params"][0] is a
    assert o.state_dict()["param_groups"][0]["param_names"] == ["w"]


def test_fused_c_kernels_check_lists():
    p = lamina.tensor([1.0, 2.0])
    g = lamina.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="adam_step: got 1 params but 0 exp_avgs"):
        lamina._C.adam_step([p._c], [g._c], [], [], [], [1.0], 0.1, 0.9, 0.999, 1e-8, 0.0, False,
                            False, False)
    with pytest.raises(ValueError, match="steps\\[0\\] = 0"):
        lamina._C.adam_step([p._c], [g._c], [p.clone()._c], [p.clone()._c], [], [0.0], 0.1, 0.9,
                            0.999, 1e-8, 0.0, False, False, False)
    with pytest.raises(ValueError, match="sgd_step: got 1 params but 0 momentum_buffers"):
        lamina._C.sgd_step([p._c], [g._c], [], 0.1, 0.9, 0.0, 0.0, False, False, False)
