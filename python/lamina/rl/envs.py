"""Tiny built-in environments with Gymnasium's API (``reset(seed=) -> (obs, info)``,
``step(a) -> (obs, reward, terminated, truncated, info)``), so lamina.rl's tests and docs run
without gymnasium. Observations are one-hot float32 vectors; every step costs -1, so the optimal
return is minus the length of a shortest path to the goal."""
from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["Discrete", "Box", "Corridor", "GridWorld"]


class Discrete:
    """Actions ``0 .. n-1`` (the fields of gymnasium.spaces.Discrete that lamina.rl reads)."""

    def __init__(self, n: int) -> None:
        self.n = int(n)
        self.shape = ()
        self.dtype = np.dtype(np.int64)

    def sample(self, rng: np.random.Generator | None = None) -> int:
        return int((rng or np.random.default_rng()).integers(self.n))

    def contains(self, x) -> bool:
        return isinstance(x, (int, np.integer)) and 0 <= int(x) < self.n

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class Box:
    """A box ``low <= x <= high`` of a given shape and dtype."""

    def __init__(self, low, high, shape, dtype=np.float32) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.low = np.broadcast_to(np.asarray(low, self.dtype), self.shape)
        self.high = np.broadcast_to(np.asarray(high, self.dtype), self.shape)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all(x >= self.low) and np.all(x <= self.high))

    def __repr__(self) -> str:
        return f"Box({self.low.min()}, {self.high.max()}, {self.shape}, {self.dtype})"


class _GridEnv:
    """Shared machinery: a deterministic walk over cells with one-hot observations."""

    n_cells: int

    def _setup(self, max_steps) -> None:
        self.observation_space = Box(0.0, 1.0, (self.n_cells,))
        self.max_steps = int(max_steps)
        self.np_random = np.random.default_rng()
        self.state = self.start
        self.t = 0

    def _obs(self) -> np.ndarray:
        o = np.zeros(self.n_cells, np.float32)
        o[self._cell(self.state)] = 1.0
        return o

    def reset(self, seed: int | None = None, options=None):
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self.state, self.t = self.start, 0
        return self._obs(), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"{type(self).__name__}.step: action must be an int in [0, {self.action_space.n}), "
                             f"got {action!r}")
        self.state = self._move(self.state, int(action))
        self.t += 1
        terminated = self.state == self.goal
        truncated = not terminated and self.t >= self.max_steps
        return self._obs(), -1.0, terminated, truncated, {}

    def close(self) -> None:
        pass


class Corridor(_GridEnv):
    """Cells ``0 .. length-1``; start at 0, goal at ``length-1``; action 0 = left, 1 = right
    (walls at both ends). Reward -1 per step, episode ends at the goal or after ``max_steps``
    (default ``4 * length``). Optimal return: ``-(length - 1)``."""

    def __init__(self, length: int = 8, max_steps: int | None = None) -> None:
        if length < 2:
            raise ValueError(f"Corridor: length must be >= 2, got {length}")
        self.length = self.n_cells = int(length)
        self.start, self.goal = 0, self.length - 1
        self.action_space = Discrete(2)
        self._setup(max_steps if max_steps is not None else 4 * self.length)

    def _cell(self, s) -> int:
        return s

    def _move(self, s: int, a: int) -> int:
        return min(max(s + (1 if a == 1 else -1), 0), self.length - 1)

    @property
    def optimal_return(self) -> float:
        return -float(self.length - 1)

    def __repr__(self) -> str:
        return f"Corridor(length={self.length}, max_steps={self.max_steps})"


class GridWorld(_GridEnv):
    """A ``rows x cols`` grid with optional wall cells; start top-left, goal bottom-right by default.
    Actions 0 = up, 1 = right, 2 = down, 3 = left (moves into walls or off the grid stay put).
    Reward -1 per step; ends at the goal or after ``max_steps`` (default ``4 * rows * cols``)."""

    _MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))

    def __init__(self, rows: int = 4, cols: int = 4, walls=(), start=(0, 0), goal=None,
                 max_steps: int | None = None) -> None:
        self.rows, self.cols = int(rows), int(cols)
        self.n_cells = self.rows * self.cols
        self.walls = frozenset(tuple(w) for w in walls)
        self.start = tuple(start)
        self.goal = tuple(goal) if goal is not None else (self.rows - 1, self.cols - 1)
        for name, c in (("start", self.start), ("goal", self.goal)):
            if not (0 <= c[0] < self.rows and 0 <= c[1] < self.cols) or c in self.walls:
                raise ValueError(f"GridWorld: {name} {c} must be a free cell of the {self.rows}x{self.cols} grid")
        self.action_space = Discrete(4)
        self._setup(max_steps if max_steps is not None else 4 * self.n_cells)
        if self._shortest_path() is None:
            raise ValueError("GridWorld: the goal cannot be reached from the start")

    def _cell(self, s) -> int:
        return s[0] * self.cols + s[1]

    def _move(self, s, a: int):
        dr, dc = self._MOVES[a]
        r, c = s[0] + dr, s[1] + dc
        if not (0 <= r < self.rows and 0 <= c < self.cols) or (r, c) in self.walls:
            return s
        return (r, c)

    def _shortest_path(self):
        seen, q = {self.start: 0}, deque([self.start])
        while q:
            s = q.popleft()
            if s == self.goal:
                return seen[s]
            for a in range(4):
                n = self._move(s, a)
                if n not in seen:
                    seen[n] = seen[s] + 1
                    q.append(n)
        return None

    @property
    def optimal_return(self) -> float:
        return -float(self._shortest_path())

    def __repr__(self) -> str:
        return f"GridWorld(rows={self.rows}, cols={self.cols}, walls={len(self.walls)}, max_steps={self.max_steps})"
