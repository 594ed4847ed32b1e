"""Tensor.register_post_accumulate_grad_hook: runs after backward has added a gradient into a
leaf's .grad (what DistributedDataParallel waits for), as in PyTorch."""
import lamina
import numpy as np
import pytest


def test_runs_after_accumulation_and_sees_the_sum():
    w = lamina.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w.grad = lamina.tensor([10.0, 10.0, 10.0])
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (w * w).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [12.0, 14.0, 16.0])


def test_once_per_backward_even_when_used_twice():
    w = lamina.tensor([1.0, -1.0], requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(t))
    (w * 2 + w * 3).sum().backward()
    assert len(calls) == 1 and calls[0] is w
    np.testing.assert_allclose(w.grad.numpy(), [5.0, 5.0])


def test_order_follows_backward_and_remove_works():
    a = lamina.tensor([1.0], requires_grad=True)
    b = lamina.tensor([2.0], requires_grad=True)
    order = []
    ha = a.register_post_accumulate_grad_hook(lambda t: order.append("a"))
    b.register_post_accumulate_grad_hook(lambda t: order.append("b"))
    ((a * 3).exp() * b).sum().backward()
    assert order == ["b", "a"]  # b's gradient is ready first (nearer the output)
    ha.remove()
    order.clear()
    ((a * 3).exp() * b).sum().backward()
    assert order == ["b"]


def test_not_called_by_autograd_grad():
    w = lamina.tensor([1.0], requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    (g,) = lamina.autograd.grad((w * w).sum(), [w])
    assert calls == [] and w.grad is None
    np.testing.assert_allclose(g.numpy(), [2.0])


def test_rejects_non_leaf_and_no_grad():
    w = lamina.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        lamina.tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)
