"""rl.train's periodic greedy evaluation (eval_env / eval_every / eval_episodes) and keep_best:
evaluations run on their own environment without disturbing training, and keep_best hands back
the best policy seen, not the last."""
import math

import lamina
import numpy as np
import pytest
from lamina import rl


def corridor_agent(seed=0):
    env = rl.Corridor(8)
    agent = rl.DQNAgent.for_env(env, hidden=(32,), seed=seed, lr=1e-3, gamma=0.99, buffer_size=5000,
                                batch_size=32, learning_starts=100, target_update_interval=100,
                                exploration=rl.LinearSchedule(1.0, 0.05, 1000))
    return env, agent


def test_evaluations_are_recorded_and_do_not_disturb_training():
    env, a1 = corridor_agent()
    h1 = rl.train(a1, env, episodes=30, seed=0, progress=False)
    env, a2 = corridor_agent()
    h2 = rl.train(a2, env, episodes=30, seed=0, progress=False, eval_env=rl.Corridor(8), eval_every=5,
                  eval_episodes=2)
    assert h1["return"] == h2["return"]                                   # same training trajectory
    np.testing.assert_array_equal(np.array(h1["loss"]), np.array(h2["loss"]))
    assert [e for e, _, _ in h2.evaluations] == [5, 10, 15, 20, 25, 30]
    ev = h2["eval_return"]
    assert len(ev) == 30
    assert all(math.isnan(v) for i, v in enumerate(ev) if (i + 1) % 5)
    assert [ev[e - 1] for e, _, _ in h2.evaluations] == [m for _, m, _ in h2.evaluations]
    # the last evaluation is the final greedy policy's return (Corridor is deterministic)
    assert ev[-1] == rl.evaluate(a2, rl.Corridor(8), 2).mean()
    assert h2.best_eval is None                                           # keep_best off


def test_keep_best_returns_the_best_policy_not_the_last():
    # Learn the corridor (optimal return -7), then wreck the Q-network in a callback and stop: the
    # last policy walks into the wall until the 32-step limit; keep_best must hand back the best one.
    def wreck(agent, history):
        if len(history.epoch) == 90:   # between two evaluations
            with lamina.no_grad():
                for p in agent.q.parameters():
                    p.zero_()
                agent.q[-1].bias.copy_(lamina.tensor(np.array([1.0, 0.0], np.float32)))   # always "left"
            return True
        return False

    results = {}
    for keep in (False, True):
        env, agent = corridor_agent()
        hist = rl.train(agent, env, episodes=200, seed=0, progress=False, callback=wreck,
                        eval_env=rl.Corridor(8), eval_every=20, eval_episodes=3, keep_best=keep)
        results[keep] = (hist, float(rl.evaluate(agent, rl.Corridor(8), 3).mean()))
    (h_last, last), (h_best, best) = results[False], results[True]
    assert len(h_last.epoch) == len(h_best.epoch) == 90
    assert last == -32.0                                  # the wrecked policy never reaches the goal
    assert best == -7.0                                   # the best evaluation's policy: optimal
    episode, mean = h_best.best_eval
    assert mean == best and episode in (20, 40, 60, 80)
    assert h_best.evaluations[-1][1] == -32.0             # the final policy was evaluated and lost


def test_eval_argument_errors():
    env, agent = corridor_agent()
    with pytest.raises(ValueError, match="need eval_env"):
        rl.train(agent, env, episodes=2, keep_best=True, progress=False)
    with pytest.raises(ValueError, match="eval_every"):
        rl.train(agent, env, episodes=2, eval_env=rl.Corridor(8), progress=False)
    with pytest.raises(ValueError, match="eval_episodes"):
        rl.train(agent, env, episodes=2, eval_env=rl.Corridor(8), eval_every=1, eval_episodes=0, progress=False)

    class NoNets:
        steps = episodes = 0
    with pytest.raises(TypeError, match="keep_best"):
        rl.train(NoNets(), env, episodes=2, eval_env=rl.Corridor(8), eval_every=1, keep_best=True, progress=False)
