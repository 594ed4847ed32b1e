"""HTM encoders: turn values into sparse binary arrays (SDRs) whose overlap reflects similarity.

ScalarEncoder (contiguous block of bits), RDSE (random distributed scalar encoder, hashed bits),
DateEncoder (season, day of week, weekend, time of day), CategoryEncoder, and concatenation."""
from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "RDSE",
    "CategoryEncoder",
    "DateEncoder",
    "Encoder",
    "MultiEncoder",
    "ScalarEncoder",
    "concatenate",
]


class Encoder:
    """Base class: ``encode(value)`` returns a boolean NumPy array of length ``size``."""

    size: int

    def encode(self, value: Any) -> np.ndarray:  # pragma: no cover - abstract
        """The encoding of ``value``: a boolean array of length ``size``."""
        raise NotImplementedError

    def __call__(self, value: Any) -> np.ndarray:
        """Same as ``encode(value)``."""
        return self.encode(value)


def _check_int(name: str, v: Any, lo: int, owner: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {type(v).__name__}")
    if v < lo:
        raise ValueError(f"{owner}: {name} must be >= {lo}, got {v}")
    return int(v)


class ScalarEncoder(Encoder):
    """Encodes a number in [minimum, maximum] as ``active_bits`` contiguous on-bits out of ``size``.

    Non-periodic: ``size - active_bits + 1`` buckets, value ``minimum`` lights bits 0..active_bits-1
    and ``maximum`` the last ones. Periodic: ``size`` buckets over [minimum, maximum) and the block
    wraps around the end (for angles, hours, weekdays). Values outside the range raise unless
    ``clip_input``; NaN encodes as all zeros (as htm.core does)."""

    def __init__(self, size: int, active_bits: int, minimum: float, maximum: float,
                 periodic: bool = False, clip_input: bool = False) -> None:
        self.size = _check_int("size", size, 1, "ScalarEncoder")
        self.active_bits = _check_int("active_bits", active_bits, 1, "ScalarEncoder")
        if self.active_bits >= self.size:
            raise ValueError(f"ScalarEncoder: active_bits ({active_bits}) must be < size ({size})")
        if not (math.isfinite(minimum) and math.isfinite(maximum)) or not minimum < maximum:
            raise ValueError(f"ScalarEncoder: need finite minimum < maximum, got {minimum}, {maximum}")
        if periodic and clip_input:
            raise ValueError("ScalarEncoder: periodic and clip_input cannot both be set")
        self.minimum, self.maximum = float(minimum), float(maximum)
        self.periodic, self.clip_input = bool(periodic), bool(clip_input)
        buckets = self.size if periodic else self.size - self.active_bits + 1
        self.resolution = (self.maximum - self.minimum) / (buckets if periodic else buckets - 1)

    def bucket(self, value: float) -> int:
        """Index of the first on-bit for ``value``."""
        v = float(value)
        if self.periodic:
            return math.floor((v - self.minimum) / self.resolution) % self.size
        if v < self.minimum or v > self.maximum:
            if not self.clip_input:
                raise ValueError(f"ScalarEncoder: {v} is outside [{self.minimum}, {self.maximum}] "
                                 "(pass clip_input=True to clip)")
            v = min(max(v, self.minimum), self.maximum)
        return round((v - self.minimum) / self.resolution)

    def encode(self, value: float) -> np.ndarray:
        """Boolean array of ``size`` with ``active_bits`` contiguous on-bits (all off for NaN/None)."""
        out = np.zeros(self.size, dtype=bool)
        if value is None or math.isnan(float(value)):
            return out
        start = self.bucket(value)
        out[(start + np.arange(self.active_bits)) % self.size] = True
        return out


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised over uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


class RDSE(Encoder):
    """Random distributed scalar encoder: value -> bucket ``floor(value / resolution)``; bucket b
    lights the bits ``hash(seed, b + i) % size`` for i < active_bits, so values k buckets apart
    share about ``active_bits - k`` bits and far values share only chance collisions. No range is
    needed. Give exactly one of ``active_bits`` and ``sparsity``."""

    def __init__(self, size: int, active_bits: int | None = None, sparsity: float | None = None,
                 resolution: float = 1.0, seed: int = 0) -> None:
        self.size = _check_int("size", size, 1, "RDSE")
        if (active_bits is None) == (sparsity is None):
            raise ValueError("RDSE: give exactly one of active_bits and sparsity")
        if sparsity is not None:
            if not 0 < sparsity < 1:
                raise ValueError(f"RDSE: sparsity must be in (0, 1), got {sparsity}")
            active_bits = max(1, round(self.size * sparsity))
        self.active_bits = _check_int("active_bits", active_bits, 1, "RDSE")
        if self.active_bits >= self.size:
            raise ValueError(f"RDSE: active_bits ({self.active_bits}) must be < size ({self.size})")
        if not (resolution > 0 and math.isfinite(resolution)):
            raise ValueError(f"RDSE: resolution must be a positive number, got {resolution}")
        self.resolution = float(resolution)
        self.seed = int(seed)
        self._salt = _mix64(np.array([self.seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]

    def encode(self, value: float) -> np.ndarray:
        """Boolean array of ``size`` with about ``active_bits`` on-bits (all off for NaN/None)."""
        out = np.zeros(self.size, dtype=bool)
        if value is None or math.isnan(float(value)):
            return out
        b = math.floor(float(value) / self.resolution)
        keys = (np.arange(self.active_bits, dtype=np.int64) + b).astype(np.uint64) ^ self._salt
        out[(_mix64(keys) % np.uint64(self.size)).astype(np.int64)] = True
        return out


class CategoryEncoder(Encoder):
    """Each of ``categories`` gets its own block of ``active_bits`` bits (no overlap between
    categories); an unknown category raises."""

    def __init__(self, categories: Sequence[Any], active_bits: int) -> None:
        cats = list(categories)
        if not cats:
            raise ValueError("CategoryEncoder: categories must not be empty")
        self.index = {c: i for i, c in enumerate(cats)}
        if len(self.index) != len(cats):
            raise ValueError("CategoryEncoder: categories contain duplicates")
        self.categories = cats
        self.active_bits = _check_int("active_bits", active_bits, 1, "CategoryEncoder")
        self.size = self.active_bits * len(cats)

    def encode(self, value: Any) -> np.ndarray:
        """Boolean array of ``size`` with the category's block of ``active_bits`` on."""
        if value not in self.index:
            raise ValueError(f"CategoryEncoder: unknown category {value!r}; known: {self.categories}")
        out = np.zeros(self.size, dtype=bool)
        i = self.index[value]
        out[i * self.active_bits:(i + 1) * self.active_bits] = True
        return out


def _to_datetime(t: Any) -> _dt.datetime:
    if isinstance(t, _dt.datetime):
        return t
    if isinstance(t, np.datetime64):
        return _dt.datetime.fromtimestamp(t.astype("datetime64[us]").astype(np.int64) / 1e6,
                                          _dt.timezone.utc).replace(tzinfo=None)
    if isinstance(t, (int, float, np.integer, np.floating)):  # seconds since the epoch, UTC
        return _dt.datetime.fromtimestamp(float(t), _dt.timezone.utc).replace(tzinfo=None)
    raise TypeError(f"DateEncoder: expected a datetime, numpy.datetime64 or a timestamp in "
                    f"seconds, got {type(t).__name__}")


def _width_radius(name: str, spec: Any, default_radius: float) -> tuple | None:
    if spec is None or spec is False or spec == 0:
        return None
    if isinstance(spec, (tuple, list)):
        if len(spec) != 2:
            raise ValueError(f"DateEncoder: {name} must be a width or (width, radius), got {spec}")
        w, r = spec
    else:
        w, r = spec, default_radius
    w = _check_int(f"{name} width", w, 1, "DateEncoder")
    if not r > 0:
        raise ValueError(f"DateEncoder: {name} radius must be > 0, got {r}")
    return w, float(r)


class DateEncoder(Encoder):
    """Encodes a timestamp as the concatenation of enabled parts, each a width (active bits) or a
    ``(width, radius)`` pair, as in htm.core:

    * ``season``: day of year, periodic, radius in days (default 91.5);
    * ``day_of_week``: Monday=0 .. Sunday=6 plus the fraction of the day, periodic, radius 1 day;
    * ``weekend``: Saturday/Sunday or not (two non-overlapping blocks of ``width`` bits);
    * ``time_of_day``: hours, periodic, radius in hours (default 4).

    A periodic part with range R and radius r has ``width * R / r`` bits (rounded up)."""

    def __init__(self, season: Any = 0, day_of_week: Any = 0, weekend: Any = 0,
                 time_of_day: Any = 0) -> None:
        self.parts: list = []
        specs = (("season", season, 366.0, 91.5), ("day_of_week", day_of_week, 7.0, 1.0),
                 ("weekend", weekend, None, 1.0), ("time_of_day", time_of_day, 24.0, 4.0))
        for name, spec, span, radius in specs:
            wr = _width_radius(name, spec, radius)
            if wr is None:
                continue
            w, r = wr
            if span is None:  # weekend: two categories
                self.parts.append((name, CategoryEncoder([False, True], w)))
            else:
                size = max(w + 1, math.ceil(w * span / r))
                self.parts.append((name, ScalarEncoder(size, w, 0.0, span, periodic=True)))
        if not self.parts:
            raise ValueError("DateEncoder: enable at least one of season, day_of_week, weekend, "
                             "time_of_day")
        self.size = sum(e.size for _, e in self.parts)

    def encode(self, value: Any) -> np.ndarray:
        """Concatenated encodings of the enabled parts for a datetime, numpy.datetime64 or UTC timestamp."""
        t = _to_datetime(value)
        hours = t.hour + t.minute / 60.0 + t.second / 3600.0
        values = {"season": t.timetuple().tm_yday - 1 + hours / 24.0,
                  "day_of_week": t.weekday() + hours / 24.0,
                  "weekend": t.weekday() >= 5,
                  "time_of_day": hours}
        return np.concatenate([e.encode(values[name]) for name, e in self.parts])


def concatenate(*encodings: Iterable[np.ndarray]) -> np.ndarray:
    """Joins encodings (boolean arrays) end to end into one input for the spatial pooler."""
    arrs = [np.asarray(e, dtype=bool).ravel() for e in encodings]
    if not arrs:
        raise ValueError("concatenate: give at least one encoding")
    return np.concatenate(arrs)


class MultiEncoder(Encoder):
    """Several encoders side by side: ``encode(values)`` takes one value per encoder (a sequence in
    the same order, or a dict keyed like ``encoders`` when that is a dict)."""

    def __init__(self, encoders: Any) -> None:
        self.named = isinstance(encoders, dict)
        self.encoders = dict(encoders) if self.named else dict(enumerate(encoders))
        if not self.encoders:
            raise ValueError("MultiEncoder: give at least one encoder")
        self.size = sum(e.size for e in self.encoders.values())

    def encode(self, values: Any) -> np.ndarray:
        """Concatenation of each encoder's encoding of its value."""
        if not self.named:
            values = list(values)
            if len(values) != len(self.encoders):
                raise ValueError(f"MultiEncoder: {len(self.encoders)} encoders but {len(values)} values")
            values = dict(enumerate(values))
        return concatenate(*(e.encode(values[k]) for k, e in self.encoders.items()))
