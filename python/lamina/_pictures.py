"""NumPy-only picture helpers shared by TensorBoard logging (lamina.train.tensorboard) and the PNG
writers (lamina.viz): finding a model's first weighted layer, turning its weights or a layer's
activations into tiles, and laying tiles out in one grey-scale grid. No matplotlib, no lamina imports."""
from __future__ import annotations

import math

import numpy as np


def to_numpy(x) -> np.ndarray:
    """A float64 array from a lamina Tensor (detached), a NumPy array or anything array-like."""
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x, dtype=np.float64)


def first_weighted_layer(model):
    """(name, module) of the first sub-module (in registration order) that owns a 2-D (Linear-like)
    or 4-D (Conv2d-like) ``weight``; the module itself when it has one. None when there is none."""
    for name, mod in model.named_modules():
        w = getattr(mod, "weight", None)
        if w is not None and hasattr(w, "shape") and len(w.shape) in (2, 4):
            return name, mod
    return None


def filter_tiles(weight, input_shape=None) -> np.ndarray:
    """Tiles (K, H, W) or (K, H, W, 3) of first-layer filters.

    A conv weight (OC, IC, KH, KW) gives OC tiles: RGB when IC == 3, otherwise one tile per
    (output, input) channel pair with IC > 1 (OC * IC tiles). A linear weight (out, in) gives one
    tile per row, reshaped to ``input_shape`` ((H, W), (1, H, W) or (3, H, W)) when given, else to a
    square when ``in`` is a perfect square. Raises ValueError when rows cannot be shown as images.
    """
    w = to_numpy(weight)
    if w.ndim == 4:
        oc, ic = w.shape[:2]
        if ic == 3:
            return np.transpose(w, (0, 2, 3, 1))
        return w.reshape(oc * ic, w.shape[2], w.shape[3])
    if w.ndim != 2:
        raise ValueError(f"filter_tiles: expected a 2-D or 4-D weight, got shape {list(w.shape)}")
    k, n = w.shape
    if input_shape is not None:
        shp = tuple(int(s) for s in input_shape)
        if int(np.prod(shp)) != n:
            raise ValueError(f"filter_tiles: rows of {n} values cannot be shown as {list(shp)} images")
        if len(shp) == 3 and shp[0] == 3:
            return np.transpose(w.reshape(k, *shp), (0, 2, 3, 1))
        if len(shp) == 3 and shp[0] == 1:
            shp = shp[1:]
        if len(shp) == 2:
            return w.reshape(k, *shp)
        raise ValueError(f"filter_tiles: cannot show rows as images of shape {list(shp)}")
    side = round(math.sqrt(n))
    if side * side != n:
        raise ValueError(f"filter_tiles: rows of {n} values are not square; give the input shape")
    return w.reshape(k, side, side)


def activation_tiles(act) -> np.ndarray:
    """Tiles (C, H, W) of one sample's activations: (C, H, W) or (1, C, H, W) feature maps, or a
    1-D vector (F,) shown as a single 1 x F strip."""
    a = to_numpy(act)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(f"activation_tiles: expected one sample, got shape {list(a.shape)}")
        a = a[0]
    if a.ndim == 3:
        return a
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 1:
        return a.reshape(1, 1, -1)
    raise ValueError(f"activation_tiles: cannot show activations of shape {list(a.shape)} as images")


def normalize_tile(t: np.ndarray) -> np.ndarray:
    """Stretched to its own min..max in [0, 1] (a constant tile becomes zeros)."""
    lo, hi = float(t.min()), float(t.max())
    return (t - lo) / (hi - lo) if hi > lo else np.zeros_like(t)


def grid(tiles: np.ndarray, nrows: int | None = None, pad: int = 1, normalize: bool = True) -> np.ndarray:
    """One image (H', W') or (H', W', 3), values in [0, 1], from K tiles (K, H, W[, 3]) laid out
    about square (or in ``nrows`` rows) on a white background with ``pad`` pixels between tiles."""
    tiles = np.asarray(tiles, dtype=np.float64)
    if tiles.ndim not in (3, 4) or tiles.shape[0] == 0:
        raise ValueError(f"grid: expected K >= 1 tiles (K, H, W) or (K, H, W, 3), got shape {list(tiles.shape)}")
    k, h, w = tiles.shape[:3]
    nrows = int(nrows) if nrows else math.ceil(math.sqrt(k))
    ncols = math.ceil(k / nrows)
    out = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad) + tiles.shape[3:])
    for i in range(k):
        t = normalize_tile(tiles[i]) if normalize else np.clip(tiles[i], 0.0, 1.0)
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = t
    return out
