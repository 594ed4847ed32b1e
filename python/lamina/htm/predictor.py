"""``lamina.htm.Classifier`` (alias ``SDRClassifier``) and ``Predictor``: single-layer softmax
regression from an SDR (e.g. the temporal memory's active cells) to a class or value bucket,
learned online, as in htm.core's SDR classifier; the predictor learns k steps ahead."""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import _io

__all__ = ["Classifier", "Predictor", "SDRClassifier"]


def _pattern(x: Any) -> np.ndarray:
    """Boolean mask or indices -> sorted unique int64 indices."""
    arr, _ = _io.to_numpy(x)
    if arr.dtype == np.bool_:
        return np.flatnonzero(arr.reshape(-1))
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"Classifier: a pattern must be a boolean mask or integer indices, got {arr.dtype}")
    idx = np.unique(arr.reshape(-1).astype(np.int64))
    if idx.size and idx[0] < 0:
        raise ValueError("Classifier: pattern indices must be >= 0")
    return idx


def _labels(c: int | Iterable[int]) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(c))
    if arr.dtype.kind not in "iu" or (arr.size and arr.min() < 0):
        raise ValueError(f"Classifier: classification must be non-negative ints (bucket indices), got {c!r}")
    return arr.astype(np.int64)


class Classifier:
    """Online softmax regression: ``infer(pattern)`` gives a probability for every class seen so
    far (the softmax of the summed weights of the pattern's active bits); ``learn(pattern,
    classification)`` moves those weights by ``alpha * (target - probability)``. A classification
    of several labels spreads the target evenly over them."""

    def __init__(self, alpha: float = 0.001) -> None:
        if not alpha > 0:
            raise ValueError(f"Classifier: alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)
        self._w = np.zeros((0, 0), dtype=np.float32)  # [inputs, classes], grown on demand

    def _grow(self, rows: int, cols: int) -> None:
        r, c = self._w.shape
        if rows > r or cols > c:
            w = np.zeros((max(rows, r), max(cols, c)), dtype=np.float32)
            w[:r, :c] = self._w
            self._w = w

    def infer(self, pattern: Any) -> np.ndarray:
        """Probabilities over the classes seen so far (empty before any learning)."""
        idx = _pattern(pattern)
        if self._w.shape[1] == 0:
            return np.zeros(0)
        idx = idx[idx < self._w.shape[0]]
        z = self._w[idx].sum(axis=0, dtype=np.float64)
        z -= z.max()
        p = np.exp(z)
        return p / p.sum()

    def learn(self, pattern: Any, classification: int | Iterable[int]) -> None:
        """One online update towards ``classification`` (a bucket index or several)."""
        idx = _pattern(pattern)
        labels = _labels(classification)
        rows = int(idx[-1]) + 1 if idx.size else 0
        self._grow(rows, int(labels.max()) + 1 if labels.size else 0)
        target = np.zeros(self._w.shape[1])
        target[labels] = 1.0 / max(1, labels.size)
        err = (target - self.infer(idx)).astype(np.float32)
        self._w[idx] += self.alpha * err

    def state_dict(self) -> dict[str, Any]:
        """Arguments and weights, for lamina.save."""
        return {"type": "Classifier", "config": {"alpha": self.alpha}, "state": {"weights": self._w}}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        """Restores the weights saved by state_dict()."""
        self._w = np.array(sd["state"]["weights"], dtype=np.float32)

    @classmethod
    def from_state_dict(cls, sd: dict[str, Any]) -> Classifier:
        """A new Classifier with the saved arguments and weights."""
        c = cls(**dict(sd["config"]))
        c.load_state_dict(sd)
        return c


SDRClassifier = Classifier


class Predictor:
    """Predicts the classification ``n`` steps ahead for each n in ``steps``, from the current
    pattern. ``learn(record_num, pattern, classification)`` pairs the pattern seen n records ago
    with today's classification; a gap in ``record_num`` (or ``reset()``) starts over.
    ``infer(pattern)`` returns ``{n: probabilities}``."""

    def __init__(self, steps: Sequence[int] = (1,), alpha: float = 0.001) -> None:
        steps = tuple(int(s) for s in steps)
        if not steps or any(s < 0 for s in steps) or len(set(steps)) != len(steps):
            raise ValueError(f"Predictor: steps must be distinct non-negative ints, got {steps}")
        self.steps = steps
        self.alpha = float(alpha)
        self._clf = {n: Classifier(alpha) for n in steps}
        self._history: deque = deque(maxlen=max(steps) + 1)  # (record_num, pattern)

    def reset(self) -> None:
        """Forgets the pattern history (call between independent sequences)."""
        self._history.clear()

    def infer(self, pattern: Any) -> dict[int, np.ndarray]:
        """``{n: probabilities over the classes}`` for each step n."""
        idx = _pattern(pattern)
        return {n: c.infer(idx) for n, c in self._clf.items()}

    def learn(self, record_num: int, pattern: Any, classification: int | Iterable[int]) -> None:
        """Learns today's ``classification`` as the n-step-ahead answer for the pattern seen n records ago."""
        idx = _pattern(pattern)
        if self._history and record_num != self._history[-1][0] + 1:
            self._history.clear()
        self._history.append((int(record_num), idx))
        for n, clf in self._clf.items():
            if len(self._history) > n:
                rec, past = self._history[-1 - n]
                if rec == record_num - n:
                    clf.learn(past, classification)

    def state_dict(self) -> dict[str, Any]:
        """Arguments, classifiers and pattern history, for lamina.save."""
        return {"type": "Predictor", "config": {"steps": list(self.steps), "alpha": self.alpha},
                "state": {"classifiers": {str(n): c.state_dict() for n, c in self._clf.items()},
                          "history": [[r, p] for r, p in self._history]}}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        """Restores what state_dict() saved."""
        for n, c in self._clf.items():
            c.load_state_dict(sd["state"]["classifiers"][str(n)])
        self._history.clear()
        for r, p in sd["state"]["history"]:
            self._history.append((int(r), np.asarray(p, dtype=np.int64)))

    @classmethod
    def from_state_dict(cls, sd: dict[str, Any]) -> Predictor:
        """A new Predictor with the saved arguments and state."""
        p = cls(**dict(sd["config"]))
        p.load_state_dict(sd)
        return p
