"""A leaf's first gradient is adopted without a copy only when nothing else can see its memory
(engine._unshared, PyTorch's AccumulateGrad rule); every way of still holding it must force a copy,
or a later in-place accumulation would write into someone else's tensor."""
import numpy as np

import lamina


def _fn(make_grad):
    """A Function whose backward returns ``make_grad(g)``; records the data pointers it returned."""
    ptrs = []

    class F(lamina.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            r = make_grad(g)
            ptrs.append(r._c.data_ptr())
            return r

    return F, ptrs


def test_fresh_gradient_is_adopted():
    F, ptrs = _fn(lambda g: g * 2.0)
    w = lamina.randn(16, 8, requires_grad=True)
    F.apply(w).sum().backward()
    assert w.grad._c.data_ptr() == ptrs[-1]
    np.testing.assert_array_equal(w.grad.numpy(), np.full((16, 8), 2.0, np.float32))
    F.apply(w).sum().backward()  # in-place accumulation into the adopted buffer
    np.testing.assert_array_equal(w.grad.numpy(), np.full((16, 8), 4.0, np.float32))


def test_gradient_kept_by_the_function_is_copied():
    kept = []
    F, ptrs = _fn(lambda g: kept.append(g * 3.0) or kept[-1])
    w = lamina.randn(4, 5, requires_grad=True)
    F.apply(w).sum().backward()
    assert w.grad._c.data_ptr() != ptrs[-1]
    F.apply(w).sum().backward()
    np.testing.assert_array_equal(kept[0].numpy(), np.full((4, 5), 3.0, np.float32))
    np.testing.assert_array_equal(w.grad.numpy(), np.full((4, 5), 6.0, np.float32))


def test_view_of_a_live_tensor_is_copied():
    base = lamina.ones(20)
    F, ptrs = _fn(lambda g: base.view((4, 5)))
    w = lamina.randn(4, 5, requires_grad=True)
    F.apply(w).sum().backward()
    F.apply(w).sum().backward()
    np.testing.assert_array_equal(base.numpy(), np.ones(20, np.float32))
    np.testing.assert_array_equal(w.grad.numpy(), np.full((4, 5), 2.0, np.float32))


def test_view_whose_base_is_gone_is_copied_when_not_plain():
    # expand: stride 0, its base dropped (use count 1) -- must still be copied, not adopted.
    F, ptrs = _fn(lambda g: lamina.ones(1, 5).expand(4, 5))
    w = lamina.randn(4, 5, requires_grad=True)
    F.apply(w).sum().backward()
    coef = np.arange(20, dtype=np.float32).reshape(4, 5)
    (w * lamina.tensor(coef)).sum().backward()  # a different value in every element
    np.testing.assert_array_equal(w.grad.numpy(), 1.0 + coef)


def test_numpy_export_of_the_gradient_is_copied():
    arrays = []
    F, ptrs = _fn(lambda g: (lambda r: arrays.append(np.asarray(r)) or r)(g * 5.0))
    w = lamina.randn(3, 3, requires_grad=True)
    F.apply(w).sum().backward()
    F.apply(w).sum().backward()
    np.testing.assert_array_equal(arrays[0], np.full((3, 3), 5.0, np.float32))


def test_user_gradient_and_hook_copies_are_not_adopted():
    w = lamina.randn(3, 4, requires_grad=True)
    gt = lamina.ones(3, 4)
    w.backward(gt)
    w.backward(gt)
    np.testing.assert_array_equal(gt.numpy(), np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(w.grad.numpy(), np.full((3, 4), 2.0, np.float32))

    seen = []
    v = lamina.randn(3, 4, requires_grad=True)
    v.register_hook(lambda g: seen.append(g))
    (v * 2.0).sum().backward()
    (v * 2.0).sum().backward()
    np.testing.assert_array_equal(seen[0].numpy(), np.full((3, 4), 2.0, np.float32))
    np.testing.assert_array_equal(v.grad.numpy(), np.full((3, 4), 4.0, np.float32))


def test_shared_gradient_between_two_leaves():
    # add's backward hands the same gradient to both inputs: at most one may own it.
    a = lamina.randn(6, requires_grad=True)
    b = lamina.randn(6, requires_grad=True)
    (a + b).sum().backward()
    a.grad.add_(1.0)
    np.testing.assert_array_equal(b.grad.numpy(), np.ones(6, np.float32))
