"""lamina.htm.SpatialPooler: sparsity, determinism without learning, noise robustness, learning
direction, boosting, tensor in/out, and argument errors."""
import lamina
import numpy as np
import pytest
from lamina import htm


def random_sdr(rng, n, k):
    x = np.zeros(n, dtype=bool)
    x[rng.choice(n, k, replace=False)] = True
    return x


def add_noise(rng, x, frac):
    """Moves frac of the on-bits to random off positions (same sparsity)."""
    on, off = np.flatnonzero(x), np.flatnonzero(~x)
    k = round(frac * len(on))
    y = x.copy()
    y[rng.choice(on, k, replace=False)] = False
    y[rng.choice(off, k, replace=False)] = True
    return y


def overlap(a, b):
    return int(np.sum(a & b))


def make_sp(**kw):
    args = {"input_dimensions": 400, "column_dimensions": 1024, "potential_radius": 400,
                "potential_pct": 0.85, "global_inhibition": True, "local_area_density": 0.04,
                "syn_perm_active_inc": 0.04, "syn_perm_inactive_dec": 0.006, "seed": 3}
    args.update(kw)
    return htm.SpatialPooler(**args)


def test_global_inhibition_sparsity_and_determinism():
    rng = np.random.default_rng(0)
    sp = make_sp()
    k = round(0.04 * 1024)
    for _ in range(20):
        out = sp.compute(random_sdr(rng, 400, 40), learn=True)
        assert out.dtype == np.bool_ and out.shape == (1024,) and out.sum() == k
    x = random_sdr(rng, 400, 40)
    perms = sp.get_permanences().copy()
    a = sp.compute(x, learn=False)
    b = sp.compute(x, learn=False)
    assert (a == b).all()
    np.testing.assert_array_equal(perms, sp.get_permanences())  # no learning, no change
    # the active columns are exactly the k largest overlaps
    ov = sp.get_overlaps()
    assert ov[a].min() >= ov[~a].max()


def test_local_inhibition_sparsity_near_density():
    rng = np.random.default_rng(1)
    sp = htm.SpatialPooler(input_dimensions=(32, 32), column_dimensions=(32, 32), potential_radius=5,
                           potential_pct=0.8, global_inhibition=False, local_area_density=0.05,
                           seed=5)
    assert 1 <= sp.inhibition_radius < 32
    dens = []
    for _ in range(10):
        x = rng.random((32, 32)) < 0.2
        out = sp.compute(x, learn=True)
        assert out.shape == (32, 32)
        dens.append(out.mean())
    assert 0.03 <= np.mean(dens) <= 0.09


def test_noise_robustness_after_learning():
    rng = np.random.default_rng(2)
    sp = make_sp()
    protos = [random_sdr(rng, 400, 40) for _ in range(10)]
    for _ in range(30):
        for p in protos:
            sp.compute(add_noise(rng, p, 0.1), learn=True)
    a = sp.compute(protos[0], learn=False)
    n = int(a.sum())
    similar = [overlap(a, sp.compute(add_noise(rng, protos[0], 0.1), learn=False)) for _ in range(5)]
    unrelated = [overlap(a, sp.compute(p, learn=False)) for p in protos[1:]]
    assert min(similar) >= 0.7 * n, similar
    assert max(unrelated) <= 0.25 * n, unrelated
    # input overlap 90% -> column overlap high; input overlap ~10% -> column overlap low
    assert np.mean(similar) > 3 * np.mean(unrelated) + 5


def test_learning_moves_permanences_towards_the_input():
    rng = np.random.default_rng(3)
    sp = make_sp(syn_perm_active_inc=0.05, syn_perm_inactive_dec=0.02)
    x = random_sdr(rng, 400, 40)
    before = sp.get_permanences().copy()
    out = sp.compute(x, learn=True)
    after = sp.get_permanences()
    pool = sp.get_potential_pools()
    win = np.flatnonzero(out)
    d = after[win] - before[win]
    on = pool[win] & x[None, :]
    off = pool[win] & ~x[None, :]
    assert (d[on] > 0).mean() > 0.9 and (d[off] <= 0).all()
    assert np.allclose(after[~out], before[~out])  # losers unchanged (no bumping yet)


def test_boosting_evens_out_duty_cycles():
    rng = np.random.default_rng(4)
    # a few input patterns only: without boosting the same columns win again and again
    protos = [random_sdr(rng, 400, 40) for _ in range(4)]

    def run(boost):
        sp = make_sp(boost_strength=boost, duty_cycle_period=50, syn_perm_active_inc=0.0,
                     syn_perm_inactive_dec=0.0, seed=9)
        used = np.zeros(1024, dtype=bool)
        for i in range(300):
            used |= sp.compute(protos[i % 4], learn=True)
        return used.sum(), sp.get_active_duty_cycles()

    used0, duty0 = run(0.0)
    used1, duty1 = run(10.0)
    assert used0 <= 4 * 41          # at most the 4 patterns' winners
    assert used1 > 2 * used0         # boosting hands the activity to many more columns
    assert duty1.max() < 0.6 * duty0.max()


def test_tensor_in_tensor_out_and_flat_input():
    rng = np.random.default_rng(5)
    sp = make_sp()
    x = random_sdr(rng, 400, 40)
    t = sp.compute(lamina.tensor(x.astype(np.float32)), learn=False)
    assert isinstance(t, lamina.Tensor)
    np.testing.assert_array_equal(t.numpy().astype(bool), sp.compute(x, learn=False))


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"input_dimensions": (10, 10), "column_dimensions": 64}, ValueError, "same number of dimensions"),
    ({"input_dimensions": 100, "column_dimensions": 64, "local_area_density": 0.0}, ValueError,
     "local_area_density"),
    ({"input_dimensions": 100, "column_dimensions": 64, "local_area_density": 1.5}, ValueError,
     "local_area_density"),
    ({"input_dimensions": 100, "column_dimensions": 64, "potential_pct": 0}, ValueError, "potential_pct"),
    ({"input_dimensions": 100, "column_dimensions": 0}, ValueError, "positive"),
    ({"input_dimensions": 100, "column_dimensions": 64, "syn_perm_connected": 1.0}, ValueError,
     "syn_perm_connected"),
    ({"input_dimensions": 100, "column_dimensions": 64, "duty_cycle_period": 0}, ValueError,
     "duty_cycle_period"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        htm.SpatialPooler(**kwargs)


def test_bad_inputs():
    sp = htm.SpatialPooler(100, 64)
    with pytest.raises(ValueError, match=r"shape \(99,\) does not match the expected \(100,\)"):
        sp.compute(np.zeros(99, dtype=bool))
    with pytest.raises(ValueError, match="only 0 and 1"):
        sp.compute(np.full(100, 2))
    with pytest.raises(TypeError, match="boolean"):
        sp.compute(np.array(["a"] * 100))
    assert not sp.compute(np.zeros(100, dtype=bool)).any()  # no input, no active column


@pytest.mark.parametrize("wrap", [True, False])
def test_local_inhibition_matches_numpy_reference(wrap):
    """Without learning, a column is active when fewer than round(density * (neighbours + 1)) of
    its neighbours within the inhibition radius (wrapping around the ends, or clipped) score
    higher; score = overlap + the pooler's fixed tie-break offset."""
    rng = np.random.default_rng(7)
    C, density = 200, 0.1
    sp = htm.SpatialPooler(100, C, potential_radius=6, potential_pct=0.7, local_area_density=density,
                           wrap_around=wrap, seed=4)
    r = sp.inhibition_radius
    assert 1 <= r < C // 2
    tie = sp.state_dict()["state"]["tie_break"].astype(np.float32)
    for _ in range(5):
        out = sp.compute(rng.random(100) < 0.3, learn=False)
        ov = sp.get_overlaps()
        score = np.where(ov > 0, ov.astype(np.float32) + tie, -1.0).astype(np.float32)
        ref = np.zeros(C, dtype=bool)
        for c in np.flatnonzero(ov > 0):
            offs = np.arange(-r, r + 1)
            nb = (c + offs) % C if wrap else (c + offs)[(c + offs >= 0) & (c + offs < C)]
            nb = nb[nb != c]
            bigger = np.sum((score[nb] > score[c]) | ((score[nb] == score[c]) & (nb < c)))
            ref[c] = bigger < max(1, int(0.5 + density * (len(nb) + 1)))
        np.testing.assert_array_equal(out, ref)
        assert 0 < out.sum() < 0.3 * C


def test_learning_step_matches_numpy_reference():
    """One learning step with global inhibition and boosting, recomputed in NumPy from the state
    before it: overlaps, boosted top-k winners, permanence updates, duty cycles, bumping of weak
    columns and boost factors (Cui et al. 2017)."""
    rng = np.random.default_rng(8)
    I, C, k, inc, dec, thr, strength = 120, 300, 15, 0.05, 0.01, 0.1, 2.5
    sp = htm.SpatialPooler(I, C, potential_radius=I, potential_pct=0.6, global_inhibition=True,
                           local_area_density=k / C, syn_perm_active_inc=inc,
                           syn_perm_inactive_dec=dec, syn_perm_connected=thr, boost_strength=strength,
                           duty_cycle_period=40, min_pct_overlap_duty_cycle=0.9, seed=6)
    for _ in range(60):  # past an update round, so minimum duty cycles are set and columns bump
        sp.compute(rng.random(I) < 0.1, learn=True)
    bumped = 0
    for _ in range(5):
        st = {key: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
              for key, v in sp.state_dict()["state"].items()}
        x = rng.random(I) < 0.1
        out = sp.compute(x, learn=True)
        P, M = st["permanences"], st["potential"].astype(bool)
        ov = ((P >= np.float32(thr)) & x).sum(1)
        score = ov.astype(np.float32) * st["boost"] + st["tie_break"]
        elig = np.flatnonzero(ov > 0)
        order = elig[np.lexsort((elig, -score[elig]))]
        win = np.zeros(C, dtype=bool)
        win[order[:k]] = True
        np.testing.assert_array_equal(out, win)
        np.testing.assert_array_equal(sp.get_overlaps(), ov)
        P2 = P.copy()
        delta = np.where(x, np.float32(inc), np.float32(-dec))
        P2[win] = np.clip(P[win] + delta * M[win], 0, 1)
        period = min(40, st["iteration_learn"] + 1)
        od = st["overlap_duty"] * (period - 1) / period + (ov > 0) / period
        ad = st["active_duty"] * (period - 1) / period + win / period
        weak = od < st["min_overlap_duty"]
        P2[weak] = np.clip(P2[weak] + np.float32(thr / 10) * M[weak], 0, 1)
        bumped += int(weak.sum())
        np.testing.assert_allclose(sp.get_overlap_duty_cycles(), od, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(sp.get_active_duty_cycles(), ad, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(sp.get_permanences(), P2, atol=1e-6)
        np.testing.assert_allclose(sp.get_boost_factors(), np.exp((k / C - ad) * strength), rtol=1e-5)
    assert 0 < bumped < 5 * C  # the bumping branch ran, on some columns only
