"""lamina.viz.tile_images: PNG grids of filters and images, with exact pixel sizes."""
import builtins

import numpy as np
import pytest

import lamina
from lamina.viz import tile_images


def test_tile_filters_and_images(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg

    w = lamina.randn(10, 784)                      # first-layer weights -> 10 tiles of 28x28
    p = tile_images(w, tmp_path / "filters.png")
    assert p == str(tmp_path / "filters.png")
    img = mpimg.imread(p)
    # 4 rows x 3 columns of 28x28 tiles, 1 pixel padding, scale 4
    assert img.shape[:2] == ((4 * 29 + 1) * 4, (3 * 29 + 1) * 4)
    x = lamina.rand(6, 1, 8, 8)
    p2 = tile_images(x, tmp_path / "digits.png", nrows=2, normalize=False, scale=1, pad=0)
    img2 = mpimg.imread(p2)
    assert img2.shape[:2] == (16, 24)
    # unnormalized tiles show the values on a 0..1 grey scale
    np.testing.assert_allclose(img2[:8, :8, 0], x.numpy()[0, 0], atol=2.5 / 255)  # 256-entry colormap + 8-bit PNG
    p3 = tile_images(np.zeros((3, 2, 5)), tmp_path / "t.png", titles=["a", "b", "c"], nrows=1)
    assert mpimg.imread(p3).shape[:2] == ((1 * (2 + 1 + 6) + 1) * 4, (3 * 6 + 1) * 4)
    p4 = tile_images(np.ones((2, 12)), tmp_path / "r.png", shape=(3, 4), nrows=1, scale=2)
    assert mpimg.imread(p4).shape[:2] == ((3 + 2) * 2, (2 * 5 + 1) * 2)


def test_tile_errors(tmp_path):
    with pytest.raises(ValueError, match="rows of 10 values are not square; pass shape"):
        tile_images(np.zeros((2, 10)), tmp_path / "a.png")
    with pytest.raises(ValueError, match="cannot show \\[2, 10\\] as tiles of 3x3"):
        tile_images(np.zeros((2, 10)), tmp_path / "a.png", shape=(3, 3))
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        tile_images(np.zeros((3, 4)), tmp_path / "a.png", titles=["a", "b"])


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match='pip install "lamina\\[viz\\]"'):
        tile_images(np.zeros((1, 4)), tmp_path / "a.png")
