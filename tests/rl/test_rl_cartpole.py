"""DQN on Gymnasium's CartPole-v1 learns well above a random policy (needs the optional gymnasium: the
test extra). The wall time is printed, not asserted: speed is measured by bench/, never by tests."""
import time

import numpy as np
import pytest

import lamina
from lamina import rl

gym = pytest.importorskip("gymnasium")

STEPS = 20_000   # ~4 s on one idle core, ~10-25 s on a loaded one


@pytest.mark.slow
def test_cartpole_improves_well_above_random():
    # A uniformly random policy lasts ~22 steps; with this seed the last 20 training episodes average
    # ~270 and the greedy policy ~290 (seeds 1-3: 190-230), so >= 150 leaves a wide margin.
    lamina.set_num_threads(1)
    env = gym.make("CartPole-v1")
    agent = rl.DQNAgent.for_env(env, hidden=(128, 128), seed=0, lr=rl.LinearSchedule(1e-3, 5e-5, STEPS),
                                gamma=0.98, buffer_size=20_000, batch_size=128, learning_starts=500,
                                train_freq=4, tau=0.02, target_update_interval=1,
                                exploration=rl.LinearSchedule(1.0, 0.05, 6000))
    t0 = time.perf_counter()
    hist = rl.train(agent, env, steps=STEPS, seed=0, progress=False)
    wall = time.perf_counter() - t0
    first, last = float(np.mean(hist["return"][:20])), float(np.mean(hist["return"][-20:]))
    greedy = float(rl.evaluate(agent, env, episodes=5, seed=1).mean())
    env.close()
    print(f"CartPole-v1: {len(hist.epoch)} episodes, {STEPS} steps in {wall:.1f} s; first 20 episodes "
          f"{first:.1f}, last 20 {last:.1f}; greedy {greedy:.1f}")
    assert hist["steps"][-1] == STEPS
    assert first < 50                       # starts near random...
    assert last >= 150 and greedy >= 150    # ...and ends far above it
