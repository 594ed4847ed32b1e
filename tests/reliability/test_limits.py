"""Resource limits and failed steps: a tensor too large for memory (or whose size overflows 64-bit
arithmetic) raises MemoryError naming the size; an exception inside a training step leaves the
parameters, buffers and optimizer state exactly as before it."""
from __future__ import annotations

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.optim import adam as adam_mod
from lamina.train import fit


# An extension built before the size checks (e.g. an old snapshot) loops forever on empty(2**63-1);
# it also lacks memory_stats()["allocated_bytes"], added in the same change: skip rather than hang.
_OLD = pytest.mark.skipif("allocated_bytes" not in lamina.memory_stats(),
                          reason="extension built before the size-overflow checks (would hang)")


@_OLD
@pytest.mark.parametrize("shape", [
    (1 << 62,),             # 2^64 bytes: wrapped to 0 bytes before the overflow checks
    (2 ** 63 - 1,),         # hung in the allocator's size rounding
    (1 << 40, 1 << 40),     # the element count itself overflows
    (3, 1 << 61),
    (1 << 45,),             # fits in 64 bits, but no machine has 128 TiB
])
def test_too_large_raises_memory_error_naming_the_size(shape):
    with pytest.raises(MemoryError, match=r"shape \[" + ", ".join(str(s) for s in shape) + r"\]"):
        lamina.empty(*shape)
    with pytest.raises(MemoryError):
        lamina.zeros(*shape)


@_OLD
def test_large_view_and_ops_on_overflowing_shapes():
    x = lamina.zeros(1)
    with pytest.raises(MemoryError, match="more than 2\\^63"):
        x.expand(1 << 40, 1 << 40)
    # Still usable afterwards.
    assert float(lamina.ones(3).sum()) == 3.0


def _state(model, opt) -> tuple:
    params = [p.detach().numpy().copy() for p in model.parameters()]
    bufs = [b.numpy().copy() for b in model.buffers()]
    st = {i: {k: (v.numpy().copy() if isinstance(v, lamina.Tensor) else v) for k, v in opt.state[p].items()}
          for i, p in enumerate(model.parameters())}
    return params, bufs, st


def _same(a, b) -> None:
    for x, y in zip(a[0] + a[1], b[0] + b[1]):
        np.testing.assert_array_equal(x, y)
    assert a[2].keys() == b[2].keys()
    for i in a[2]:
        assert a[2][i].keys() == b[2][i].keys()
        for k in a[2][i]:
            np.testing.assert_array_equal(a[2][i][k], b[2][i][k])


def _bn_model():
    lamina.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def _data(n=32):
    rng = np.random.default_rng(0)
    return lamina.tensor(rng.standard_normal((n, 3)).astype(np.float32)), lamina.tensor(rng.integers(0, 2, n))


def test_exception_after_forward_leaves_model_and_optimizer_unchanged():
    model = _bn_model()
    opt = optim.Adam(model.parameters(), lr=0.1)
    x, y = _data()
    fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=1, batch_size=16, progress=False, shuffle=False)
    before = _state(model, opt)
    ce = nn.CrossEntropyLoss()

    def bad_loss(out, t):  # BatchNorm has already moved its running statistics
        raise RuntimeError("loss check failed")

    with pytest.raises(RuntimeError, match="loss check failed"):
        fit(model, bad_loss, opt, (x, y), epochs=1, batch_size=16, progress=False)
    _same(before, _state(model, opt))
    assert all(p.grad is None for p in model.parameters())
    fit(model, ce, opt, (x, y), epochs=1, batch_size=16, progress=False)  # and training goes on
    assert float(opt.state[next(model.parameters())]["step"]) == 4.0


def test_nan_check_in_backward_leaves_state_unchanged():
    model = _bn_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = _data()
    fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=1, batch_size=16, progress=False, shuffle=False)
    before = _state(model, opt)

    def step(m, xb, yb):  # sqrt(-1) in the graph: anomaly mode raises in backward
        out = m(xb)
        return out, nn.functional.cross_entropy(out, yb) + (out.sum() * 0 - 1).sqrt()

    with lamina.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="(?i)nan"):
        fit(model, None, opt, (x, y), epochs=1, batch_size=16, progress=False, train_step=step)
    _same(before, _state(model, opt))


def test_optimizer_step_out_of_memory_creating_state_changes_nothing(monkeypatch):
    model = _bn_model()
    opt = optim.Adam(model.parameters(), lr=0.1)
    x, y = _data()
    fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=1, batch_size=32, progress=False)
    extra = lamina.tensor(np.ones(5, np.float32), requires_grad=True)
    opt.add_param_group({"params": [extra]})   # its state is created at the next step
    before = _state(model, opt)
    real, calls = adam_mod._new_state, []

    def failing(p, fill=0.0):
        calls.append(p)
        raise MemoryError("out of memory allocating 20 bytes")

    monkeypatch.setattr(adam_mod, "_new_state", failing)
    # One group: nothing was written when the allocation failed.
    only = optim.Adam([extra], lr=0.1)
    extra.grad = lamina.ones(5)
    with pytest.raises(MemoryError):
        only.step()
    assert len(only.state) == 0 and calls
    np.testing.assert_array_equal(extra.detach().numpy(), np.ones(5))
    # Step counts of the existing group are restored too when a later group fails.
    model.zero_grad()
    out = model(x)
    nn.functional.cross_entropy(out, y).backward()
    with pytest.raises(MemoryError):
        opt.step()
    assert extra not in opt.state
    st = _state(model, opt)[2]
    assert all(st[i]["step"] == before[2][i]["step"] for i in st)
    monkeypatch.setattr(adam_mod, "_new_state", real)


def test_bad_gradient_in_a_later_group_updates_no_group():
    a = lamina.tensor(np.ones(3, np.float32), requires_grad=True)
    b = lamina.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.5, momentum=0.9)
    a.grad = lamina.ones(3)
    b.grad = lamina.ones(4)
    with pytest.raises(ValueError, match=r"group 1: grads\[0\] has shape \[4\] but params\[0\] has shape \[2, 2\]"):
        opt.step()
    np.testing.assert_array_equal(a.detach().numpy(), np.ones(3))
    assert len(opt.state) == 0
    b.grad = lamina.ones(2, 2, dtype=lamina.float64)
    with pytest.raises(TypeError, match=r"group 1: grads\[0\] is float64 but params\[0\] is float32"):
        opt.step()
    np.testing.assert_array_equal(a.detach().numpy(), np.ones(3))
