"""DQNAgent: deep Q-learning (Mnih et al. 2015) with experience replay, a target network (hard
or Polyak updates), epsilon-greedy exploration on a schedule, Huber loss, gradient-norm clipping,
and optional Double DQN (van Hasselt et al. 2016) and prioritized replay (Schaul et al. 2016)."""
from __future__ import annotations

import copy

import numpy as np

from .. import nn, optim
from .._runtime import manual_seed
from ..autograd.grad_mode import no_grad
from ..nn import functional as F
from ..nn.utils import clip_grad_norm_
from ..ops.creation import from_numpy
from ..serialization import load, save
from .replay import PrioritizedReplayBuffer, ReplayBuffer
from .schedules import LinearSchedule, as_schedule

__all__ = ["DQNAgent", "mlp"]

_FORMAT = "lamina.rl.DQNAgent"


def mlp(in_features: int, n_actions: int, hidden=(128, 128)):
    """``Linear -> ReLU -> ... -> Linear`` Q-network: observation vector in, one value per action out."""
    layers, d = [], int(in_features)
    for h in hidden:
        layers += [nn.Linear(d, int(h)), nn.ReLU()]
        d = int(h)
    layers.append(nn.Linear(d, int(n_actions)))
    return nn.Sequential(*layers)


def _copy_network(module):
    """The target network: an independent deep copy of the Q-network (parameters and buffers)."""
    try:
        return copy.deepcopy(module)
    except (TypeError, RuntimeError) as e:
        raise TypeError(f"DQNAgent: could not copy the Q-network to make the target network ({e}); "
                        f"pass target_network= (a second instance of the same architecture)") from None


class DQNAgent:
    """A DQN agent for discrete actions.

    q_network: any lamina Module mapping a batch of observations ``(B, *obs_shape)`` to Q-values
    ``(B, n_actions)``. target_network: a module of the same architecture (default: a copy).
    optimizer: a lamina optimizer over ``q_network.parameters()`` (default Adam(lr)). lr: a number, or
    a schedule of the environment step that sets every parameter group's lr before each update.
    exploration: epsilon as a number or a schedule of the environment step (default 1.0 -> 0.05
    over 10k steps). Targets: ``r + gamma * (1 - terminated) * Q_target(s', a*)`` with
    ``a* = argmax_a Q_online(s', a)`` when ``double_dqn`` else ``argmax_a Q_target(s', a)``.
    Training: once ``learning_starts`` transitions are stored, every ``train_freq`` environment
    steps, ``gradient_steps`` minibatch updates of ``batch_size`` with the ``loss`` ("huber" with
    ``huber_delta``, "mse", or a callable ``loss(pred, target, reduction)``) and the global gradient
    norm clipped to ``max_grad_norm`` (None: no clipping). Target network: every
    ``target_update_interval`` gradient updates, ``target <- tau * online + (1 - tau) * target``
    (``tau=1``: hard copy; e.g. ``tau=0.005, target_update_interval=1`` for Polyak averaging).
    prioritized: proportional prioritized replay with ``alpha`` and importance exponent ``beta``
    (a number or a schedule of the environment step). seed: seeds exploration and replay sampling
    (seed the network init with ``lamina.manual_seed`` and the environment with ``reset(seed=)``).
    """

    def __init__(self, q_network, n_actions: int, *, target_network=None, optimizer=None, lr=1e-3,
                 gamma: float = 0.99, buffer_size: int = 100_000, batch_size: int = 64,
                 learning_starts: int = 1000, train_freq: int = 1, gradient_steps: int = 1,
                 target_update_interval: int = 1000, tau: float = 1.0, double_dqn: bool = True,
                 exploration=None, loss="huber", huber_delta: float = 1.0, max_grad_norm: float | None = 10.0,
                 prioritized: bool = False, alpha: float = 0.6, beta=None, priority_eps: float = 1e-6,
                 obs_dtype=np.float32, seed: int | None = None) -> None:
        if int(n_actions) < 1:
            raise ValueError(f"DQNAgent: n_actions must be >= 1, got {n_actions}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"DQNAgent: gamma must be in [0, 1], got {gamma}")
        if not 0.0 < tau <= 1.0:
            raise ValueError(f"DQNAgent: tau must be in (0, 1], got {tau}")
        for name, v in (("batch_size", batch_size), ("train_freq", train_freq), ("gradient_steps", gradient_steps),
                        ("target_update_interval", target_update_interval), ("buffer_size", buffer_size)):
            if int(v) < 1:
                raise ValueError(f"DQNAgent: {name} must be >= 1, got {v}")
        self.q = q_network
        self.target = target_network if target_network is not None else _copy_network(q_network)
        self.target.load_state_dict(self.q.state_dict())
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.target.eval()
        self.lr_schedule = lr if callable(lr) else None
        lr0 = float(lr(0)) if callable(lr) else float(lr)
        self.optimizer = optimizer if optimizer is not None else optim.Adam(self.q.parameters(), lr=lr0)
        self.n_actions = int(n_actions)
        self.gamma = float(gamma)
        self.batch_size, self.learning_starts = int(batch_size), int(learning_starts)
        self.train_freq, self.gradient_steps = int(train_freq), int(gradient_steps)
        self.target_update_interval, self.tau = int(target_update_interval), float(tau)
        self.double_dqn = bool(double_dqn)
        self.exploration = as_schedule(exploration if exploration is not None else LinearSchedule(1.0, 0.05, 10_000))
        self.loss, self.huber_delta = loss, float(huber_delta)
        if not (callable(loss) or loss in ("huber", "mse")):
            raise ValueError(f"DQNAgent: loss must be 'huber', 'mse' or a callable, got {loss!r}")
        self.max_grad_norm = max_grad_norm
        self.obs_dtype = np.dtype(obs_dtype)
        self.prioritized = bool(prioritized)
        self.beta = as_schedule(beta if beta is not None else LinearSchedule(0.4, 1.0, 100_000))
        ss = np.random.SeedSequence(seed)
        act_seed, buf_seed = ss.spawn(2)
        self.rng = np.random.default_rng(act_seed)
        buf_rng = np.random.default_rng(buf_seed)
        if self.prioritized:
            self.buffer = PrioritizedReplayBuffer(buffer_size, obs_dtype=self.obs_dtype, rng=buf_rng,
                                                  alpha=alpha, eps=priority_eps)
        else:
            self.buffer = ReplayBuffer(buffer_size, obs_dtype=self.obs_dtype, rng=buf_rng)
        self.steps = 0      # environment steps observed
        self.updates = 0    # gradient updates made
        self.episodes = 0   # episodes finished (counted by lamina.rl.train)
        self.last_loss = None

    @classmethod
    def for_env(cls, env, hidden=(128, 128), seed: int | None = None, **kwargs) -> "DQNAgent":
        """An agent with an MLP Q-network sized from ``env.observation_space.shape`` and
        ``env.action_space.n``; ``seed`` also seeds the network init (lamina.manual_seed)."""
        if seed is not None:
            manual_seed(seed)
        in_features = int(np.prod(env.observation_space.shape))
        n_actions = int(env.action_space.n)
        return cls(mlp(in_features, n_actions, hidden), n_actions, seed=seed, **kwargs)

    # ---- acting ----
    @property
    def epsilon(self) -> float:
        """The exploration rate at the current step."""
        return float(self.exploration(self.steps))

    def q_values(self, obs) -> np.ndarray:
        """Q-values ``(B, n_actions)`` of a batch of observations (or ``(n_actions,)`` for one)."""
        x = np.ascontiguousarray(obs, dtype=self.obs_dtype)
        one = x.ndim == (len(self.buffer.obs_shape) if self.buffer.obs is not None else 1)
        with no_grad():
            out = self.q(from_numpy(x[None] if one else x)).numpy().copy()
        return out[0] if one else out

    def act(self, obs, explore: bool = True) -> int:
        """The action for one observation: epsilon-greedy when ``explore`` (one draw from the agent's
        generator per call), greedy (argmax Q, first index on ties) otherwise."""
        if explore and self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n_actions))
        x = np.asarray(obs, dtype=self.obs_dtype)
        with no_grad():
            q = self.q(from_numpy(np.ascontiguousarray(x[None]))).numpy()
        return int(q[0].argmax())

    # ---- learning ----
    def observe(self, obs, action, reward, next_obs, terminated, truncated: bool = False):
        """Stores a transition and, when due, runs the gradient updates. Returns the mean loss of the
        updates made, or None. A truncated (time-limit) episode still bootstraps from ``next_obs``."""
        self.buffer.add(obs, action, reward, next_obs, bool(terminated))
        self.steps += 1
        if self.steps < self.learning_starts or self.steps % self.train_freq or len(self.buffer) < self.batch_size:
            return None
        total = 0.0
        for _ in range(self.gradient_steps):
            total += self.learn()
        return total / self.gradient_steps

    def td_target(self, rewards, next_obs, dones) -> np.ndarray:
        """``r + gamma * (1 - done) * Q_target(s', a*)`` as a float32 array (no graph recorded)."""
        s2 = from_numpy(np.ascontiguousarray(next_obs, dtype=self.obs_dtype))
        with no_grad():
            qt = self.target(s2).numpy()
            if self.double_dqn:
                a = self.q(s2).numpy().argmax(1)
                nq = qt[np.arange(len(a)), a]
            else:
                nq = qt.max(1)
        r = np.asarray(rewards, np.float32)
        d = np.asarray(dones, np.float32)
        return (r + np.float32(self.gamma) * (1.0 - d) * nq).astype(np.float32)

    def _loss(self, pred, target, reduction: str):
        if callable(self.loss):
            return self.loss(pred, target, reduction=reduction)
        if self.loss == "mse":
            return F.mse_loss(pred, target, reduction=reduction)
        return F.huber_loss(pred, target, reduction=reduction, delta=self.huber_delta)

    def learn(self, batch=None) -> float:
        """One gradient update on ``batch`` (default: a minibatch sampled from the buffer); updates the
        priorities (prioritized replay) and, when due, the target network. Returns the loss."""
        if batch is None:
            if self.prioritized:
                batch = self.buffer.sample(self.batch_size, beta=float(self.beta(self.steps)))
            else:
                batch = self.buffer.sample(self.batch_size)
        y = self.td_target(batch.rewards, batch.next_obs, batch.dones)
        q = self.q(from_numpy(np.ascontiguousarray(batch.obs, dtype=self.obs_dtype)))
        idx = from_numpy(np.ascontiguousarray(np.asarray(batch.actions, np.int64).reshape(-1, 1)))
        qsa = q.gather(1, idx).squeeze(1)
        target = from_numpy(y)
        if self.prioritized:
            per = self._loss(qsa, target, "none")
            loss = (per * from_numpy(np.ascontiguousarray(batch.weights, np.float32))).mean()
        else:
            loss = self._loss(qsa, target, "mean")
        if self.lr_schedule is not None:
            lr = float(self.lr_schedule(self.steps))
            for g in self.optimizer.param_groups:
                g["lr"] = lr
        self.optimizer.zero_grad()
        loss.backward()
        if self.max_grad_norm is not None:
            clip_grad_norm_(self.q.parameters(), self.max_grad_norm)
        self.optimizer.step()
        if self.prioritized:
            self.buffer.update_priorities(batch.indices, qsa.detach().numpy() - y)
        self.updates += 1
        if self.updates % self.target_update_interval == 0:
            self.update_target()
        self.last_loss = float(loss.item())
        return self.last_loss

    def update_target(self, tau: float | None = None) -> None:
        """``target <- tau * online + (1 - tau) * target`` for every parameter and buffer (tau=1: copy)."""
        tau = self.tau if tau is None else float(tau)
        src = self.q.state_dict()
        dst = self.target.state_dict()
        with no_grad():
            for k, t in dst.items():
                s = src[k]
                if tau >= 1.0 or not t.dtype.is_floating_point:
                    t.copy_(s)
                else:
                    t.mul_(1.0 - tau).add_(s, alpha=tau)

    # ---- checkpoints ----
    def config(self) -> dict:
        return {"n_actions": self.n_actions, "gamma": self.gamma, "batch_size": self.batch_size,
                "learning_starts": self.learning_starts, "train_freq": self.train_freq,
                "gradient_steps": self.gradient_steps, "target_update_interval": self.target_update_interval,
                "tau": self.tau, "double_dqn": self.double_dqn, "prioritized": self.prioritized,
                "buffer_size": self.buffer.capacity, "max_grad_norm": self.max_grad_norm}

    def state_dict(self, include_buffer: bool = False) -> dict:
        return {"format": _FORMAT, "version": 1, "config": self.config(),
                "q_network": self.q.state_dict(), "target_network": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "steps": self.steps, "updates": self.updates, "episodes": self.episodes,
                "rng": self.rng.bit_generator.state, "buffer_rng": self.buffer.rng.bit_generator.state,
                "buffer": self.buffer.state_dict() if include_buffer else None}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError("DQNAgent.load_state_dict: not a DQNAgent checkpoint")
        if int(state["config"]["n_actions"]) != self.n_actions:
            raise ValueError(f"DQNAgent.load_state_dict: checkpoint has {state['config']['n_actions']} actions, "
                             f"this agent {self.n_actions}")
        self.q.load_state_dict(state["q_network"])
        self.target.load_state_dict(state["target_network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps, self.updates, self.episodes = int(state["steps"]), int(state["updates"]), int(state["episodes"])
        self.rng.bit_generator.state = state["rng"]
        if state.get("buffer") is not None:
            self.buffer.load_state_dict(state["buffer"])
        self.buffer.rng.bit_generator.state = state["buffer_rng"]

    def save(self, path, include_buffer: bool = False) -> None:
        """Writes networks, optimizer state, counters, generator states and (optionally) the replay
        buffer with ``lamina.save`` (atomic: a temporary file renamed over ``path``)."""
        save(self.state_dict(include_buffer), path)

    def load(self, path) -> "DQNAgent":
        """Restores a checkpoint written by ``save`` into this agent (built with the same networks)."""
        self.load_state_dict(load(path))
        return self

    def __repr__(self) -> str:
        return (f"DQNAgent(n_actions={self.n_actions}, gamma={self.gamma}, double_dqn={self.double_dqn}, "
                f"prioritized={self.prioritized}, steps={self.steps}, updates={self.updates}, buffer={self.buffer})")
