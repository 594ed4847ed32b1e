"""lamina.htm.AnomalyLikelihood and the whole pipeline (encoder -> SP -> TM -> likelihood) on
synthetic streams with injected anomalies."""
import math

import numpy as np
import pytest
from lamina import htm


def test_likelihood_probation_and_spike():
    al = htm.AnomalyLikelihood(learning_period=20, estimation_samples=30, reestimation_period=10)
    rng = np.random.default_rng(0)
    out = [al.anomaly_probability(0.0, float(s)) for s in rng.uniform(0.0, 0.1, 49)]
    assert out == [0.5] * 49  # still in the probationary period
    normal = [al.anomaly_probability(0.0, float(s)) for s in rng.uniform(0.0, 0.1, 200)]
    assert max(normal) < 0.99
    burst = [al.anomaly_probability(0.0, 1.0) for _ in range(5)]
    assert max(burst) > 0.999
    # a run of red values reports its first one as red and the rest as "yellow" (0.999)
    reds = [p for p in burst if p > 0.99999]
    assert len(reds) == 1


def test_log_likelihood_mapping():
    f = htm.AnomalyLikelihood.compute_log_likelihood
    assert f(0.5) == pytest.approx(math.log(0.5) / math.log(1e-10), rel=1e-6)
    assert f(0.99999) == pytest.approx(0.5, abs=1e-3)
    vals = [f(p) for p in (0.1, 0.5, 0.9, 0.999, 0.9999999)]
    assert vals == sorted(vals) and 0 <= vals[0] and vals[-1] <= 1
    al = htm.AnomalyLikelihood(learning_period=0, estimation_samples=5)
    assert al.log_anomaly_probability(1.0, 0.2) == pytest.approx(f(0.5))


def test_likelihood_bad_arguments():
    with pytest.raises(ValueError, match="estimation_samples"):
        htm.AnomalyLikelihood(estimation_samples=0)
    with pytest.raises(ValueError, match="historic_window_size"):
        htm.AnomalyLikelihood(historic_window_size=10, estimation_samples=100)
    with pytest.raises(ValueError, match=r"anomaly_score must be in \[0, 1\]"):
        htm.AnomalyLikelihood().anomaly_probability(1.0, 1.5)


def _stream(n, period=24, spike_at=None, shift_at=None, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    v = 50 + 20 * np.sin(2 * np.pi * t / period) + rng.normal(0, 0.5, n)
    if spike_at is not None:
        v[spike_at] += 35
    if shift_at is not None:
        v[shift_at:] += 30
    return v


def _pipeline():
    enc = htm.RDSE(size=400, active_bits=21, resolution=1.0, seed=1)
    sp = htm.SpatialPooler(400, 1024, potential_radius=400, potential_pct=0.8, global_inhibition=True,
                           local_area_density=20 / 1024, syn_perm_active_inc=0.03,
                           syn_perm_inactive_dec=0.005, seed=2)
    tm = htm.TemporalMemory(1024, cells_per_column=8, activation_threshold=10, min_threshold=7,
                            max_new_synapse_count=16, seed=3)
    return enc, sp, tm


def test_pipeline_detects_injected_anomalies():
    n, spike, shift = 1300, 1100, 1200
    v = _stream(n, spike_at=spike, shift_at=shift)
    enc, sp, tm = _pipeline()
    al = htm.AnomalyLikelihood(learning_period=300, estimation_samples=300, reestimation_period=50)
    raw, lik = [], []
    for x in v:
        cols = sp.compute(enc.encode(x), learn=True)
        tm.compute(cols, learn=True)
        raw.append(tm.anomaly)
        lik.append(al.anomaly_probability(x, tm.anomaly))
    raw, lik = np.array(raw), np.array(lik)
    settled = raw[900:spike]
    assert settled.mean() < 0.25, "a periodic stream becomes predictable"
    assert raw[spike] >= 0.6 and raw[spike] > settled.mean() + 0.4
    assert raw[shift:shift + 5].max() >= 0.6
    assert lik[spike:spike + 10].max() > 0.99
    assert lik[shift:shift + 10].max() > 0.99
    assert (lik[900:spike] > 0.99).mean() < 0.05  # few false alarms before the anomalies


def test_example_quick_run_writes_only_into_out(tmp_path, monkeypatch):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "htm_anomaly.py"
    spec = importlib.util.spec_from_file_location("htm_anomaly_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "out"
    rows = mod.main(["--quick", "--no-plot", "--out", str(out)])
    assert [r[0] for r in rows] == ["spike", "level shift", "frequency change"]
    assert rows[1][2] is not None and rows[1][2] < 24  # HTM flags the level shift within half a day
    assert sorted(p.name for p in out.iterdir()) == ["htm_anomaly.csv"]
    assert not any(cwd.iterdir())
    lines = (out / "htm_anomaly.csv").read_text().splitlines()
    assert lines[0] == "sample,value,raw_anomaly,likelihood,zscore" and len(lines) == 8 * 48 + 1
