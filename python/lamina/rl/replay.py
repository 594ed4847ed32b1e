"""Experience replay: a ring buffer of transitions in preallocated contiguous numpy arrays with
uniform sampling, and a prioritized variant (proportional, Schaul et al. 2016) over a sum-tree."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Batch", "ReplayBuffer", "PrioritizedReplayBuffer", "SumTree"]


class Batch(NamedTuple):
    """A minibatch of transitions as numpy arrays (leading dimension = batch size).

    ``dones`` is 1.0 where the episode *terminated* (no bootstrapping); a time-limit truncation is
    stored as not done. ``weights`` are importance-sampling weights (all ones for uniform replay)
    and ``indices`` the buffer slots, for ``update_priorities``."""
    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    dones: np.ndarray
    weights: np.ndarray
    indices: np.ndarray


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions ``(obs, action, reward, next_obs, done)``.

    Storage is allocated once (lazily from the first observation when ``obs_shape`` is None); when
    full, the oldest transition is overwritten. ``sample`` draws uniformly with replacement from
    the ``rng`` (a ``numpy.random.Generator`` or a seed), so a seeded buffer samples reproducibly.
    """

    def __init__(self, capacity: int, obs_shape=None, obs_dtype=np.float32, action_dtype=np.int64,
                 rng=None) -> None:
        if int(capacity) <= 0:
            raise ValueError(f"ReplayBuffer: capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self.obs_dtype = np.dtype(obs_dtype)
        self.action_dtype = np.dtype(action_dtype)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.pos = 0     # next slot to write
        self.size = 0    # number of valid transitions
        self.obs = self.next_obs = None
        if obs_shape is not None:
            self._allocate(tuple(obs_shape))

    def _allocate(self, obs_shape: tuple) -> None:
        n = self.capacity
        self.obs_shape = obs_shape
        self.obs = np.zeros((n, *obs_shape), self.obs_dtype)
        self.next_obs = np.zeros((n, *obs_shape), self.obs_dtype)
        self.actions = np.zeros(n, self.action_dtype)
        self.rewards = np.zeros(n, np.float32)
        self.dones = np.zeros(n, np.float32)

    def __len__(self) -> int:
        return self.size

    @property
    def full(self) -> bool:
        return self.size == self.capacity

    def add(self, obs, action, reward, next_obs, done) -> int:
        """Stores one transition and returns the slot it was written to."""
        obs = np.asarray(obs)
        if self.obs is None:
            self._allocate(obs.shape)
        elif obs.shape != self.obs_shape:
            raise ValueError(f"ReplayBuffer.add: observation shape {obs.shape} does not match the "
                             f"buffer's {self.obs_shape}")
        i = self.pos
        self.obs[i] = obs
        self.next_obs[i] = next_obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.dones[i] = float(done)
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return i

    def _gather(self, idx: np.ndarray, weights: np.ndarray) -> Batch:
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                     self.dones[idx], weights, idx)

    def sample(self, batch_size: int) -> Batch:
        """``batch_size`` transitions drawn uniformly (with replacement)."""
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        idx = self.rng.integers(0, self.size, size=int(batch_size))
        return self._gather(idx, np.ones(len(idx), np.float32))

    def update_priorities(self, indices, td_errors) -> None:
        """No-op for uniform replay (lets the agent treat both buffers alike)."""

    def clear(self) -> None:
        self.pos = self.size = 0

    # ---- checkpointing (lamina.save-able: numpy arrays and plain data) ----
    def state_dict(self) -> dict:
        st = {"capacity": self.capacity, "pos": self.pos, "size": self.size,
              "rng": self.rng.bit_generator.state, "arrays": None}
        if self.obs is not None:
            st["arrays"] = {k: getattr(self, k) for k in ("obs", "next_obs", "actions", "rewards", "dones")}
        return st

    def load_state_dict(self, state: dict) -> None:
        if int(state["capacity"]) != self.capacity:
            raise ValueError(f"ReplayBuffer.load_state_dict: capacity {state['capacity']} in the state, "
                             f"{self.capacity} in this buffer")
        arrays = state["arrays"]
        if arrays is not None:
            self._allocate(tuple(np.asarray(arrays["obs"]).shape[1:]))
            for k, v in arrays.items():
                getattr(self, k)[...] = np.asarray(v)
        self.pos, self.size = int(state["pos"]), int(state["size"])
        self.rng.bit_generator.state = state["rng"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(capacity={self.capacity}, size={self.size})"


class SumTree:
    """Binary tree over ``capacity`` non-negative leaves where each node holds the sum of its
    children, plus a parallel min-tree: O(log n) updates and prefix-sum searches, vectorized over
    batches of indices with numpy (one pass per tree level)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self.n = 1 << max(0, (self.capacity - 1).bit_length())   # leaves, a power of two
        self.depth = self.n.bit_length() - 1
        self.sum = np.zeros(2 * self.n, np.float64)
        self.min = np.full(2 * self.n, np.inf, np.float64)

    @property
    def total(self) -> float:
        return float(self.sum[1])

    @property
    def min_value(self) -> float:
        return float(self.min[1])

    def __getitem__(self, idx):
        return self.sum[self.n + np.asarray(idx)]

    def update(self, idx, values) -> None:
        if np.ndim(idx) == 0 and np.ndim(values) == 0:   # one leaf (every add): plain Python is faster
            v = float(values)
            if not (v >= 0 and np.isfinite(v)):
                raise ValueError("SumTree.update: priorities must be finite and non-negative")
            i = int(idx) + self.n
            s, m = self.sum, self.min
            s[i] = m[i] = v
            i >>= 1
            while i:
                a, b = 2 * i, 2 * i + 1
                s[i] = s[a] + s[b]
                m[i] = m[a] if m[a] < m[b] else m[b]
                i >>= 1
            return
        idx = np.atleast_1d(np.asarray(idx, np.int64)) + self.n
        values = np.broadcast_to(np.asarray(values, np.float64), idx.shape)
        if np.any(values < 0) or not np.all(np.isfinite(values)):
            raise ValueError("SumTree.update: priorities must be finite and non-negative")
        self.sum[idx] = values   # duplicates: the last write wins, parents recomputed below
        self.min[idx] = values
        for _ in range(self.depth):
            idx = np.unique(idx >> 1)
            self.sum[idx] = self.sum[2 * idx] + self.sum[2 * idx + 1]
            self.min[idx] = np.minimum(self.min[2 * idx], self.min[2 * idx + 1])

    def find(self, prefix, size: int) -> np.ndarray:
        """For each value v in ``prefix`` (0 <= v < total) the leaf i with cumsum[i-1] <= v < cumsum[i]
        (clamped to the first ``size`` leaves against float round-off)."""
        v = np.array(prefix, np.float64, copy=True)
        idx = np.ones(v.shape, np.int64)
        for _ in range(self.depth):
            left = 2 * idx
            lv = self.sum[left]
            go_right = v >= lv
            v = np.where(go_right, v - lv, v)
            idx = left + go_right
        return np.minimum(idx - self.n, max(size - 1, 0))


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay: transition i is drawn with probability p_i^alpha / sum_k p_k^alpha
    (stratified over ``batch_size`` equal segments of the total), and weighted by the importance
    weight (N P(i))^-beta normalized by the largest possible weight. New transitions get the current
    maximum priority; ``update_priorities(indices, td_errors)`` sets ``p_i = |td_error| + eps``.
    ``beta`` is the default exponent; the agent passes an annealed one to ``sample(beta=...)``."""

    def __init__(self, capacity: int, obs_shape=None, obs_dtype=np.float32, action_dtype=np.int64,
                 rng=None, alpha: float = 0.6, beta=0.4, eps: float = 1e-6) -> None:
        super().__init__(capacity, obs_shape, obs_dtype, action_dtype, rng)
        if alpha < 0:
            raise ValueError(f"PrioritizedReplayBuffer: alpha must be >= 0, got {alpha}")
        self.alpha, self.beta, self.eps = float(alpha), beta, float(eps)
        self.tree = SumTree(self.capacity)
        self.max_priority = 1.0

    def add(self, obs, action, reward, next_obs, done) -> int:
        i = super().add(obs, action, reward, next_obs, done)
        self.tree.update(i, self.max_priority ** self.alpha)
        return i

    def sample(self, batch_size: int, beta: float | None = None) -> Batch:
        if self.size == 0:
            raise ValueError("PrioritizedReplayBuffer.sample: the buffer is empty")
        b = int(batch_size)
        beta = float(self.beta if beta is None else beta)
        total = self.tree.total
        seg = total / b
        prefix = (np.arange(b) + self.rng.random(b)) * seg
        idx = self.tree.find(np.minimum(prefix, np.nextafter(total, 0)), self.size)
        probs = self.tree[idx] / total
        min_prob = self.tree.min_value / total
        weights = (probs / min_prob) ** (-beta)    # = (N P(i))^-beta / max_j (N P(j))^-beta
        return self._gather(idx, weights.astype(np.float32))

    def update_priorities(self, indices, td_errors) -> None:
        p = np.abs(np.asarray(td_errors, np.float64)) + self.eps
        self.max_priority = max(self.max_priority, float(p.max()))
        self.tree.update(indices, p ** self.alpha)

    def clear(self) -> None:
        super().clear()
        self.tree = SumTree(self.capacity)
        self.max_priority = 1.0

    def state_dict(self) -> dict:
        st = super().state_dict()
        st.update(priorities=self.tree[np.arange(self.size)].copy(), max_priority=self.max_priority)
        return st

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tree = SumTree(self.capacity)
        if self.size:
            self.tree.update(np.arange(self.size), np.asarray(state["priorities"]))
        self.max_priority = float(state["max_priority"])
