"""lamina.htm save/load through lamina.save/lamina.load (no pickle): a run continued after a
round trip matches the uninterrupted run exactly; seeded runs reproduce."""
import lamina
import numpy as np
import pytest
from lamina import htm


def stream(n, seed=0):
    enc = htm.ScalarEncoder(200, 15, 0, 1, periodic=True)
    rng = np.random.default_rng(seed)
    return [enc.encode((i % 17) / 17 + rng.normal(0, 0.01)) for i in range(n)]


def build():
    sp = htm.SpatialPooler(200, 256, potential_radius=200, global_inhibition=True,
                           local_area_density=0.05, boost_strength=2.0, duty_cycle_period=50)
    tm = htm.TemporalMemory(256, cells_per_column=6, activation_threshold=8, min_threshold=5,
                            predicted_segment_decrement=0.01)
    al = htm.AnomalyLikelihood(learning_period=10, estimation_samples=20, reestimation_period=7)
    pr = htm.Predictor(steps=(1, 2), alpha=0.1)
    return sp, tm, al, pr


def step(objs, i, x):
    sp, tm, al, pr = objs
    cols = sp.compute(x, learn=True)
    tm.compute(cols, learn=True)
    p = al.anomaly_probability(0.0, tm.anomaly)
    pr.learn(i, tm.active_cell_indices(), i % 17)
    return cols, tm.get_active_cells(), tm.get_predictive_cells(), tm.anomaly, p, pr.infer(
        tm.active_cell_indices())


def same(a, b):
    for x, y in zip(a, b):
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            for k in x:
                np.testing.assert_array_equal(x[k], y[k])
        else:
            np.testing.assert_array_equal(x, y)


def test_round_trip_continues_identically(tmp_path):
    xs = stream(160)
    ref = build()
    for i, x in enumerate(xs[:100]):
        step(ref, i, x)
    path = tmp_path / "htm.lamina"
    htm.save({"sp": ref[0], "tm": ref[1], "al": ref[2], "pr": ref[3]}, path)
    with open(path, "rb") as f:
        assert b"pickle" not in f.read(64)
    d = htm.load(path)
    loaded = (d["sp"], d["tm"], d["al"], d["pr"])
    assert isinstance(loaded[0], htm.SpatialPooler) and isinstance(loaded[1], htm.TemporalMemory)
    assert loaded[1].num_synapses() == ref[1].num_synapses() > 0
    np.testing.assert_array_equal(loaded[1].get_predictive_cells(), ref[1].get_predictive_cells())
    for i, x in enumerate(xs[100:], start=100):
        same(step(ref, i, x), step(loaded, i, x))


def test_state_dict_through_lamina_save(tmp_path):
    sp, tm, _, _ = build()
    for x in stream(40):
        tm.compute(sp.compute(x), learn=True)
    lamina.save({"sp": sp.state_dict(), "tm": tm.state_dict()}, tmp_path / "s.lamina")
    sd = lamina.load(tmp_path / "s.lamina")
    tm2 = htm.TemporalMemory.from_state_dict(sd["tm"])
    sp2 = htm.SpatialPooler.from_state_dict(sd["sp"])
    np.testing.assert_array_equal(sp2.get_permanences(), sp.get_permanences())
    assert tm2.num_synapses() == tm.num_synapses() > 0
    np.testing.assert_array_equal(tm2.get_predictive_cells(), tm.get_predictive_cells())
    x = stream(41)[-1]
    np.testing.assert_array_equal(sp2.compute(x, learn=False), sp.compute(x, learn=False))
    with pytest.raises(ValueError, match="saved arguments differ"):
        htm.TemporalMemory(256, cells_per_column=4).load_state_dict(sd["tm"])
    with pytest.raises(ValueError, match="not a SpatialPooler"):
        sp.load_state_dict(sd["tm"])
    bad = dict(sd["tm"], state=dict(sd["tm"]["state"], synapse_presyn=sd["tm"]["state"]["synapse_presyn"][:-1]))
    with pytest.raises(ValueError, match="differ in length"):
        htm.TemporalMemory.from_state_dict(bad)
    with pytest.raises(TypeError, match="cannot save"):
        htm.save(object(), tmp_path / "x.lamina")


def test_seeded_runs_reproduce():
    xs = stream(60)
    a, b = build(), build()
    for i, x in enumerate(xs):
        same(step(a, i, x), step(b, i, x))
    np.testing.assert_array_equal(a[1].state_dict()["state"]["synapse_permanence"],
                                  b[1].state_dict()["state"]["synapse_permanence"])
