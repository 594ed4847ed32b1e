"""PyTorch's view + in-place semantics: writes through views of tensors in the graph rewrite the
base's history (CopySlices), saved tensors are version-checked, and PyTorch's refusals are kept.
Every program runs in lamina and in torch (float64); values and gradients must agree."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F

torch = pytest.importorskip("torch")


def _run_both(program, *shapes, seed=0):
    """program(lib, F, *leaves) -> scalar loss; returns (lamina loss, grads), (torch loss, grads)."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    la = [lamina.tensor(a, dtype=lamina.float64, requires_grad=True) for a in arrays]
    ta = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    ll = program(lamina, F, *la)
    tl = program(torch, torch.nn.functional, *ta)
    ll.backward()
    tl.backward()
    return ll, [x.grad for x in la], tl, [x.grad for x in ta]


def _assert_same(program, *shapes, seed=0):
    ll, lg, tl, tg = _run_both(program, *shapes, seed=seed)
    np.testing.assert_allclose(ll.item(), tl.item(), rtol=1e-10, atol=1e-12)
    for g1, g2 in zip(lg, tg):
        if g2 is None:
            assert g1 is None or np.allclose(g1.numpy(), 0)
        else:
            assert g1 is not None, "lamina gave no gradient where torch did"
            np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-10, atol=1e-12)


def p_slice_mul(lib, F, a):
    b = a * 2
    b[:2].mul_(10)
    return (b * b).sum()


def p_relu_inplace_view(lib, F, a):
    b = a * 1.5
    F.relu(b[1:4], inplace=True)
    return (b * b).sum()


def p_view_row_add(lib, F, a):
    b = a * 2
    b.view(2, 3)[1].add_(1)
    return (b ** 2).sum()


def p_view_t_row(lib, F, a):
    b = a * 2
    b.view(2, 3).t()[0].mul_(3)
    return (b * a).sum()


def p_chained_views(lib, F, a):
    b = a + 1
    v = b.view(2, 3)[:, 1:]
    v.transpose(0, 1)[1].mul_(-2)
    return (b * b * a).sum()


def p_earlier_view_sees_write(lib, F, a):
    b = a * 2
    v = b[1:3]
    b.mul_(3)
    return (v * v).sum() + b.sum()


def p_base_write_then_view(lib, F, a):
    b = a * 2
    b[0] = 0
    v = b[1:3]
    v += 1
    return (b * b).sum()


def p_setitem_column(lib, F, a):
    x = a.view(3, 2) * 1.0
    x[:, 0] *= 2
    return (x * x).sum()


def p_mask_setitem(lib, F, a):
    out = a * 3
    out[a > 0] = 0
    return (out * a).sum()


def p_setitem_value_grad(lib, F, a, w):
    b = a * 1
    b[1:3] = w * 5
    return (b * b).sum()


def p_copy_into_view(lib, F, a, w):
    b = a * 2
    b[2:4].copy_(w)
    return (b ** 3).sum()


def p_squeeze_unsqueeze(lib, F, a):
    b = (a * 2).view(1, 6)
    b.squeeze(0).unsqueeze(1)[2:4].add_(5)
    return (b * b).sum()


def p_narrow_select(lib, F, a):
    b = a.view(2, 3) * 2
    b.narrow(1, 1, 2).mul_(3)
    b.select(0, 1).sub_(1)
    return (b * b).sum()


def p_permute_inplace(lib, F, a):
    b = a.view(1, 2, 3) + 0
    b.permute(2, 0, 1)[1].div_(4)
    return (b * b).sum()


def p_other_view_stale(lib, F, a):
    b = a * 1
    v1 = b[:3]
    v2 = b[2:]
    v1.mul_(2)
    return (v2 * v2).sum() + (v1 * a[:3]).sum()


def p_clamp_and_unary(lib, F, a):
    b = a * 2
    b[1:5].clamp_(-0.5, 0.5)
    b[0:2].exp_()
    return (b * b).sum()


def p_view_of_expand_read(lib, F, a):
    b = a.view(1, 6) * 2
    e = b.expand(3, 6)
    b.mul_(2)
    return (e * e).sum()


def p_sigmoid_inplace_saved_out(lib, F, a):
    b = a * 1
    b.sigmoid_()
    c = b * 2
    return (c * c).sum()


def p_mul_inplace_needs_old_self(lib, F, a, w):
    b = a * 1
    b.mul_(w)
    return (b * b).sum()


@pytest.mark.parametrize("program", [
    p_slice_mul, p_relu_inplace_view, p_view_row_add, p_view_t_row, p_chained_views,
    p_earlier_view_sees_write, p_base_write_then_view, p_setitem_column, p_mask_setitem,
    p_squeeze_unsqueeze, p_narrow_select, p_permute_inplace, p_other_view_stale, p_clamp_and_unary,
    p_view_of_expand_read, p_sigmoid_inplace_saved_out,
])
def test_inplace_through_views_matches_torch(program):
    _assert_same(program, (6,))


@pytest.mark.parametrize("program", [p_setitem_value_grad, p_copy_into_view, p_mul_inplace_needs_old_self])
def test_inplace_with_second_operand_matches_torch(program):
    shapes = {p_setitem_value_grad: [(6,), (2,)], p_copy_into_view: [(6,), (2,)],
              p_mul_inplace_needs_old_self: [(6,), (6,)]}[program]
    _assert_same(program, *shapes)


def test_issue_example_values_without_grad():
    a = lamina.tensor([1.0, 2.0, 3.0, 4.0])
    b = a * 2
    b[0] = 0
    v = b[1:3]
    v += 1
    assert b.tolist() == [0.0, 5.0, 7.0, 8.0]


def test_modified_saved_tensor_raises():
    a = lamina.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    c = b * b
    with lamina.no_grad():
        b.mul_(100)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_modified_saved_output_raises():
    a = lamina.tensor([0.5, -1.0], dtype=lamina.float64, requires_grad=True)
    y = a.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="version"):
        y.sum().backward()


def test_unsaved_input_may_be_modified():
    a = lamina.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    c = b + 1  # add saves nothing
    b.mul_(3)
    (c.sum() + b.sum()).backward()
    assert a.grad.tolist() == [8.0, 8.0]


def test_leaf_and_view_of_leaf_refuse_inplace():
    w = lamina.ones(4, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w[1:3].mul_(2)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w[0] = 5.0
    with lamina.no_grad():
        w[1:3].mul_(2)  # allowed outside the graph
    assert w.tolist() == [1.0, 2.0, 2.0, 1.0]


def test_expanded_write_refused():
    a = lamina.ones(1, 3, requires_grad=True) * 1
    e = a.expand(4, 3)
    with pytest.raises(RuntimeError, match="single memory location"):
        e.mul_(2)


def test_split_pieces_refuse_inplace_in_graph():
    a = lamina.ones(4, requires_grad=True) * 1
    p, q = a.split(2)
    with pytest.raises(RuntimeError, match="multiple views"):
        p.mul_(2)
    with pytest.raises(RuntimeError, match="multiple views"):
        a.unbind(0)[1].add_(1)
    x = lamina.ones(4)
    x.chunk(2)[1].mul_(3)  # no graph: fine, writes through
    assert x.tolist() == [1.0, 1.0, 3.0, 3.0]


def test_version_counter_shared_by_views():
    a = lamina.zeros(4)
    v = a[1:3]
    before = a._version
    v.add_(1)
    assert a._version == v._version == before + 1
    assert v._base is a


def test_inplace_activation_module_matches_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((4, 4))
    lx, lw = lamina.tensor(x, requires_grad=True), lamina.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    lo = lamina.nn.ReLU(inplace=True)(lx @ lw)
    to = torch.nn.ReLU(inplace=True)(tx @ tw)
    (lo * lo).sum().backward()
    (to * to).sum().backward()
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_grad_with_inputs_runs_only_the_paths_to_them():
    """autograd.grad(..., inputs) prunes the graph like PyTorch: a branch that does not lead to
    the inputs is never run (its backward here would raise)."""

    class Boom(lamina.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, dout):
            raise AssertionError("backward of an unrelated branch ran")

    a = lamina.tensor([1.0, 2.0], requires_grad=True)
    b = lamina.tensor([3.0, 4.0], requires_grad=True)
    loss = (a * a).sum() + Boom.apply(b).sum()
    (g,) = lamina.autograd.grad(loss, a)
    assert g.tolist() == [2.0, 4.0]
    loss2 = (a * a).sum() + Boom.apply(b).sum()
    loss2.backward(inputs=[a])
    assert a.grad.tolist() == [2.0, 4.0] and b.grad is None


def test_maximum_minimum_with_scalar_gradients_match_torch():
    """Regression: the scalar forms must keep their input for backward (ties split evenly)."""
    x = np.array([-1.0, 0.5, 0.5, 2.0])
    for op in ("maximum", "minimum"):
        lx = lamina.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        (getattr(lamina, op)(lx, 0.5) * lamina.tensor([1.0, 2.0, 3.0, 4.0], dtype=lamina.float64)).sum().backward()
        (getattr(torch, op)(tx, torch.tensor(0.5, dtype=torch.float64)) * torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)).sum().backward()
        np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy())
        (g,) = lamina.autograd.grad(getattr(lamina, op)(lx, 0.5).sum(), lx, create_graph=True)
        np.testing.assert_allclose(g.detach().numpy(), tx.grad.numpy() / np.array([1.0, 2.0, 3.0, 4.0]))


# ---- regressions found by tests/autograd/test_view_inplace_properties.py, and issue 12's list ----

def _both_raise(program, *shapes, match=None):
    """program(lib, F, *leaves) -> loss, then backward: torch and lamina must both refuse."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    for lib, f, make in ((torch, torch.nn.functional, lambda a: torch.tensor(a, requires_grad=True)),
                         (lamina, F, lambda a: lamina.tensor(a, dtype=lamina.float64, requires_grad=True))):
        with pytest.raises(RuntimeError, match=match):
            program(lib, f, *[make(a) for a in arrays]).backward()


def p_view_of_unbind_output_written(lib, F, a):
    t0 = a * 0.5
    t0.unbind(0)[0].view(3).clamp_(-0.5, 0.75)  # a view of a multi-output view keeps the refusal
    return t0.sum()


def p_split_output_used_after_base_write(lib, F, a):
    t0 = a * 0.5
    t3 = t0.split(2, 0)[0]
    t0.add_(0.5)
    return (t3 * t3).sum()  # the stale split output cannot be regenerated from its base


def p_relu_through_view_then_base_write(lib, F, a):
    t0 = a * 0.5
    t0.view(6).relu_()  # relu_ saves its output, which now lives in t0's memory
    t0.clamp_(-0.5, 0.75)
    return (t0 * t0).sum()


def p_exp_inplace_then_other_view_write(lib, F, a):
    t0 = a * 0.5
    t0[:3].exp_()
    t0[1:].mul_(2)  # overlaps the region whose exp_ output backward needs
    return (t0 * t0).sum()


@pytest.mark.parametrize("program, shape, match", [
    (p_view_of_unbind_output_written, (2, 3), "multiple views"),
    (p_split_output_used_after_base_write, (6,), "multiple views"),
    (p_relu_through_view_then_base_write, (6,), "modified by an inplace operation"),
    (p_exp_inplace_then_other_view_write, (6,), "modified by an inplace operation"),
])
def test_refusals_found_by_the_property_test(program, shape, match):
    _both_raise(program, shape, match=match)


def test_saved_tensor_modified_under_no_grad_raises_in_torch_too():
    for lib in (torch, lamina):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = a * 2
        c = b * b
        with lib.no_grad():
            b.mul_(100)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            c.sum().backward()


def p_two_views_written_alternately(lib, F, a):
    b = a * 1.5
    v1 = b.view(2, 3)[:, 1:]
    v2 = b[::2]
    v1.mul_(2)
    v2.add_(v1.sum() * 0.1)
    v1[0] = a[:2] * 3
    v2.sigmoid_()
    return (v1 * v1).sum() + (v2 * a[::2]).sum() + (b * b).sum()


def p_earlier_views_used_after_base_write(lib, F, a):
    b = a.view(2, 3) * 2
    r = b[1]
    c = b.t()[::2]
    s = b.flatten()[2:5]
    b.mul_(a.view(2, 3))
    b.tanh_()
    return (r * r).sum() + c.sigmoid().sum() + (s * b.sum()).sum()


@pytest.mark.parametrize("program", [p_two_views_written_alternately, p_earlier_views_used_after_base_write])
def test_views_of_one_base_match_torch(program):
    _assert_same(program, (6,))


def test_mask_and_column_writes_in_a_model_forward_match_torch():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3))
    w1, b1 = rng.standard_normal((5, 3)), rng.standard_normal(5)
    w2, b2 = rng.standard_normal((2, 5)), rng.standard_normal(2)

    def build(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1, self.fc2 = lib.nn.Linear(3, 5), lib.nn.Linear(5, 2)

            def forward(self, x):
                out = self.fc1(x)
                out[out < 0] = 0  # a ReLU written as a masked write
                out[:, 0] *= 2
                y = self.fc2(out)
                y[:, 1] = y[:, 1] + out[:, 2]
                return y

        net = Net().double()
        with lib.no_grad():
            for p, v in zip((net.fc1.weight, net.fc1.bias, net.fc2.weight, net.fc2.bias), (w1, b1, w2, b2)):
                p.copy_(lib.tensor(v, dtype=lib.float64))
        return net

    results = []
    for lib in (lamina, torch):
        net = build(lib)
        y = net(lib.tensor(x, dtype=lib.float64))
        (y * y).sum().backward()
        results.append([y.detach().numpy()] + [p.grad.numpy() for p in
                                                (net.fc1.weight, net.fc1.bias, net.fc2.weight, net.fc2.bias)])
    for lv, tv in zip(*results):
        np.testing.assert_allclose(lv, tv, rtol=1e-10, atol=1e-12)


# Not tested: a source that partly overlaps the written memory (t[1:].add_(t[:-1]), t.copy_(t[0])).
# torch refuses it ("some elements of the input tensor and the written-to tensor refer to a single
# memory location"); lamina deliberately reads the source before writing (tests/ops/test_elementwise.py,
# test_inplace_no_grad_writes_through_views) -- a known divergence.


@pytest.mark.parametrize("stmt", ["t[:3].copy_(t[3:])", "t.view(2, 3)[0] += t.view(2, 3)[1]", "t[:, None] *= 2",
                                  "t[::2].mul_(t[1::2])", "t[:] = t[0]", "t.view(2, 3)[:] = t[:3]"])
def test_disjoint_same_or_broadcast_source_allowed(stmt):
    results = []
    for lib in (torch, lamina):
        t = lib.arange(6.0) + 1
        exec(stmt, {"t": t})
        results.append(t.tolist())
    assert results[0] == results[1]
