"""Charts, one PNG per call: ``plot_history`` (loss and metric curves, training and validation),
``confusion_matrix`` (counts, or rates per true class) and ``attribution_map`` (inputs beside the
attributions of lamina.interpret as heat maps)."""
from __future__ import annotations

import numpy as np

from .. import _pictures as pics
from ._mpl import pyplot, save

__all__ = ["attribution_map", "confusion_matrix", "plot_history"]

_SKIP = ("lr", "time", "samples_per_s", "steps")


def plot_history(history, path, keys=None) -> str:
    """One panel per quantity of a ``lamina.train.History`` (or its ``.history`` dict): the loss,
    then each metric, with its ``val_`` curve in the same panel. ``keys``: which quantities (default:
    every one but lr, time, samples_per_s). Returns the path."""
    h = getattr(history, "history", history)
    epochs = list(getattr(history, "epoch", [])) or None
    names = keys or [k for k in h if not k.startswith("val_") and k not in _SKIP]
    names = [k for k in names if len(h.get(k, [])) or len(h.get("val_" + k, []))]
    if not names:
        raise ValueError(f"plot_history: nothing to plot (keys in the history: {sorted(h)})")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(4.0 * len(names), 3.2), squeeze=False)
    for ax, k in zip(axes[0], names):
        for key, style in ((k, "-"), ("val_" + k, "--")):
            vals = np.asarray(h.get(key, []), dtype=np.float64)
            if len(vals):
                xs = np.asarray(epochs[:len(vals)]) + 1 if epochs else np.arange(1, len(vals) + 1)
                ax.plot(xs, vals, style, marker="o", markersize=3, label="validation" if key != k else "training")
        ax.set_title(k)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def confusion_matrix(y_true, y_pred, path, labels=None, normalize: bool = False) -> np.ndarray:
    """Saves the confusion matrix of integer labels (rows: true class, columns: predicted; class
    scores (N, C) are reduced with argmax) as an annotated heat map and returns the matrix (counts,
    or rates per true class with ``normalize``). ``labels``: class names for the axes."""
    t = pics.to_numpy(y_true)
    p = pics.to_numpy(y_pred)
    if p.ndim == 2:
        p = p.argmax(1)
    t, p = t.astype(np.int64).ravel(), p.astype(np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: {t.shape[0]} true labels but {p.shape[0]} predictions")
    k = int(max(t.max(initial=-1), p.max(initial=-1)) + 1) if labels is None else len(labels)
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= k):
        raise ValueError(f"confusion_matrix: labels must lie in 0..{k - 1}")
    m = np.zeros((k, k), np.float64)
    np.add.at(m, (t, p), 1.0)
    if normalize:
        m = m / np.maximum(m.sum(1, keepdims=True), 1.0)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.0 + 0.5 * k, 0.8 + 0.5 * k))
    ax.imshow(m, cmap="Blues")
    names = [str(s) for s in (labels if labels is not None else range(k))]
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    hi = m.max() if m.size else 0.0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{m[i, j]:.2f}" if normalize else str(int(m[i, j])), ha="center", va="center",
                    fontsize=7, color="white" if m[i, j] > hi / 2 else "black")
    fig.tight_layout()
    save(fig, path)
    return m


def _image(a: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) for display from (H, W), (1, H, W), (3, H, W) or a square flat row."""
    if a.ndim == 1:
        side = int(round(np.sqrt(a.size)))
        if side * side != a.size:
            raise ValueError(f"attribution_map: a row of {a.size} values is not a square image")
        return a.reshape(side, side)
    if a.ndim == 3 and a.shape[0] == 1:
        return a[0]
    if a.ndim == 3 and a.shape[0] == 3:
        return np.transpose(a, (1, 2, 0))
    if a.ndim == 2:
        return a
    raise ValueError(f"attribution_map: cannot show a sample of shape {list(a.shape)} as an image")


def attribution_map(x, attributions, path, n: int = 8, titles=None) -> str:
    """For the first ``n`` samples, the input (top row) above its attributions (bottom row; same
    shape as ``x``, e.g. from ``lamina.interpret``) as a diverging heat map centred on zero (red:
    raises the output, blue: lowers it; colour channels summed). Returns the path."""
    a, s = pics.to_numpy(x), pics.to_numpy(attributions)
    if a.shape != s.shape:
        raise ValueError(f"attribution_map: inputs {list(a.shape)} and attributions {list(s.shape)} differ in shape")
    k = min(int(n), a.shape[0])
    plt = pyplot()
    fig, axes = plt.subplots(2, k, figsize=(1.6 * k, 3.4), squeeze=False)
    for i in range(k):
        img, att = _image(a[i]), _image(s[i])
        if att.ndim == 3:
            att = att.sum(-1)
        axes[0, i].imshow(pics.normalize_tile(img), cmap=None if img.ndim == 3 else "gray", vmin=0, vmax=1)
        lim = float(np.abs(att).max()) or 1.0
        axes[1, i].imshow(att, cmap="bwr", vmin=-lim, vmax=lim)
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=8)
        for ax in axes[:, i]:
            ax.set_axis_off()
    fig.tight_layout()
    return save(fig, path)
