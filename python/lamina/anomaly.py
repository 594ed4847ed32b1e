"""Anomaly detection by reconstruction error: score samples with a model trained on normal data
only, calibrate a threshold on held-out normal scores, and measure with ROC-AUC and
precision / recall. Scores, thresholds and metrics are numpy (float64); a higher score means
more anomalous."""
from __future__ import annotations

import numpy as np

from .autograd.grad_mode import no_grad
from .models.autoencoder import _batches, _inputs

__all__ = ["reconstruction_scores", "calibrate_threshold", "AnomalyDetector", "roc_auc", "precision_recall"]


def _as_numpy(t) -> np.ndarray:
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


def reconstruction_scores(model, x, batch_size: int = 1024) -> np.ndarray:
    """Per-sample reconstruction error, float64 numpy (N,): the mean squared difference between
    each sample and ``model(sample)`` over all its features.

    ``model``: an nn.Module whose forward returns a reconstruction of its input's shape (run in
    eval mode, so a denoising autoencoder does not corrupt; its mode is restored after), or any
    callable mapping a batch tensor to a reconstruction (a batch tensor or array of the same
    number of elements per sample). ``x``: a Tensor, an ndarray, or a Dataset / DataLoader of
    inputs (labels ignored).
    """
    x = _inputs(x)
    n = x.shape[0]
    is_module = hasattr(model, "eval") and hasattr(model, "training")
    was = model.training if is_module else None
    if is_module:
        model.eval()
    out = []
    try:
        with no_grad():
            for xb in _batches(x, int(batch_size), False):
                r = _as_numpy(model(xb)).astype(np.float64).reshape(xb.shape[0], -1)
                a = _as_numpy(xb).astype(np.float64).reshape(xb.shape[0], -1)
                if r.shape != a.shape:
                    raise ValueError(f"reconstruction_scores: the model returned {r.shape[1]} values per sample "
                                     f"for inputs with {a.shape[1]}")
                out.append(((r - a) ** 2).mean(1))
    finally:
        if is_module:
            model.train(was)
    return np.concatenate(out) if n else np.zeros(0)


def calibrate_threshold(scores_val, percentile: float = 95) -> float:
    """The ``percentile``-th percentile of scores of held-out NORMAL samples: predicting
    ``score > threshold`` as anomalous then flags about (100 - percentile)% of normal data
    (the false-positive rate you accept)."""
    s = np.asarray(scores_val, dtype=np.float64).ravel()
    if s.size == 0:
        raise ValueError("calibrate_threshold: no scores given")
    if not 0 <= percentile <= 100:
        raise ValueError(f"calibrate_threshold: percentile must be in [0, 100], got {percentile}")
    return float(np.percentile(s, percentile))


class AnomalyDetector:
    """``AnomalyDetector(model, percentile=95).fit(x_val_normal)`` then ``predict(x)`` (bool numpy,
    True = anomalous: reconstruction error above the threshold) and ``score(x)`` (the errors).

    ``model`` must already be trained on normal data; ``fit`` only sets ``threshold_`` from
    held-out normal samples (see calibrate_threshold). ``score_fn`` replaces reconstruction_scores
    (e.g. ``lambda m, x: m.reconstruction_error(x)`` for a BCE autoencoder).
    """

    def __init__(self, model, percentile: float = 95, batch_size: int = 1024, score_fn=None) -> None:
        self.model, self.percentile, self.batch_size = model, float(percentile), int(batch_size)
        self.score_fn = score_fn
        self.threshold_ = None

    def score(self, x) -> np.ndarray:
        if self.score_fn is not None:
            return np.asarray(self.score_fn(self.model, x), dtype=np.float64)
        return reconstruction_scores(self.model, x, self.batch_size)

    def fit(self, x_val_normal) -> "AnomalyDetector":
        self.threshold_ = calibrate_threshold(self.score(x_val_normal), self.percentile)
        return self

    def predict(self, x) -> np.ndarray:
        if self.threshold_ is None:
            raise RuntimeError("AnomalyDetector.predict: call fit(x_val_normal) first to set the threshold")
        return self.score(x) > self.threshold_

    def __repr__(self) -> str:
        return (f"AnomalyDetector(model={type(self.model).__name__}, percentile={self.percentile}, "
                f"threshold={self.threshold_})")


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve for ``scores`` (higher = more positive) and binary ``labels``
    (1/True = positive, i.e. anomalous), from ranks (the Mann-Whitney U statistic): the
    probability that a random positive scores above a random negative, ties counting one half.
    Raises ValueError unless both classes are present."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"roc_auc: {s.size} scores but {y.size} labels")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"roc_auc: needs both classes, got {n_pos} positives and {n_neg} negatives")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(s.size, dtype=np.float64)
    # average rank (1-based) over each run of tied scores
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], s.size]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def precision_recall(pred, labels) -> tuple:
    """``(precision, recall)`` of boolean predictions against binary labels (1/True = anomalous):
    precision = TP / (TP + FP) (0.0 when nothing is predicted positive), recall = TP / (TP + FN)
    (0.0 when there are no positives)."""
    p = np.asarray(pred).ravel().astype(bool)
    y = np.asarray(labels).ravel().astype(bool)
    if p.shape != y.shape:
        raise ValueError(f"precision_recall: {p.size} predictions but {y.size} labels")
    tp = int((p & y).sum())
    fp = int((p & ~y).sum())
    fn = int((~p & y).sum())
    return (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)
