"""``lamina.htm.AnomalyLikelihood``: turns a stream of raw anomaly scores into the probability
that the current behaviour is unusual (Ahmad, Lavin, Purdy & Agha 2017, "Unsupervised real-time
anomaly detection for streaming data"): a normal distribution is fitted to the recent moving
average of raw scores, and a short-term average far in its tail is anomalous."""
from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

__all__ = ["AnomalyLikelihood"]

_RED = 1e-5     # tail probabilities below this are "red" (likelihood > 0.99999)
_YELLOW = 1e-3  # consecutive reds after the first are shown as yellow (likelihood 0.999)
_MIN_MEAN = 0.03      # floors on the fitted distribution, so a perfectly predicted stream (all
_MIN_VARIANCE = 3e-4  # raw scores 0) does not make the smallest blip look infinitely unlikely


def _tail(x: float, mean: float, std: float) -> float:
    """P(X >= x) for X ~ N(mean, std^2), folded so values below the mean are not anomalous."""
    if x < mean:
        x = 2.0 * mean - x
    return 0.5 * math.erfc((x - mean) / (std * math.sqrt(2.0)))


class AnomalyLikelihood:
    """Streaming anomaly likelihood.

    ``anomaly_probability(value, anomaly_score, timestamp=None)`` returns 0.5 for the first
    ``learning_period + estimation_samples`` records; afterwards ``1 - tail probability`` of the
    mean of the last ``averaging_window`` raw scores under a normal fitted to the moving averages
    of the last ``historic_window_size`` scores (skipping the first ``learning_period``, while the
    model is still learning), refitted every ``reestimation_period`` records. As in NuPIC, a run
    of "red" likelihoods (> 0.99999) reports only its first one as red, the rest as 0.999.
    ``compute_log_likelihood`` maps a likelihood to a 0..1 log scale that spreads the values near 1.
    """

    def __init__(self, learning_period: int = 288, estimation_samples: int = 100,
                 historic_window_size: int = 8640, reestimation_period: int = 100,
                 averaging_window: int = 10) -> None:
        for name, v, lo in (("learning_period", learning_period, 0),
                            ("estimation_samples", estimation_samples, 1),
                            ("historic_window_size", historic_window_size, 1),
                            ("reestimation_period", reestimation_period, 1),
                            ("averaging_window", averaging_window, 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"AnomalyLikelihood: {name} must be an int >= {lo}, got {v!r}")
        if historic_window_size < estimation_samples:
            raise ValueError(f"AnomalyLikelihood: historic_window_size ({historic_window_size}) must "
                             f"be >= estimation_samples ({estimation_samples})")
        self.learning_period = int(learning_period)
        self.estimation_samples = int(estimation_samples)
        self.historic_window_size = int(historic_window_size)
        self.reestimation_period = int(reestimation_period)
        self.averaging_window = int(averaging_window)
        self._scores: deque = deque(maxlen=self.historic_window_size)
        self._averages: deque = deque(maxlen=self.historic_window_size)
        self._recent: deque = deque(maxlen=self.averaging_window)
        self._records = 0
        self._dist: tuple | None = None  # (mean, std)
        self._last_tail = 1.0

    @property
    def probationary_period(self) -> int:
        """Records during which the likelihood is 0.5 (learning_period + estimation_samples)."""
        return self.learning_period + self.estimation_samples

    def _estimate(self) -> None:
        # The moving averages of the records after the learning period (those still in the window).
        usable = min(len(self._averages), self._records - self.learning_period)
        avgs = np.fromiter(self._averages, dtype=np.float64)[len(self._averages) - usable:]
        mean = max(float(avgs.mean()), _MIN_MEAN)
        var = max(float(avgs.var()), _MIN_VARIANCE)
        self._dist = (mean, math.sqrt(var))

    def anomaly_probability(self, value: Any, anomaly_score: float,
                            timestamp: Any = None) -> float:
        """Likelihood in [0, 1] that the stream is anomalous now (``value`` and ``timestamp`` are
        kept for reference only; the estimate uses the raw scores)."""
        s = float(anomaly_score)
        if not (0.0 <= s <= 1.0):
            raise ValueError(f"AnomalyLikelihood: anomaly_score must be in [0, 1], got {anomaly_score}")
        self._records += 1
        self._recent.append(s)
        avg = sum(self._recent) / len(self._recent)
        self._scores.append(s)
        self._averages.append(avg)
        if self._records < self.probationary_period:
            return 0.5
        if self._dist is None or self._records % self.reestimation_period == 0:
            self._estimate()
        tail = _tail(avg, *self._dist)
        if tail <= _RED and self._last_tail <= _RED:
            self._last_tail = tail
            return 1.0 - _YELLOW
        self._last_tail = tail
        return 1.0 - tail

    def log_anomaly_probability(self, value: Any, anomaly_score: float,
                                timestamp: Any = None) -> float:
        """``compute_log_likelihood(anomaly_probability(...))``."""
        return self.compute_log_likelihood(self.anomaly_probability(value, anomaly_score, timestamp))

    @staticmethod
    def compute_log_likelihood(likelihood: float) -> float:
        """log(1 - likelihood) / log(1e-10): 0.5 -> 0.03, 0.999 -> 0.3, 0.99999 -> 0.5, 1 -> 1."""
        return math.log(1.0000000001 - likelihood) / -23.02585084720009

    def state_dict(self) -> dict[str, Any]:
        """Arguments and history, for lamina.save (see lamina.htm.save)."""
        return {"type": "AnomalyLikelihood",
                "config": {"learning_period": self.learning_period,
                           "estimation_samples": self.estimation_samples,
                           "historic_window_size": self.historic_window_size,
                           "reestimation_period": self.reestimation_period,
                           "averaging_window": self.averaging_window},
                "state": {"scores": np.array(self._scores, dtype=np.float64),
                          "averages": np.array(self._averages, dtype=np.float64),
                          "recent": np.array(self._recent, dtype=np.float64),
                          "records": self._records,
                          "dist": None if self._dist is None else list(self._dist),
                          "last_tail": self._last_tail}}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        """Restores the history saved by state_dict()."""
        if sd.get("type") != "AnomalyLikelihood":
            raise ValueError("AnomalyLikelihood.load_state_dict: not an AnomalyLikelihood state")
        st = sd["state"]
        self._scores = deque(np.asarray(st["scores"]).tolist(), maxlen=self.historic_window_size)
        self._averages = deque(np.asarray(st["averages"]).tolist(), maxlen=self.historic_window_size)
        self._recent = deque(np.asarray(st["recent"]).tolist(), maxlen=self.averaging_window)
        self._records = int(st["records"])
        self._dist = None if st["dist"] is None else tuple(float(v) for v in st["dist"])
        self._last_tail = float(st["last_tail"])

    @classmethod
    def from_state_dict(cls, sd: dict[str, Any]) -> AnomalyLikelihood:
        """A new AnomalyLikelihood with the saved arguments and history."""
        al = cls(**dict(sd["config"]))
        al.load_state_dict(sd)
        return al
