"""lamina.diagnostics: gradient_flow equals gradient norms computed directly, separates a deep
sigmoid net from the same net with ReLU and He init, flags exploding layers; the GradientFlow
callback's update ratios are the optimizer's real steps; the plot has content."""
from __future__ import annotations

import importlib.util
import os

import lamina
import numpy as np
import pytest
from lamina import nn
from lamina.diagnostics import GradientFlow, GradientFlowReport, gradient_flow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _example():
    spec = importlib.util.spec_from_file_location("vanishing_gradient",
                                                  os.path.join(ROOT, "examples", "vanishing_gradient.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _batch(n: int = 64):
    from lamina.data.datasets.digits import load_digits

    x, y = load_digits(flatten=True)
    return lamina.tensor((x[:n].astype(np.float32) / 16.0 - 0.5) / 0.5), lamina.tensor(y[:n])


def test_norms_equal_direct_gradients():
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))
    x, y = _batch()
    loss_fn = nn.CrossEntropyLoss()
    rep = gradient_flow(model, loss_fn, x, y, lr=0.1)
    assert isinstance(rep, GradientFlowReport)
    assert all(p.grad is None for p in model.parameters())  # .grad untouched
    loss_fn(model(x), y).backward()
    names = [n for n, _ in model.named_parameters()]
    assert list(rep) == names and len(rep) == 6
    for n, p in model.named_parameters():
        g, w = p.grad.numpy().astype(np.float64), p.detach().numpy().astype(np.float64)
        assert rep[n] == pytest.approx(np.linalg.norm(g), rel=1e-6)
        assert rep.weight_norms[n] == pytest.approx(np.linalg.norm(w), rel=1e-6)
        assert rep.update_ratios[n] == pytest.approx(0.1 * np.linalg.norm(g) / np.linalg.norm(w), rel=1e-6)
    for layer in ("0", "2", "4"):
        gs = [model[int(layer)].weight.grad.numpy(), model[int(layer)].bias.grad.numpy()]
        flat = np.concatenate([g.ravel() for g in gs]).astype(np.float64)
        s = rep.layers[layer]
        assert s.grad_norm == pytest.approx(np.linalg.norm(flat), rel=1e-6)
        assert s.mean_abs_grad == pytest.approx(np.abs(flat).mean(), rel=1e-6)
    assert rep.vanishing == [] and rep.exploding == []


def test_separates_sigmoid_from_relu_he():
    ex = _example()
    x, y = _batch(256)
    reps = {}
    for kind in ("sigmoid", "relu"):
        lamina.manual_seed(0)
        reps[kind] = gradient_flow(ex.make_net(kind), nn.CrossEntropyLoss(), x, y)
    sig, relu = reps["sigmoid"], reps["relu"]
    first, last = "0", str(2 * (ex.DEPTH - 1))
    # sigmoid: the first layer's gradient is orders of magnitude below the last one's (<= 1/4 per layer)
    assert sig.layers[first].grad_norm < 1e-4 * sig.layers[last].grad_norm
    assert relu.layers[first].grad_norm > 0.1 * relu.layers[last].grad_norm
    assert sig.ratio() < 1e-5
    assert relu.ratio() > 0.05
    assert first in sig.vanishing and relu.vanishing == []
    assert "VANISHING" in sig.summary() and "VANISHING" not in relu.summary()
    # norms fall monotonically towards the input in the sigmoid net
    norms = [s.grad_norm for s in sig.layers.values()]
    assert all(a < b for a, b in zip(norms, norms[1:]))


def test_flags_exploding_layers():
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 1))
    with lamina.no_grad():
        model[0].weight.mul_(1e3)
    x = lamina.randn(16, 8) * 100
    rep = gradient_flow(model, nn.MSELoss(), x, lamina.zeros(16, 1))
    assert "1" in rep.exploding and rep.layers["1"].grad_norm > 1e3
    assert "EXPLODING" in rep.summary()


def test_callback_update_ratio_is_the_real_step():
    x, y = _batch(128)
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    opt = lamina.optim.SGD(model.parameters(), lr=0.2)  # plain SGD: delta w = lr * grad
    gf = GradientFlow(freq=3)
    lamina.train.fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=2, batch_size=32, callbacks=[gf],
                     progress=False, shuffle=False)
    assert [s for s, _ in gf.reports] == [2, 5]  # every 3rd of 8 batches (global numbering)
    _, rep = gf.reports[-1]
    for n in rep:
        assert rep.update_ratios[n] == pytest.approx(0.2 * rep[n] / rep.weight_norms[n], rel=1e-3)
    gfe = GradientFlow()
    lamina.train.fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=3, batch_size=32, callbacks=[gfe],
                     progress=False)
    assert [s for s, _ in gfe.reports] == [0, 1, 2]
    for n, p in model.named_parameters():  # the last report holds the last batch's gradients
        assert gfe.reports[-1][1][n] == pytest.approx(np.linalg.norm(p.grad.numpy()), rel=1e-6)


def test_plots_have_content(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    ex = _example()
    out = ex.main(str(tmp_path), epochs=2)
    assert out["reports"]["sigmoid"].vanishing
    for name in ("gradient_flow.png", "training_curves.png"):
        img = plt.imread(tmp_path / name)[..., :3]
        non_white = (img.min(-1) < 0.9).mean()
        assert 0.02 < non_white < 0.6, (name, non_white)
        assert img.std() > 0.05
        assert ((img[..., 0] > 0.7) & (img[..., 2] < 0.3)).any()  # red or orange bars / curves drawn
    p = out["reports"]["relu"].plot(tmp_path / "one.png", title="relu")
    img = plt.imread(p)[..., :3]
    assert (img.min(-1) < 0.9).mean() > 0.02
