"""Schedules for exploration (epsilon) and other annealed hyperparameters: callables mapping
a step count to a value."""
from __future__ import annotations

import math

__all__ = ["ConstantSchedule", "LinearSchedule", "ExponentialSchedule", "as_schedule"]


class ConstantSchedule:
    """A schedule that always returns ``value`` (for ``lr=`` or ``exploration=`` where a schedule is
    accepted); ``schedule(step) -> value``.
    """
    def __init__(self, value: float) -> None:
        self.value = float(value)

    def __call__(self, step: int) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"ConstantSchedule({self.value})"


class LinearSchedule:
    """``start`` until step ``begin``, then linear to ``end`` over ``duration`` steps, then ``end``."""

    def __init__(self, start: float, end: float, duration: int, begin: int = 0) -> None:
        if duration < 0:
            raise ValueError(f"LinearSchedule: duration must be >= 0, got {duration}")
        self.start, self.end, self.duration, self.begin = float(start), float(end), int(duration), int(begin)

    def __call__(self, step: int) -> float:
        t = step - self.begin
        if t <= 0:
            return self.start
        if t >= self.duration:
            return self.end
        return self.start + (self.end - self.start) * (t / self.duration)

    def __repr__(self) -> str:
        return f"LinearSchedule(start={self.start}, end={self.end}, duration={self.duration}, begin={self.begin})"


class ExponentialSchedule:
    """``end + (start - end) * decay ** (step - begin)`` (``start`` before ``begin``)."""

    def __init__(self, start: float, end: float, decay: float, begin: int = 0) -> None:
        if not 0 < decay <= 1:
            raise ValueError(f"ExponentialSchedule: decay must be in (0, 1], got {decay}")
        self.start, self.end, self.decay, self.begin = float(start), float(end), float(decay), int(begin)

    def __call__(self, step: int) -> float:
        t = max(step - self.begin, 0)
        return self.end + (self.start - self.end) * math.exp(t * math.log(self.decay))

    def __repr__(self) -> str:
        return f"ExponentialSchedule(start={self.start}, end={self.end}, decay={self.decay}, begin={self.begin})"


def as_schedule(x):
    """A number becomes a ConstantSchedule; a callable is returned as is."""
    if callable(x):
        return x
    if isinstance(x, (int, float)):
        return ConstantSchedule(x)
    raise TypeError(f"expected a number or a schedule callable, got {type(x).__name__}")
