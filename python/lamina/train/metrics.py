"""Metrics for fit/evaluate: each takes (outputs, targets) and returns (sum over the batch, count),
so epoch values are exact averages over samples whatever the batch sizes."""
from __future__ import annotations

import numpy as np


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def accuracy(outputs, targets):
    """Fraction correct: argmax over classes for (N, C) outputs with C > 1, threshold 0.5 for a
    single probability column (or logits when thresholding at 0 is requested via logits=True)."""
    o, t = _np(outputs), _np(targets)
    if o.ndim >= 2 and o.shape[1] > 1:
        pred = o.argmax(axis=1)
        if t.ndim == o.ndim:  # probability / one-hot targets
            t = t.argmax(axis=1)
    else:
        pred = (o.reshape(o.shape[0], -1)[:, 0] >= 0.5).astype(np.int64)
        t = t.reshape(t.shape[0], -1)[:, 0] if t.ndim > 1 else t
    return float((pred == t).sum()), int(pred.size)


def mse(outputs, targets):
    o, t = _np(outputs), _np(targets)
    return float(((o - t.reshape(o.shape)) ** 2).sum()), int(o.size)


def mae(outputs, targets):
    o, t = _np(outputs), _np(targets)
    return float(np.abs(o - t.reshape(o.shape)).sum()), int(o.size)


_REGISTRY = {"accuracy": accuracy, "acc": accuracy, "mse": mse, "mae": mae}


def resolve(metrics):
    """Names or callables -> list of (name, fn); a callable returning a float is averaged per batch."""
    out = []
    for m in metrics or ():
        if isinstance(m, str):
            if m not in _REGISTRY:
                raise ValueError(f"unknown metric {m!r}; known: {sorted(_REGISTRY)} or pass a callable")
            out.append(("accuracy" if m == "acc" else m, _REGISTRY[m]))
        elif callable(m):
            out.append((getattr(m, "__name__", "metric"), m))
        else:
            raise TypeError(f"metric must be a name or a callable, got {m!r}")
    return out
