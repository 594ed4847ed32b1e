"""Why did the model say that? Input attributions for any lamina Module, batch-wise: ``saliency``
(|d output_target / d input|), ``integrated_gradients`` (Sundararajan et al. 2017) and
``occlusion`` (the output drop when a sliding window is covered). Each returns an array shaped like
the input; the model is run as it is (call ``model.eval()`` first for dropout / batch norm)."""
from __future__ import annotations

import itertools

import numpy as np

from . import _pictures as pics
from .autograd.api import grad as _grad
from .autograd.grad_mode import no_grad
from .ops.creation import as_tensor

__all__ = ["integrated_gradients", "occlusion", "saliency"]


def _dtype_of(model):
    p = next(iter(model.parameters()), None)
    return np.float32 if p is None else p.detach().numpy().dtype


def _targets(target, n: int) -> np.ndarray:
    """One class index per sample from an int, a sequence or a Tensor of n ints."""
    t = np.asarray(pics.to_numpy(target) if hasattr(target, "detach") else target).astype(np.int64).ravel()
    if t.size == 1:
        t = np.full(n, int(t[0]), np.int64)
    if t.size != n:
        raise ValueError(f"target: expected one class index or {n} (one per sample), got {t.size}")
    return t


def _selected(model, xt, target: np.ndarray):
    """out[i, target[i]] summed over the batch (samples do not interact, so the gradient with
    respect to each sample is that sample's own derivative)."""
    out = model(xt)
    if len(out.shape) != 2:
        raise ValueError(f"interpret: the model's output must be (N, classes), got {list(out.shape)}")
    if target.min() < 0 or target.max() >= out.shape[1]:
        raise ValueError(f"interpret: target indices must lie in 0..{out.shape[1] - 1}, got {target.tolist()}")
    onehot = np.zeros(tuple(out.shape), dtype=out.detach().numpy().dtype)
    onehot[np.arange(out.shape[0]), target] = 1.0
    return (out * as_tensor(onehot)).sum(), out


def _input_grad(model, x: np.ndarray, target: np.ndarray) -> tuple:
    xt = as_tensor(x).requires_grad_(True)
    sel, out = _selected(model, xt, target)
    (g,) = _grad(sel, [xt])
    return pics.to_numpy(g), pics.to_numpy(out)[np.arange(x.shape[0]), target]


def _array(model, x) -> np.ndarray:
    return np.ascontiguousarray(pics.to_numpy(x), dtype=_dtype_of(model))


def saliency(model, x, target, abs: bool = True) -> np.ndarray:
    """``|d model(x)[i, target_i] / d x[i]|`` for every sample (Simonyan et al. 2013); ``abs=False``
    keeps the sign. ``target``: a class index or one per sample."""
    a = _array(model, x)
    g, _ = _input_grad(model, a, _targets(target, a.shape[0]))
    return np.abs(g) if abs else g


def integrated_gradients(model, x, target, baseline=None, steps: int = 50, internal_batch_size: int | None = None,
                         return_convergence_delta: bool = False):
    """Integrated gradients: (x - x') times the average gradient along the straight path from the
    baseline x' (None: zeros; a number; or an array shaped like x or like one sample) to x, by the
    midpoint rule with ``steps`` points. Completeness: each sample's attributions sum to
    f(x) - f(x') up to the quadrature error, which is O(1/steps^2) on smooth models (within 1% at
    128 steps in the tests). ``internal_batch_size``: how many path points go through the model
    at once (default: all steps of one sample's batch). With ``return_convergence_delta``, also
    returns per sample sum(attributions) - (f(x) - f(x'))."""
    a = _array(model, x)
    n = a.shape[0]
    t = _targets(target, n)
    if baseline is None:
        base = np.zeros_like(a)
    else:
        base = np.broadcast_to(np.asarray(pics.to_numpy(baseline), dtype=a.dtype), a.shape).copy()
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"integrated_gradients: steps must be >= 1, got {steps}")
    alphas = (np.arange(steps, dtype=np.float64) + 0.5) / steps
    diff = a - base
    total = np.zeros_like(a, dtype=np.float64)
    # Path points as one big batch: (steps * n, ...) in chunks, rows ordered step-major.
    chunk = int(internal_batch_size) if internal_batch_size else steps * n
    chunk = max(chunk, 1)
    flat_alpha = np.repeat(alphas, n)
    flat_sample = np.tile(np.arange(n), steps)
    for s in range(0, steps * n, chunk):
        al = flat_alpha[s:s + chunk].astype(a.dtype).reshape((-1,) + (1,) * (a.ndim - 1))
        idx = flat_sample[s:s + chunk]
        pts = base[idx] + al * diff[idx]
        g, _ = _input_grad(model, np.ascontiguousarray(pts), t[idx])
        np.add.at(total, idx, g.astype(np.float64))
    attr = diff.astype(np.float64) * total / steps
    if not return_convergence_delta:
        return attr
    with no_grad():
        fx = pics.to_numpy(model(as_tensor(a)))[np.arange(n), t]
        fb = pics.to_numpy(model(as_tensor(base)))[np.arange(n), t]
    delta = attr.reshape(n, -1).sum(1) - (fx - fb)
    return attr, delta


def occlusion(model, x, target, window, stride=None, baseline=0.0) -> np.ndarray:
    """Occlusion (Zeiler and Fergus 2014): slides ``window`` (a shape over the trailing dimensions
    of one sample, e.g. (3, 3) over (C, H, W) covers every channel) with ``stride`` (default: the
    window) and sets the covered values to ``baseline``; each value's attribution is the mean drop
    f(x)[target] - f(x occluded)[target] over the windows that cover it (zero where none does).
    All samples of the batch are occluded at once, one forward per window position."""
    a = _array(model, x)
    n = a.shape[0]
    t = _targets(target, n)
    sample = a.shape[1:]
    given = (int(window),) if np.isscalar(window) else tuple(int(w) for w in window)
    if len(given) > len(sample):
        raise ValueError(f"occlusion: window {list(given)} has more dimensions than a sample {list(sample)}")
    lead = len(sample) - len(given)
    if stride is None:
        stride = given
    stride = (int(stride),) * len(given) if np.isscalar(stride) else tuple(int(s) for s in stride)
    if len(stride) != len(given):
        raise ValueError(f"occlusion: stride {list(stride)} and window {list(given)} differ in length")
    win = tuple(sample[:lead]) + given  # leading dimensions (channels) are covered whole
    st = (1,) * lead + stride
    if any(w < 1 or w > d for w, d in zip(win, sample)) or any(s < 1 for s in st):
        raise ValueError(f"occlusion: window {list(win)} / stride {list(st)} do not fit a sample {list(sample)}")
    rows = np.arange(n)
    with no_grad():
        f0 = pics.to_numpy(model(as_tensor(a)))[rows, t]
        attr = np.zeros(a.shape, np.float64)
        count = np.zeros(sample, np.float64)
        starts = [range(0, d - w + 1, s) for d, w, s in zip(sample, win, st)]
        for pos in itertools.product(*starts):
            sl = tuple(slice(p, p + w) for p, w in zip(pos, win))
            occ = a.copy()
            occ[(slice(None),) + sl] = baseline
            drop = f0 - pics.to_numpy(model(as_tensor(occ)))[rows, t]
            attr[(slice(None),) + sl] += drop.reshape((n,) + (1,) * len(sample))
            count[sl] += 1.0
    return np.divide(attr, count, out=np.zeros_like(attr), where=count > 0)
