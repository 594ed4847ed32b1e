"""lamina.rl.DQNAgent: TD targets vs a NumPy reference, target-network updates, a gradient step
vs a hand computation, acting, save/load, the training loop, determinism and learning on the
built-in environments."""
import numpy as np
import pytest

import lamina
from lamina import nn, optim, rl


def set_linear(layer, w, b):
    with lamina.no_grad():
        layer.weight.copy_(lamina.tensor(np.asarray(w, np.float32)))
        layer.bias.copy_(lamina.tensor(np.asarray(b, np.float32)))


def linear_agent(double, **kw):
    agent = rl.DQNAgent(nn.Linear(3, 2), 2, gamma=0.9, double_dqn=double, seed=0, **kw)
    set_linear(agent.q, [[1, 0, 0], [0, 1, 0]], [0, 0])          # online: Q = (x0, x1)
    set_linear(agent.target, [[2, 0, 0], [0, 0, 3]], [1, -1])    # target: Q = (2 x0 + 1, 3 x2 - 1)
    return agent


BATCH = dict(
    rewards=np.array([1.0, 0.5, -1.0, 2.0], np.float32),
    next_obs=np.array([[1, 2, 0], [3, 1, 1], [0, 1, 4], [2, 0, 5]], np.float32),
    dones=np.array([0, 0, 1, 0], np.float32))


@pytest.mark.parametrize("double", [False, True])
def test_td_target_matches_numpy(double):
    agent = linear_agent(double)
    s2, r, d = BATCH["next_obs"], BATCH["rewards"], BATCH["dones"]
    q_online = s2 @ np.array([[1, 0, 0], [0, 1, 0]], np.float32).T
    q_target = s2 @ np.array([[2, 0, 0], [0, 0, 3]], np.float32).T + np.array([1, -1], np.float32)
    if double:
        nq = q_target[np.arange(4), q_online.argmax(1)]
        # online argmax (1, 0, 1, 0) differs from the target's on rows 0 and 2
        np.testing.assert_array_equal(q_online.argmax(1), [1, 0, 1, 0])
    else:
        nq = q_target.max(1)
    expect = r + 0.9 * (1 - d) * nq
    got = agent.td_target(r, s2, d)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expect, rtol=1e-6)
    if double:
        np.testing.assert_allclose(got, [1 - 0.9 * 1, 0.5 + 0.9 * 7, -1, 2 + 0.9 * 5], rtol=1e-6)
    else:
        np.testing.assert_allclose(got, [1 + 0.9 * 3, 0.5 + 0.9 * 7, -1, 2 + 0.9 * 14], rtol=1e-6)


def test_learn_step_matches_hand_gradient():
    # One SGD step on a hand-made batch: loss = mean Huber(Q(s, a) - y), y from the (frozen) target.
    q = nn.Linear(3, 2)
    agent = rl.DQNAgent(q, 2, optimizer=optim.SGD(q.parameters(), lr=0.1), gamma=0.9, double_dqn=False,
                        max_grad_norm=None, seed=0)
    w0, b0 = np.array([[1, 0, 0], [0, 1, 0]], np.float32), np.zeros(2, np.float32)
    set_linear(agent.q, w0, b0)
    set_linear(agent.target, [[2, 0, 0], [0, 0, 3]], [1, -1])
    s = np.array([[1, 0, 0], [0, 2, 0], [1, 1, 1], [0, 0, 1]], np.float32)
    a = np.array([0, 1, 1, 0], np.int64)
    y = agent.td_target(BATCH["rewards"], BATCH["next_obs"], BATCH["dones"])
    batch = rl.Batch(s, a, BATCH["rewards"], BATCH["next_obs"], BATCH["dones"], np.ones(4, np.float32),
                     np.arange(4))
    loss = agent.learn(batch)
    d = (s @ w0.T + b0)[np.arange(4), a] - y
    huber = np.where(np.abs(d) < 1, 0.5 * d * d, np.abs(d) - 0.5)
    assert loss == pytest.approx(huber.mean(), rel=1e-5)
    g = np.clip(d, -1, 1) / 4                                   # dloss/dQ(s, a)
    gw, gb = np.zeros_like(w0), np.zeros_like(b0)
    for i in range(4):
        gw[a[i]] += g[i] * s[i]
        gb[a[i]] += g[i]
    np.testing.assert_allclose(agent.q.weight.detach().numpy(), w0 - 0.1 * gw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(agent.q.bias.detach().numpy(), b0 - 0.1 * gb, rtol=1e-5, atol=1e-6)
    assert agent.updates == 1


def test_target_network_hard_update_interval():
    agent = rl.DQNAgent(rl.mlp(3, 2, (8,)), 2, target_update_interval=3, tau=1.0, batch_size=4,
                        learning_starts=4, seed=0, exploration=1.0)
    assert agent.target is not agent.q
    for (k, p), (_, t) in zip(agent.q.state_dict().items(), agent.target.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), t.numpy(), err_msg=k)   # starts as a copy...
        assert not t.requires_grad
    before = {k: v.numpy().copy() for k, v in agent.target.state_dict().items()}
    rng = np.random.default_rng(0)
    for _ in range(5):   # 5 steps, learning from step 4: 2 updates, no target sync yet
        agent.observe(rng.random(3), 1, 1.0, rng.random(3), False)
    assert agent.updates == 2
    for k, v in agent.target.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])            # ...and does not follow the online net
    assert not np.array_equal(agent.q.state_dict()["0.weight"].numpy(), before["0.weight"])
    agent.observe(rng.random(3), 0, 1.0, rng.random(3), True)           # 3rd update: hard copy
    assert agent.updates == 3
    for (k, p), (_, t) in zip(agent.q.state_dict().items(), agent.target.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), t.numpy(), err_msg=k)


def test_target_network_polyak_update():
    agent = rl.DQNAgent(rl.mlp(3, 2, (8,)), 2, tau=0.25, target_update_interval=1, seed=0)
    with lamina.no_grad():
        for p in agent.q.parameters():
            p.add_(1.0)
    q = {k: v.numpy().copy() for k, v in agent.q.state_dict().items()}
    t = {k: v.numpy().copy() for k, v in agent.target.state_dict().items()}
    agent.update_target()
    for k, v in agent.target.state_dict().items():
        np.testing.assert_allclose(v.numpy(), 0.25 * q[k] + 0.75 * t[k], rtol=1e-6, atol=1e-7)
    agent.update_target(tau=1.0)
    for k, v in agent.target.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), q[k])


def test_act_epsilon_greedy():
    agent = linear_agent(True, exploration=rl.LinearSchedule(1.0, 0.0, 10))
    obs = np.array([0, 5, 0], np.float32)                       # greedy action: 1
    assert agent.epsilon == 1.0
    acts = [agent.act(obs) for _ in range(400)]
    assert 150 < sum(acts) < 250                               # epsilon 1: uniform
    assert all(agent.act(obs, explore=False) == 1 for _ in range(5))
    agent.steps = 10
    assert agent.epsilon == 0.0 and all(agent.act(obs) == 1 for _ in range(20))
    np.testing.assert_allclose(agent.q_values(obs), [0, 5])
    np.testing.assert_allclose(agent.q_values(np.stack([obs, obs * 2])), [[0, 5], [0, 10]])


def test_agent_argument_errors():
    with pytest.raises(ValueError, match="gamma must be in"):
        rl.DQNAgent(rl.mlp(3, 2), 2, gamma=1.5)
    with pytest.raises(ValueError, match="tau must be in"):
        rl.DQNAgent(rl.mlp(3, 2), 2, tau=0.0)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        rl.DQNAgent(rl.mlp(3, 2), 2, batch_size=0)
    with pytest.raises(ValueError, match="loss must be"):
        rl.DQNAgent(rl.mlp(3, 2), 2, loss="l7")


def corridor_agent(seed=0, prioritized=False, **kw):
    env = rl.Corridor(8)
    agent = rl.DQNAgent.for_env(env, hidden=(32,), seed=seed, lr=1e-3, gamma=0.99, buffer_size=5000,
                                batch_size=32, learning_starts=100, target_update_interval=100,
                                exploration=rl.LinearSchedule(1.0, 0.05, 1000), prioritized=prioritized, **kw)
    return env, agent


@pytest.mark.parametrize("prioritized", [False, True])
def test_learns_corridor_optimal_return(prioritized):
    env, agent = corridor_agent(prioritized=prioritized)
    hist = rl.train(agent, env, episodes=120, seed=0, progress=False)
    assert len(hist.epoch) == 120 and hist.epoch[-1] == 120
    assert hist["return"][0] < env.optimal_return                 # random start is worse than optimal
    np.testing.assert_array_equal(rl.evaluate(agent, env, 3), [env.optimal_return] * 3)   # -7
    assert max(hist["return"]) == env.optimal_return


def test_learns_gridworld_optimal_return():
    env = rl.GridWorld(4, 4, walls=[(1, 1), (1, 2), (2, 1)])
    assert env.optimal_return == -6
    agent = rl.DQNAgent.for_env(env, hidden=(64,), seed=1, lr=1e-3, buffer_size=10000, batch_size=32,
                                learning_starts=200, tau=0.01, target_update_interval=1,
                                exploration=rl.LinearSchedule(1.0, 0.05, 2000))
    hist = rl.train(agent, env, steps=4000, seed=1, progress=False)
    assert hist["steps"][-1] == 4000
    np.testing.assert_array_equal(rl.evaluate(agent, env, 2), [-6, -6])


def test_seeded_runs_reproduce_exactly():
    runs = []
    for _ in range(2):
        env, agent = corridor_agent(seed=7, prioritized=True)
        hist = rl.train(agent, env, episodes=25, seed=7, progress=False)
        runs.append((hist, agent))
    (h1, a1), (h2, a2) = runs
    assert h1["return"] == h2["return"] and h1["length"] == h2["length"]
    np.testing.assert_array_equal(np.array(h1["loss"]), np.array(h2["loss"]))   # nan-aware, bit-exact
    for (k, p), (_, q) in zip(a1.q.state_dict().items(), a2.q.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=k)
    env, a3 = corridor_agent(seed=8, prioritized=True)
    h3 = rl.train(a3, env, episodes=25, seed=8, progress=False)
    assert h3["return"] != h1["return"]                            # and the seed matters


def test_save_load_resumes_identically(tmp_path):
    env, a1 = corridor_agent(seed=3, prioritized=True)
    rl.train(a1, env, episodes=15, seed=3, progress=False)
    a1.save(tmp_path / "agent.lam", include_buffer=True)
    saved = (a1.steps, a1.updates, a1.episodes)
    assert saved[1] > 0 and saved[2] == 15
    assert not any(p.name != "agent.lam" for p in tmp_path.iterdir())   # atomic write: no temp left
    h1 = rl.train(a1, env, episodes=5, progress=False)
    env2, a2 = corridor_agent(seed=99, prioritized=True)                # different init and generators
    a2.load(tmp_path / "agent.lam")
    assert (a2.steps, a2.updates, a2.episodes) == saved and len(a2.buffer) == saved[0]
    h2 = rl.train(a2, env2, episodes=5, progress=False)                 # Corridor's reset is deterministic
    assert h1["return"] == h2["return"]
    np.testing.assert_array_equal(np.array(h1["loss"]), np.array(h2["loss"]))
    for (k, p), (_, q) in zip(a1.q.state_dict().items(), a2.q.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=k)
    # without the buffer: networks, optimizer and counters only
    a1.save(tmp_path / "small.lam")
    env3, a3 = corridor_agent(seed=5)
    with pytest.raises(ValueError, match="not a DQNAgent checkpoint"):
        a3.load_state_dict({"q": 1})
    a3.load(tmp_path / "small.lam")
    assert len(a3.buffer) == 0 and a3.steps == a1.steps
    np.testing.assert_array_equal(a3.q.state_dict()["0.weight"].numpy(), a1.q.state_dict()["0.weight"].numpy())


def test_train_loop_budget_and_target_stop():
    env, agent = corridor_agent()
    hist = rl.train(agent, env, steps=50, progress=False)
    assert hist["steps"][-1] == 50 and sum(hist["length"]) == 50
    assert np.isnan(hist["loss"][0])                                # before learning_starts
    env, agent = corridor_agent()
    hist = rl.train(agent, env, episodes=500, seed=0, target_return=-7.5, window=10, progress=False)
    assert hist.solved_episode == len(hist.epoch) < 500
    assert np.mean(hist["return"][-10:]) >= -7.5 and hist["mean_return"][-1] >= -7.5
    stop = rl.train(agent, env, episodes=50, progress=False, callback=lambda a, h: len(h.epoch) >= 3)
    assert len(stop.epoch) == 3
    with pytest.raises(ValueError, match="episodes=, steps="):
        rl.train(agent, env)


def test_train_progress_bar(capsys):
    import io
    env, agent = corridor_agent()
    s = io.StringIO()
    rl.train(agent, env, episodes=3, progress=True, stream=s)
    out = s.getvalue()
    assert "3/3" in out and "ret=" in out and "eps=" in out


def test_env_api():
    env = rl.Corridor(4, max_steps=3)
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(obs, [1, 0, 0, 0]) and info == {}
    assert env.observation_space.shape == (4,) and env.action_space.n == 2
    obs, r, term, trunc, _ = env.step(0)                            # wall: stays at 0
    np.testing.assert_array_equal(obs, [1, 0, 0, 0])
    assert (r, term, trunc) == (-1.0, False, False)
    env.step(1)
    obs, r, term, trunc, _ = env.step(1)                            # 3rd step: time limit
    assert (term, trunc) == (False, True)
    env.reset()
    for _ in range(3):
        obs, r, term, trunc, _ = env.step(1)
    assert term and not trunc and obs[3] == 1
    with pytest.raises(ValueError, match=r"action must be an int in \[0, 2\)"):
        env.step(2)
    with pytest.raises(ValueError, match="cannot be reached"):
        rl.GridWorld(2, 2, walls=[(0, 1), (1, 0)])


def test_lr_schedule_sets_optimizer_lr():
    agent = rl.DQNAgent(rl.mlp(3, 2, (8,)), 2, lr=rl.LinearSchedule(1e-2, 1e-3, 10), batch_size=2,
                        learning_starts=2, seed=0)
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(1e-2)
    rng = np.random.default_rng(0)
    for _ in range(6):
        agent.observe(rng.random(3), 0, 0.0, rng.random(3), False)
    assert agent.updates == 5
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(1e-2 + (1e-3 - 1e-2) * 0.6)


def test_rl_imports_neither_gymnasium_nor_torch():
    import subprocess
    import sys
    code = ("import sys, lamina, lamina.rl; "
            "print(sorted(m for m in ('gymnasium', 'torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
