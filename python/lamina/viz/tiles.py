"""Grids of images: ``tile_images`` saves a grid of grey-scale tiles as a PNG
(first-layer weights of an RBM / autoencoder, inputs next to reconstructions, corrupted inputs).
matplotlib is imported only when a picture is drawn: ``pip install "lamina[viz]"``."""
from __future__ import annotations

import math
import os

import numpy as np

from ._mpl import pyplot as _pyplot

__all__ = ["tile_images"]


def _to_tiles(images, shape) -> np.ndarray:
    """(K, H, W) float64 from a Tensor / array of shape (K, H*W), (K, H, W) or (K, 1, H, W)."""
    a = np.asarray(images.detach().numpy() if hasattr(images, "detach") else images, dtype=np.float64)
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if shape is not None:
        h, w = (int(shape[0]), int(shape[1]))
        if a.size != a.shape[0] * h * w:
            raise ValueError(f"tile_images: cannot show {list(a.shape)} as tiles of {h}x{w}")
        return a.reshape(a.shape[0], h, w)
    if a.ndim == 3:
        return a
    if a.ndim == 2:
        side = int(round(math.sqrt(a.shape[1])))
        if side * side != a.shape[1]:
            raise ValueError(f"tile_images: rows of {a.shape[1]} values are not square; pass shape=(H, W)")
        return a.reshape(a.shape[0], side, side)
    raise ValueError(f"tile_images: expected (K, H*W), (K, H, W) or (K, 1, H, W), got shape {list(a.shape)}")


def tile_images(images, path, nrows: int | None = None, shape=None, normalize: bool = True, titles=None,
                scale: int = 4, pad: int = 1) -> str:
    """Saves ``images`` as a grid of grey-scale tiles in the PNG ``path``; returns the path.

    images: K images as a Tensor or array (K, H*W) (e.g. first-layer weights (K, 784) -> 28x28
    tiles; give ``shape=(H, W)`` for non-square rows), (K, H, W) or (K, 1, H, W).
    nrows: rows of the grid (default: about square; columns = ceil(K / nrows)).
    normalize: stretch each tile to its own min..max (filters); otherwise values are shown on a
    fixed 0..1 scale (images in [0, 1]). titles: optional list of K strings drawn above the tiles.
    The picture is exactly (nrows * (H + pad) + pad) * scale pixels high and
    (ncols * (W + pad) + pad) * scale wide (plus max(6, H // 3) * scale rows per tile row with titles).
    """
    tiles = _to_tiles(images, shape)
    k, h, w = tiles.shape
    if k == 0:
        raise ValueError("tile_images: no images to draw")
    nrows = int(nrows) if nrows else int(math.ceil(math.sqrt(k)))
    ncols = int(math.ceil(k / nrows))
    if titles is not None and len(titles) != k:
        raise ValueError(f"tile_images: {len(titles)} titles for {k} images")
    th = max(6, h // 3) if titles is not None else 0  # room for a title above each tile row, in grid units
    grid = np.ones((nrows * (h + pad + th) + pad, ncols * (w + pad) + pad))  # white background
    for i in range(k):
        t = tiles[i]
        if normalize:
            lo, hi = float(t.min()), float(t.max())
            t = (t - lo) / (hi - lo) if hi > lo else np.zeros_like(t)
        else:
            t = np.clip(t, 0.0, 1.0)
        r, c = divmod(i, ncols)
        y0 = pad + r * (h + pad + th) + th
        x0 = pad + c * (w + pad)
        grid[y0:y0 + h, x0:x0 + w] = t
    plt = _pyplot()
    dpi = 100
    fig = plt.figure(figsize=(grid.shape[1] * scale / dpi, grid.shape[0] * scale / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="auto")
    ax.set_axis_off()
    if titles is not None:
        fs = max(4.0, min(th * scale * 0.5, w * scale / max(1, max(len(str(s)) for s in titles)) * 1.4))
        for i, text in enumerate(titles):
            r, c = divmod(i, ncols)
            ax.text(pad + c * (w + pad) + w / 2 - 0.5, pad + r * (h + pad + th) + th / 2 - 0.5, str(text),
                    ha="center", va="center", fontsize=fs * 72 / dpi, color="black")
    path = os.fspath(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
