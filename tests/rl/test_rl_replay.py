"""lamina.rl replay buffers: ring-buffer semantics, uniform and prioritized sampling, the sum-tree,
checkpoint round trips; and the exploration schedules."""
import numpy as np
import pytest

import lamina
from lamina import rl


def fill(buf, n, start=0):
    for i in range(start, start + n):
        buf.add(np.full(3, i, np.float32), i % 4, float(i), np.full(3, i + 1, np.float32), i % 5 == 0)


def test_ring_buffer_overwrites_oldest():
    buf = rl.ReplayBuffer(5, rng=0)
    assert len(buf) == 0 and not buf.full and buf.obs is None   # allocated lazily
    fill(buf, 3)
    assert len(buf) == 3 and buf.pos == 3
    np.testing.assert_array_equal(buf.rewards[:3], [0, 1, 2])
    fill(buf, 4, start=3)                                      # 7 adds into 5 slots
    assert len(buf) == 5 and buf.full and buf.pos == 2
    np.testing.assert_array_equal(buf.rewards, [5, 6, 2, 3, 4])   # slots 0, 1 overwritten by 5, 6
    np.testing.assert_array_equal(buf.obs[:, 0], [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buf.next_obs[:, 0], [6, 7, 3, 4, 5])
    np.testing.assert_array_equal(buf.actions, [1, 2, 2, 3, 0])
    np.testing.assert_array_equal(buf.dones, [1, 0, 0, 0, 0])
    assert buf.obs.dtype == np.float32 and buf.actions.dtype == np.int64 and buf.obs.flags.c_contiguous


def test_uniform_sample_semantics_and_seed():
    buf = rl.ReplayBuffer(100, rng=1)
    fill(buf, 10)
    b = buf.sample(1000)
    assert b.obs.shape == (1000, 3) and b.next_obs.shape == (1000, 3) and b.actions.shape == (1000,)
    assert set(b.indices.tolist()) == set(range(10))           # only valid slots, every one reachable
    np.testing.assert_array_equal(b.rewards, b.indices.astype(np.float32))   # fields stay aligned
    np.testing.assert_array_equal(b.obs[:, 0] + 1, b.next_obs[:, 0])
    np.testing.assert_array_equal(b.weights, np.ones(1000, np.float32))
    counts = np.bincount(b.indices, minlength=10)
    assert counts.min() > 60 and counts.max() < 140            # uniform: ~100 each
    buf2 = rl.ReplayBuffer(100, rng=1)
    fill(buf2, 10)
    np.testing.assert_array_equal(buf2.sample(1000).indices, b.indices)


def test_buffer_errors():
    buf = rl.ReplayBuffer(4)
    with pytest.raises(ValueError, match="empty"):
        buf.sample(2)
    buf.add(np.zeros(3), 0, 0.0, np.zeros(3), False)
    with pytest.raises(ValueError, match=r"shape \(2,\) does not match the buffer's \(3,\)"):
        buf.add(np.zeros(2), 0, 0.0, np.zeros(2), False)
    with pytest.raises(ValueError, match="capacity must be positive"):
        rl.ReplayBuffer(0)


def test_buffer_state_dict_round_trip(tmp_path):
    buf = rl.ReplayBuffer(6, rng=3)
    fill(buf, 8)
    buf.sample(4)
    lamina.save(buf.state_dict(), tmp_path / "buf.lam")
    buf2 = rl.ReplayBuffer(6, rng=99)
    buf2.load_state_dict(lamina.load(tmp_path / "buf.lam"))
    assert (buf2.pos, buf2.size) == (buf.pos, buf.size)
    for k in ("obs", "next_obs", "actions", "rewards", "dones"):
        np.testing.assert_array_equal(getattr(buf2, k), getattr(buf, k))
    np.testing.assert_array_equal(buf2.sample(20).indices, buf.sample(20).indices)  # generator restored


def test_sum_tree_matches_cumsum():
    rng = np.random.default_rng(0)
    for cap in (1, 5, 8, 13):
        tree = rl.SumTree(cap)
        p = rng.random(cap) + 0.1
        tree.update(np.arange(cap), p)
        assert tree.total == pytest.approx(p.sum()) and tree.min_value == pytest.approx(p.min())
        tree.update(cap - 1, 2.5)   # scalar path
        p[cap - 1] = 2.5
        assert tree.total == pytest.approx(p.sum()) and tree.min_value == pytest.approx(p.min())
        v = rng.random(200) * p.sum()
        expect = np.searchsorted(np.cumsum(p), v, side="right")
        np.testing.assert_array_equal(tree.find(v, cap), expect)
    with pytest.raises(ValueError, match="non-negative"):
        tree.update([0], [-1.0])


def test_prioritized_sampling_and_weights():
    buf = rl.PrioritizedReplayBuffer(8, rng=0, alpha=1.0)
    fill(buf, 4)
    np.testing.assert_allclose(buf.tree[np.arange(4)], 1.0)    # new transitions: max priority (1)
    buf.update_priorities([0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0])
    assert buf.max_priority == pytest.approx(4.0)
    fill(buf, 1, start=4)                                      # enters with the max priority
    assert buf.tree[4] == pytest.approx(4.0)
    b = buf.sample(20000, beta=1.0)
    freq = np.bincount(b.indices, minlength=5) / 20000
    p = np.array([1, 2, 3, 4, 4], float) + 1e-6
    np.testing.assert_allclose(freq, p / p.sum(), atol=0.01)
    # w_i = (N P(i))^-beta / max_j (N P(j))^-beta = (p_min / p_i)^beta
    np.testing.assert_allclose(b.weights, (p.min() / p[b.indices]), rtol=1e-5)
    b0 = buf.sample(10, beta=0.0)
    np.testing.assert_allclose(b0.weights, 1.0)
    # alpha=0: uniform priorities whatever the TD errors
    u = rl.PrioritizedReplayBuffer(8, rng=0, alpha=0.0)
    fill(u, 4)
    u.update_priorities([0, 1], [10.0, 0.0])
    np.testing.assert_allclose(u.tree[np.arange(4)], 1.0)


def test_prioritized_state_dict_round_trip(tmp_path):
    buf = rl.PrioritizedReplayBuffer(8, rng=0)
    fill(buf, 6)
    buf.update_priorities([0, 3], [5.0, 0.5])
    lamina.save(buf.state_dict(), tmp_path / "p.lam")
    buf2 = rl.PrioritizedReplayBuffer(8, rng=5)
    buf2.load_state_dict(lamina.load(tmp_path / "p.lam"))
    np.testing.assert_allclose(buf2.tree[np.arange(8)], buf.tree[np.arange(8)])
    assert buf2.max_priority == buf.max_priority
    np.testing.assert_array_equal(buf2.sample(16).indices, buf.sample(16).indices)


def test_schedules():
    s = rl.LinearSchedule(1.0, 0.1, 100, begin=10)
    assert [s(0), s(10), s(60), s(110), s(10**6)] == pytest.approx([1.0, 1.0, 0.55, 0.1, 0.1])
    e = rl.ExponentialSchedule(1.0, 0.1, 0.5)
    assert [e(0), e(1), e(2), e(1000)] == pytest.approx([1.0, 0.55, 0.325, 0.1])
    assert rl.ConstantSchedule(0.3)(12345) == 0.3
    with pytest.raises(ValueError, match="decay must be in"):
        rl.ExponentialSchedule(1.0, 0.1, 1.5)
    with pytest.raises(ValueError, match="duration must be"):
        rl.LinearSchedule(1.0, 0.1, -1)
