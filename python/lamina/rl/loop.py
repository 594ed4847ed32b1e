"""Training and evaluation loops for Gymnasium-style environments: ``reset(seed=) -> (obs, info)``
and ``step(action) -> (obs, reward, terminated, truncated, info)``."""
from __future__ import annotations

import math
import sys
import time
from collections import deque

import numpy as np

from ..train._interrupt import DeferSigint, TrainingInterrupted
from ..train.history import History

__all__ = ["train", "evaluate"]


def train(agent, env, episodes: int | None = None, steps: int | None = None, *, seed: int | None = None,
          target_return: float | None = None, window: int = 100, progress: bool = True,
          callback=None, history: History | None = None, stream=None, writer=None) -> History:
    """Runs ``agent`` on ``env`` for ``episodes`` episodes or ``steps`` environment steps (whichever
    comes first; at least one must be given), acting with ``agent.act``, storing and learning through
    ``agent.observe``. ``seed`` seeds the environment on the first reset only (later resets continue
    its generator, as in Gymnasium). Stops early once the mean return over the last ``window``
    episodes reaches ``target_return`` (``history.solved_episode`` then holds that episode's number,
    1-based). ``callback(agent, history)`` runs after each episode; returning True stops training.

    Returns a ``lamina.train.History`` with one entry per episode: ``return``, ``length``,
    ``mean_return`` (over the last ``window`` episodes), ``epsilon``, ``loss`` (mean over the
    episode's updates; nan before learning starts), ``steps`` (total) and ``time`` (seconds since start).
    A progress bar (tqdm) shows the episode return, the moving mean and epsilon when ``progress``.
    ``writer`` (anything with ``add_scalar``, e.g. ``lamina.utils.tensorboard.SummaryWriter``):
    each episode's ``rl/return``, ``rl/length``, ``rl/mean_return``, ``rl/epsilon`` and ``rl/loss``
    (when learning happened), step = the episode number.

    Ctrl-C (SIGINT, main thread) stops after the current environment step (its learning update
    done): the partial episode is not recorded and ``lamina.train.TrainingInterrupted`` (a
    KeyboardInterrupt carrying ``.history``) is raised; a second Ctrl-C interrupts at once.
    """
    with DeferSigint("rl.train") as sigint:
        return _train(agent, env, episodes, steps, seed, target_return, window, progress, callback, history,
                      stream, writer, sigint)


def _train(agent, env, episodes, steps, seed, target_return, window, progress, callback, history, stream,
           writer, sigint) -> History:
    if episodes is None and steps is None:
        raise ValueError("train: give episodes=, steps= or both")
    history = history if history is not None else History()
    history.solved_episode = getattr(history, "solved_episode", None)
    recent = deque(maxlen=int(window))
    bar = None
    if progress:
        from tqdm import tqdm

        by_steps = episodes is None
        bar = tqdm(total=steps if by_steps else episodes, unit="step" if by_steps else "ep",
                   file=stream or sys.stderr, dynamic_ncols=True, mininterval=0.5)
    t0 = time.perf_counter()
    step0 = agent.steps
    ep = 0
    first = True
    try:
        while (episodes is None or ep < episodes) and (steps is None or agent.steps - step0 < steps):
            obs, _ = env.reset(seed=seed) if first and seed is not None else env.reset()
            first = False
            ret, length, loss_sum, n_loss = 0.0, 0, 0.0, 0
            done = False
            while not done:
                action = agent.act(obs)
                next_obs, reward, terminated, truncated, _ = env.step(action)
                loss = agent.observe(obs, action, reward, next_obs, terminated, truncated)
                if loss is not None:
                    loss_sum += loss
                    n_loss += 1
                ret += float(reward)
                length += 1
                obs = next_obs
                done = terminated or truncated
                if sigint.requested:
                    break
                if steps is not None and agent.steps - step0 >= steps:
                    break   # the step budget ends mid-episode: the partial episode is still recorded
            if sigint.requested:
                break
            ep += 1
            agent.episodes += 1
            recent.append(ret)
            mean = float(np.mean(recent))
            row = {"return": ret, "length": length, "mean_return": mean, "epsilon": agent.epsilon,
                   "loss": loss_sum / n_loss if n_loss else math.nan, "steps": agent.steps,
                   "time": time.perf_counter() - t0}
            history.record(agent.episodes, row)
            if writer is not None:
                for k in ("return", "length", "mean_return", "epsilon", "loss"):
                    if not math.isnan(row[k]):
                        writer.add_scalar(f"rl/{k}", float(row[k]), agent.episodes)
            if bar is not None:
                bar.set_postfix(ret=f"{ret:.1f}", mean=f"{mean:.1f}", eps=f"{agent.epsilon:.3f}", refresh=False)
                bar.update(length if episodes is None else 1)
            if (target_return is not None and len(recent) == recent.maxlen and mean >= target_return
                    and history.solved_episode is None):
                history.solved_episode = agent.episodes
                break
            if callback is not None and callback(agent, history):
                break
    finally:
        if bar is not None:
            bar.close()
    if sigint.requested:
        raise TrainingInterrupted(
            f"rl.train: interrupted by Ctrl-C (SIGINT) after environment step {agent.steps} (episode "
            f"{agent.episodes + 1} in progress, not recorded); the agent holds the state after that step "
            f"(agent.save(path) keeps it)", history)
    return history


def evaluate(agent, env, episodes: int = 10, seed: int | None = None, max_steps: int | None = None) -> np.ndarray:
    """Returns of ``episodes`` greedy episodes (``agent.act(obs, explore=False)``; no learning, and the
    agent's generators are untouched). ``seed`` seeds the first reset; ``max_steps`` caps each episode."""
    returns = np.zeros(int(episodes), np.float64)
    for i in range(int(episodes)):
        obs, _ = env.reset(seed=seed) if i == 0 and seed is not None else env.reset()
        ret, t, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, explore=False))
            ret += float(reward)
            t += 1
            done = terminated or truncated or (max_steps is not None and t >= max_steps)
        returns[i] = ret
    return returns
