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

__all__ = ["evaluate", "train"]


def train(agent, env, episodes: int | None = None, steps: int | None = None, *, seed: int | None = None,
          target_return: float | None = None, window: int = 100, progress: bool = True,
          callback=None, history: History | None = None, stream=None, writer=None, eval_env=None,
          eval_every: int | None = None, eval_episodes: int = 10, eval_seed: int | None = None,
          keep_best: bool = False) -> History:
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

    Periodic evaluation (like Stable-Baselines3's ``EvalCallback``): with ``eval_env`` (a separate
    environment, so training episodes are not disturbed) the greedy policy plays ``eval_episodes``
    episodes every ``eval_every`` training episodes (``eval_seed`` seeds the first evaluation's
    reset; later ones continue that generator, so every evaluation sees fresh episodes). Each row
    then also has ``eval_return`` (mean greedy return; nan where no evaluation ran) and
    ``history.evaluations`` lists ``(episode, mean, std)``. ``keep_best=True`` copies the agent's
    networks (``agent.q`` / ``agent.target``) whenever the evaluation mean beats every earlier one,
    evaluates once more when training ends (solved, stopped, or out of episodes/steps), and loads
    the best copy into the agent before returning: the agent returned is the best policy seen,
    not the last. ``history.best_eval`` holds ``(episode, mean)`` of that evaluation.

    Ctrl-C (SIGINT, main thread) stops after the current environment step (its learning update
    done): the partial episode is not recorded and ``lamina.train.TrainingInterrupted`` (a
    KeyboardInterrupt carrying ``.history``) is raised; a second Ctrl-C interrupts at once.
    """
    with DeferSigint("rl.train") as sigint:
        evaluator = _Evaluator.make(agent, eval_env, eval_every, eval_episodes, eval_seed, keep_best)
        hist = _train(agent, env, episodes, steps, seed, target_return, window, progress, callback, history,
                      stream, writer, sigint, evaluator)
        if evaluator is not None:
            evaluator.finish(agent, hist)
        return hist


class _Evaluator:
    """Greedy evaluations during ``train`` and the best networks seen (keep_best)."""

    def __init__(self, env, every: int, episodes: int, seed, keep_best: bool) -> None:
        self.env, self.every, self.episodes, self.seed, self.keep_best = env, every, episodes, seed, keep_best
        self.best_mean, self.best_episode, self.best_state, self.last_episode = -math.inf, None, None, None

    @classmethod
    def make(cls, agent, env, every, episodes, seed, keep_best) -> _Evaluator | None:
        if env is None:
            if keep_best or every is not None:
                raise ValueError("train: eval_every= and keep_best=True need eval_env= (a separate environment "
                                 "for the greedy evaluations)")
            return None
        if every is None or int(every) < 1:
            raise ValueError(f"train: eval_every must be a number of episodes >= 1 when eval_env is given, "
                             f"got {every!r}")
        if int(episodes) < 1:
            raise ValueError(f"train: eval_episodes must be >= 1, got {episodes!r}")
        if keep_best and not all(hasattr(getattr(agent, n, None), "state_dict") for n in ("q", "target")):
            raise TypeError(f"train: keep_best=True needs an agent with .q and .target networks (as DQNAgent); "
                            f"{type(agent).__name__} has none")
        return cls(env, int(every), int(episodes), seed, bool(keep_best))

    def due(self, n_episodes: int) -> bool:
        return n_episodes % self.every == 0

    def run(self, agent, history: History, episode: int) -> float:
        seed = self.seed if self.last_episode is None else None
        returns = evaluate(agent, self.env, self.episodes, seed=seed)
        self.last_episode = episode
        mean = float(returns.mean())
        history.evaluations.append((episode, mean, float(returns.std())))
        if self.keep_best and mean > self.best_mean:
            self.best_mean, self.best_episode = mean, episode
            self.best_state = {n: {k: v.detach().clone() for k, v in getattr(agent, n).state_dict().items()}
                               for n in ("q", "target")}
        return mean

    def finish(self, agent, history: History) -> None:
        if not self.keep_best:
            return
        if history.epoch and self.last_episode != history.epoch[-1]:
            self.run(agent, history, history.epoch[-1])   # the final policy competes too
        if self.best_state is not None:
            for n, state in self.best_state.items():
                getattr(agent, n).load_state_dict(state)
            history.best_eval = (self.best_episode, self.best_mean)


def _train(agent, env, episodes, steps, seed, target_return, window, progress, callback, history, stream,
           writer, sigint, evaluator=None) -> History:
    if episodes is None and steps is None:
        raise ValueError("train: give episodes=, steps= or both")
    history = history if history is not None else History()
    history.solved_episode = getattr(history, "solved_episode", None)
    history.evaluations = getattr(history, "evaluations", [])
    history.best_eval = getattr(history, "best_eval", None)
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
            if evaluator is not None:
                row["eval_return"] = (evaluator.run(agent, history, agent.episodes) if evaluator.due(ep)
                                      else math.nan)
            history.record(agent.episodes, row)
            if writer is not None:
                for k in ("return", "length", "mean_return", "epsilon", "loss", "eval_return"):
                    if k in row and not math.isnan(row[k]):
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
