"""nn.Module: registration, traversal, train/eval, state_dict round trips, hooks, repr, init,
and errors that name the failing layer by attribute path."""
import numpy as np
import pytest

import lamina
from lamina import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(4 * 3 * 3, 5)
        self.register_buffer("steps", lamina.zeros(1))

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def test_parameters_children_and_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    assert [n for n, _ in net.named_children()] == ["features", "head"]
    assert sum(p.numel() for p in net.parameters()) == 4 * 9 + 4 + 36 * 5 + 5
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_buffers()] == ["steps"]


def test_train_eval_propagates():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_round_trip_and_strict_errors():
    a, b = Net(), Net()
    sd = a.state_dict()
    # PyTorch order: a module's own parameters and buffers, then its children
    assert list(sd) == ["steps", "features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    b.load_state_dict(sd)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy())
    bad = dict(sd)
    bad["head.weight"] = lamina.zeros(3, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for head.weight.*\[3, 3\].*\[5, 36\]"):
        b.load_state_dict(bad)
    partial = {k: v for k, v in sd.items() if k != "head.bias"}
    with pytest.raises(RuntimeError, match="Missing key.*head.bias"):
        b.load_state_dict(partial)
    res = b.load_state_dict(partial, strict=False)
    assert res.missing_keys == ["head.bias"]


def test_zero_grad_and_requires_grad():
    net = Net()
    out = net(lamina.randn(2, 1, 8, 8)).sum()
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_forward_hooks_and_repr():
    net = Net()
    seen = []
    h = net.head.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    net(lamina.randn(3, 1, 8, 8))
    h.remove()
    net(lamina.randn(3, 1, 8, 8))
    assert seen == [(3, 5)]
    r = repr(net)
    assert "(features): Sequential(" in r and "(head): Linear(in_features=36, out_features=5, bias=True)" in r


def test_error_names_layer_path_and_arithmetic():
    model = nn.Sequential(nn.Conv2d(3, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5, stride=2))
    with pytest.raises(ValueError) as e:
        model(lamina.randn(1, 3, 12, 12))
    msg = str(e.value)
    assert msg.startswith("3 (Conv2d 16->32, k=5, stride=2):"), msg
    assert "floor(" in msg
    model2 = nn.Sequential(nn.Linear(10, 4))
    with pytest.raises(ValueError, match=r"0 \(Linear 10->4\).*\[2, 7\]"):
        model2(lamina.randn(2, 7))


def test_assigning_tensor_over_parameter_raises():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign"):
        lin.weight = lamina.zeros(2, 2)


def test_default_init_ranges_match_pytorch():
    lin = nn.Linear(100, 50)
    w = lin.weight.detach().numpy()
    assert np.abs(w).max() <= 1 / np.sqrt(100) + 1e-7
    assert w.std() == pytest.approx(1 / np.sqrt(100) / np.sqrt(3), rel=0.1)
    conv = nn.Conv2d(8, 4, 3)
    assert np.abs(conv.weight.detach().numpy()).max() <= 1 / np.sqrt(72) + 1e-7


def test_init_functions():
    w = lamina.empty(64, 32)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= np.sqrt(6 / 96) + 1e-7
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(np.sqrt(2 / 32), rel=0.15)
    nn.init.orthogonal_(w)
    q = w.numpy().astype(np.float64)
    np.testing.assert_allclose(q.T @ q, np.eye(32), atol=1e-5)
    nn.init.constant_(w, 0.5)
    assert (w.numpy() == 0.5).all()
    nn.init.zeros_(w)
    assert (w.numpy() == 0).all()
    nn.init.lecun_normal_(w)
    assert w.numpy().std() == pytest.approx(np.sqrt(1 / 32), rel=0.15)


def test_module_to_dtype():
    net = Net().double()
    assert all(p.dtype is lamina.float64 for p in net.parameters())
    out = net(lamina.randn(1, 1, 8, 8, dtype=lamina.float64))
    assert out.dtype is lamina.float64


def test_containers():
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 3)])
    assert len(ml) == 2 and len(list(ml.parameters())) == 4
    md = nn.ModuleDict({"a": nn.Linear(2, 2)})
    md["b"] = nn.ReLU()
    assert list(md.keys()) == ["a", "b"]
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    assert isinstance(seq[1], nn.ReLU) and len(seq[:2]) == 2


def test_summary_table_and_failure():
    from lamina.models import LeNet5

    s = lamina.summary(LeNet5(input_size=28), (1, 28, 28))
    assert s.ok
    assert s.rows[0].out_shape == (1, 6, 28, 28)
    assert s.rows[-1].out_shape == (1, 10)
    assert s.total_params == 61706
    assert "Total params: 61,706" in str(s)
    conv = [r for r in s.rows if r.kind.startswith("Conv2d 1->6")][0]
    assert conv.flops == 2 * 25 * 6 * 28 * 28
    bad = lamina.summary(LeNet5(input_size=28), (1, 8, 8))  # 8 -> conv 8 -> pool 4 < kernel 5
    assert not bad.ok
    assert bad.failed_layer.startswith("features.3 (Conv2d 6->16, k=5")
    assert "larger than" in bad.error
    assert "FAILED at layer features.3" in str(bad)


def test_deepcopy_module_copies_parameters_and_keeps_types():
    import copy
    m = lamina.nn.Sequential(lamina.nn.Linear(3, 4), lamina.nn.ReLU())
    m[0].weight.grad = lamina.ones(4, 3)
    m2 = copy.deepcopy(m)
    w, w2 = m[0].weight, m2[0].weight
    assert type(w2) is type(w) and w2.requires_grad
    assert w2.data_ptr() != w.data_ptr()
    np.testing.assert_array_equal(w2.detach().numpy(), w.detach().numpy())
    np.testing.assert_array_equal(w2.grad.numpy(), np.ones((4, 3)))
    with lamina.no_grad():
        w2.fill_(0.0)
    assert float(w.detach().abs().sum().item()) > 0      # the original is untouched
    y = w * 2
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(y)
