"""lamina.viz picture functions: each writes a PNG whose pixels show the content (tile grids
compared with the weights / activations they draw, colour and ink statistics for the charts)."""
from __future__ import annotations

import lamina
import numpy as np
import pytest
from lamina import _pictures as pics
from lamina import nn, viz

plt = pytest.importorskip("matplotlib.pyplot")


def _read(path) -> np.ndarray:
    img = plt.imread(path)
    return img[..., :3] if img.ndim == 3 else img


def _ink(img: np.ndarray) -> float:
    """Fraction of pixels that are not (near) white."""
    g = img.min(-1) if img.ndim == 3 else img
    return float((g < 0.9).mean())


def _lenet():
    from lamina.models.lenet import LeNet5

    return LeNet5(input_size=8)


def _digits(n=8):
    from lamina.data.datasets.digits import load_digits

    x, y = load_digits()
    return (x[:n].astype(np.float32) / 16.0)[:, None], y[:n]


def test_filters_draw_the_kernels(tmp_path):
    model = _lenet()
    p = viz.filters(model, tmp_path / "f.png", scale=3)
    img = _read(p)
    want = pics.grid(pics.filter_tiles(model.features[0].weight))  # 6 kernels 5x5, 3x2 grid
    assert img.shape[:2] == (want.shape[0] * 3, want.shape[1] * 3)
    np.testing.assert_allclose(img[1::3, 1::3, 0], want, atol=2.5 / 255)
    assert img.std() > 0.15
    # a Linear layer's rows as 8x8 images; a layer given directly
    lin = nn.Linear(64, 10)
    img2 = _read(viz.filters(lin, tmp_path / "l.png", scale=2))
    assert img2.shape[:2] == ((4 * 9 + 1) * 2, (3 * 9 + 1) * 2)
    with pytest.raises(ValueError, match="not square"):
        viz.filters(nn.Linear(10, 3), tmp_path / "bad.png")


def test_feature_maps_of_a_named_layer(tmp_path):
    model = _lenet()
    x, _ = _digits()
    p = viz.feature_maps(model, x, "features.3", tmp_path / "fm.png", scale=4)
    seen = []
    h = model.features[3].register_forward_hook(lambda m, i, o: seen.append(o.detach().numpy()))
    with lamina.no_grad():
        model(lamina.tensor(x[:1]))
    h.remove()
    want = pics.grid(seen[0][0])  # 16 channels of 4x4
    img = _read(p)
    assert img.shape[:2] == (want.shape[0] * 4, want.shape[1] * 4)
    np.testing.assert_allclose(img[1::4, 1::4, 0], want, atol=2.5 / 255)
    assert model.training  # mode restored
    with pytest.raises(KeyError, match="features.9"):
        viz.feature_maps(model, x, "features.9", tmp_path / "no.png")


def test_reconstructions_autoencoder_and_rbm(tmp_path):
    from lamina.models.autoencoder import Autoencoder
    from lamina.models.rbm import RBM

    x, _ = _digits(6)
    flat = x.reshape(6, 64)
    ae = Autoencoder(64, 16)
    img = _read(viz.reconstructions(ae, flat, tmp_path / "ae.png", scale=2))
    assert img.shape[:2] == ((2 * 9 + 1) * 2, (6 * 9 + 1) * 2)
    np.testing.assert_allclose(img[2:18:2, 2:18:2, 0], x[0, 0], atol=2.5 / 255)  # top-left tile = input 0
    with lamina.no_grad():
        rec = ae(lamina.tensor(flat)).numpy()
    np.testing.assert_allclose(img[20:36:2, 2:18:2, 0], np.clip(rec[0].reshape(8, 8), 0, 1), atol=2.5 / 255)
    rbm = RBM(64, 16)
    img = _read(viz.reconstructions(rbm, flat, tmp_path / "rbm.png", scale=1))
    with lamina.no_grad():
        r = rbm.visible_mean(rbm.hidden_probs(lamina.tensor(flat))).numpy()
    np.testing.assert_allclose(img[10:18, 1:9, 0], r[0].reshape(8, 8), atol=2.5 / 255)


def test_plot_history(tmp_path):
    x, y = _digits(96)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    h = lamina.train.fit(model, nn.CrossEntropyLoss(), lamina.optim.SGD(model.parameters(), lr=0.1),
                         (x, y), val_data=(x, y), epochs=3, progress=False)
    img = _read(viz.plot_history(h, tmp_path / "h.png"))
    assert img.shape[1] > 1.8 * img.shape[0]  # two panels side by side: loss, accuracy
    assert 0.02 < _ink(img) < 0.5
    blue = (img[..., 2] > 0.6) & (img[..., 0] < 0.3)  # matplotlib's first colour: training curves
    orange = (img[..., 0] > 0.9) & (img[..., 1] > 0.4) & (img[..., 1] < 0.7) & (img[..., 2] < 0.3)
    assert blue.sum() > 50 and orange.sum() > 50
    with pytest.raises(ValueError, match="nothing to plot"):
        viz.plot_history({"lr": [0.1]}, tmp_path / "e.png")


def test_confusion_matrix(tmp_path):
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, 200)
    p = np.where(rng.random(200) < 0.7, t, rng.integers(0, 4, 200))
    m = viz.confusion_matrix(t, p, tmp_path / "cm.png")
    want = np.zeros((4, 4))
    for a, b in zip(t, p):
        want[a, b] += 1
    np.testing.assert_array_equal(m, want)
    scores = np.eye(4)[p] + 0.01
    mn = viz.confusion_matrix(lamina.tensor(t), scores, tmp_path / "cmn.png", labels="abcd", normalize=True)
    np.testing.assert_allclose(mn, want / want.sum(1, keepdims=True))
    img = _read(tmp_path / "cm.png")
    dark_blue = (img[..., 2] > 0.3) & (img[..., 0] < 0.2)
    assert dark_blue.mean() > 0.05 and img.std() > 0.1
    with pytest.raises(ValueError, match="200 true labels but 3"):
        viz.confusion_matrix(t, p[:3], tmp_path / "x.png")


def test_attribution_map(tmp_path):
    from lamina.interpret import saliency

    x, y = _digits(4)
    model = _lenet()
    s = saliency(model, x, y, abs=False)
    img = _read(viz.attribution_map(x, s, tmp_path / "a.png", titles=[str(v) for v in y]))
    red = (img[..., 0] > 0.8) & (img[..., 2] < 0.5)
    blue = (img[..., 2] > 0.8) & (img[..., 0] < 0.5)
    assert red.sum() > 100 and blue.sum() > 100  # signed attributions on a diverging map
    grey = (np.abs(img[..., 0] - img[..., 2]) < 0.02) & (img[..., 0] < 0.5)
    assert grey.sum() > 100  # the input digits
    with pytest.raises(ValueError, match="differ in shape"):
        viz.attribution_map(x, s[:, :, :4], tmp_path / "b.png")
