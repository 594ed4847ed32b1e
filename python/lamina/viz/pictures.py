"""What a network holds, one PNG per call: ``filters`` (first-layer kernels or weight rows),
``feature_maps`` (any named layer's activations, through a forward hook) and ``reconstructions``
(inputs above an autoencoder's or RBM's reconstructions)."""
from __future__ import annotations

import numpy as np

from .. import _pictures as pics
from ..autograd.grad_mode import no_grad
from ..ops.creation import as_tensor
from ._mpl import pyplot, save
from .tiles import tile_images

__all__ = ["feature_maps", "filters", "reconstructions"]


def _as_input(model, x):
    """``x`` as a Tensor of the model's parameter dtype (NumPy inputs arrive as float64)."""
    t = as_tensor(x) if not hasattr(x, "detach") else x
    p = next(iter(model.parameters()), None)
    return t.to(p.dtype) if p is not None and t.dtype != p.dtype else t


def _save_grid(img: np.ndarray, path, scale: int) -> str:
    plt = pyplot()
    h, w = img.shape[:2]
    fig = plt.figure(figsize=(w * scale / 100, h * scale / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray", vmin=0.0, vmax=1.0, interpolation="nearest",
              aspect="auto")
    ax.set_axis_off()
    return save(fig, path)


def filters(model_or_layer, path, input_shape=None, nrows: int | None = None, scale: int = 8) -> str:
    """Saves the filters of a layer (a Conv2d / Linear, or the first such layer of a model) as a
    grid of tiles, each stretched to its own range. Conv kernels (OC, IC, KH, KW) give one tile per
    output channel (RGB for 3 input channels, else one per (output, input) pair); Linear rows are
    reshaped to ``input_shape`` ((H, W) or (C, H, W)) or to a square. Returns the path."""
    found = pics.first_weighted_layer(model_or_layer)
    if found is None:
        raise ValueError(f"filters: {type(model_or_layer).__name__} has no layer with a 2-D or 4-D weight")
    tiles = pics.filter_tiles(found[1].weight, input_shape)
    return _save_grid(pics.grid(tiles, nrows), path, scale)


def feature_maps(model, x, layer: str | None, path, max_maps: int = 64, scale: int = 8) -> str:
    """Runs ``model`` on the first sample of ``x`` (eval mode, no graph) and saves the output of
    sub-module ``layer`` (its name in ``model.named_modules()``, e.g. "features.0"; None: the first
    Conv2d / Linear) as one tile per channel (at most ``max_maps``). Returns the path."""
    mods = dict(model.named_modules())
    if layer is None:
        layer = pics.first_weighted_layer(model)[0]
    if layer not in mods:
        raise KeyError(f"feature_maps: no sub-module named {layer!r}; named modules: {[n for n in mods if n][:30]}")
    seen = []
    handle = mods[layer].register_forward_hook(lambda m, i, o: seen.append(o))
    xin = _as_input(model, x)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(xin[:1])
    finally:
        handle.remove()
        model.train(was_training)
    tiles = pics.activation_tiles(seen[0])[:max_maps]
    return _save_grid(pics.grid(tiles), path, scale)


def reconstructions(model, x, path, n: int = 8, shape=None, scale: int = 4) -> str:
    """Saves the first ``n`` rows of ``x`` (top row) above the model's reconstructions (bottom row):
    ``model(x)`` for autoencoders, E[v | h] from p(h | v) for RBMs (models with ``hidden_probs``
    and ``visible_mean``). ``shape``: (H, W) of a flat row (default: square). Returns the path."""
    xin = _as_input(model, x)[:n]
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            if hasattr(model, "hidden_probs") and hasattr(model, "visible_mean"):
                rec = model.visible_mean(model.hidden_probs(xin.reshape(xin.shape[0], -1)))
            else:
                rec = model(xin)
    finally:
        model.train(was_training)
    a, r = pics.to_numpy(xin), pics.to_numpy(rec)
    k = a.shape[0]
    both = np.concatenate([a.reshape(k, -1), r.reshape(k, -1)], 0)
    if shape is None and a.ndim >= 3:
        shape = a.shape[-2:]
    return tile_images(both, path, nrows=2, shape=shape, normalize=False, scale=scale)
