"""Streaming anomaly detection with hierarchical temporal memory on a NAB-style synthetic stream.

    python examples/htm_anomaly.py                 # 14 days at 15-minute samples (1344 steps)
    python examples/htm_anomaly.py --quick         # 8 days at 30-minute samples (384 steps)
    python examples/htm_anomaly.py --out results/  # where the plot and CSV go

The stream (one value per sample) has daily seasonality with noise, then three injected anomalies:
a one-sample spike, a level shift, and a change of frequency (the daily cycle runs twice as fast).
Pipeline: RDSE(value) + DateEncoder(time of day) -> SpatialPooler -> TemporalMemory (raw anomaly)
-> AnomalyLikelihood. The baseline is a rolling z-score over the previous eighth of a day. For each anomaly
the detection delay (samples from injection to the first alarm) of both detectors is printed,
plus the false alarms before the first anomaly. Writes only into --out (default ./htm_out); the
plot needs matplotlib (skipped with a note when it is missing). Nothing is downloaded: the NAB
corpus itself is not used.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import sys
import time

import numpy as np
from lamina import htm
from lamina.utils.scripts import out_dir, probability, run, tool_parser


def make_stream(days: int, per_day: int, seed: int = 0):
    """Values, timestamps and the injected anomalies' (name, start index)."""
    rng = np.random.default_rng(seed)
    n = days * per_day
    t = np.arange(n)
    phase = 2 * np.pi * t / per_day
    spike = int(n * 0.55) + per_day // 3
    shift = int(n * 0.70)
    freq = int(n * 0.85)
    # after the frequency change the daily cycle runs twice as fast (phase continuous)
    phase = np.where(t < freq, phase, 2 * np.pi * freq / per_day + 2 * (phase - 2 * np.pi * freq / per_day))
    v = 50 + 20 * np.sin(phase) + 5 * np.sin(2 * phase) + rng.normal(0, 1.0, n)
    v[spike] += 40
    v[shift:] += 25
    start = dt.datetime(2026, 1, 5)
    stamps = [start + dt.timedelta(days=i / per_day) for i in range(n)]
    return v, stamps, [("spike", spike), ("level shift", shift), ("frequency change", freq)]


def run_htm(values, stamps, per_day, threshold):
    # NAB's HTM detector uses a resolution of about (max - min) / 130: fine enough that a level
    # shift moves the value onto buckets that share few bits with the old ones.
    lo, hi = np.percentile(values[:2 * per_day], [1, 99])
    value_enc = htm.RDSE(size=1000, active_bits=21, resolution=max(1e-3, (hi - lo) / 70), seed=1)
    date_enc = htm.DateEncoder(time_of_day=(21, 6))
    sp = htm.SpatialPooler(value_enc.size + date_enc.size, 2048, potential_radius=10**6,
                           potential_pct=0.85, global_inhibition=True, local_area_density=40 / 2048,
                           syn_perm_active_inc=0.04, syn_perm_inactive_dec=0.006,
                           syn_perm_connected=0.14, boost_strength=0.0, seed=1)
    tm = htm.TemporalMemory(2048, cells_per_column=16, activation_threshold=13, min_threshold=10,
                            max_new_synapse_count=20, initial_permanence=0.21,
                            permanence_increment=0.1, permanence_decrement=0.1,
                            predicted_segment_decrement=0.0, seed=1)
    al = htm.AnomalyLikelihood(learning_period=2 * per_day, estimation_samples=per_day,
                               reestimation_period=per_day // 4)
    raw, lik = np.zeros(len(values)), np.zeros(len(values))
    for i, (v, ts) in enumerate(zip(values, stamps)):
        x = htm.concatenate(value_enc.encode(v), date_enc.encode(ts))
        tm.compute(sp.compute(x, learn=True), learn=True)
        raw[i] = tm.anomaly
        lik[i] = al.anomaly_probability(v, tm.anomaly, ts)
    return raw, lik, lik >= threshold


def run_zscore(values, window, z=4.0):
    scores = np.zeros(len(values))
    for i in range(window, len(values)):
        past = values[i - window:i]
        scores[i] = abs(values[i] - past.mean()) / (past.std() + 1e-9)
    return scores, scores >= z


def delays(alarms, anomalies, n, limit):
    out = []
    for name, start in anomalies:
        hit = np.flatnonzero(alarms[start:min(n, start + limit)])
        out.append((name, start, int(hit[0]) if hit.size else None))
    return out


def plot(path, values, raw, lik, zs, anomalies, threshold):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot")
        return
    fig, ax = plt.subplots(4, 1, figsize=(12, 9), sharex=True)
    ax[0].plot(values, lw=0.8)
    ax[0].set_ylabel("value")
    ax[1].plot(raw, lw=0.6, color="tab:orange")
    ax[1].set_ylabel("raw anomaly")
    ax[2].plot(lik, lw=0.8, color="tab:red")
    ax[2].axhline(threshold, ls="--", color="gray", lw=0.8)
    ax[2].set_ylabel("likelihood")
    ax[3].plot(zs, lw=0.8, color="tab:green")
    ax[3].axhline(4.0, ls="--", color="gray", lw=0.8)
    ax[3].set_ylabel("|z| (rolling)")
    for a in ax:
        for _, s in anomalies:
            a.axvline(s, color="k", lw=0.6, alpha=0.5)
    ax[3].set_xlabel("sample")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"plot: {path}")


def main(argv=None):
    p = tool_parser(__doc__, out="htm_out", quick="a shorter, coarser stream (a few seconds)")
    p.add_argument("--threshold", type=probability, default=0.99, help="likelihood alarm threshold")
    p.add_argument("--no-plot", action="store_true", help="skip the matplotlib figure")
    args = p.parse_args(argv)
    days, per_day = (8, 48) if args.quick else (14, 96)
    out_dir(args.out, "htm_anomaly")
    values, stamps, anomalies = make_stream(days, per_day)
    t0 = time.perf_counter()
    raw, lik, htm_alarm = run_htm(values, stamps, per_day, args.threshold)
    secs = time.perf_counter() - t0
    zs, z_alarm = run_zscore(values, max(8, per_day // 8))
    n = len(values)
    print(f"{n} samples, {per_day} per day; HTM pipeline {1e3 * secs / n:.2f} ms/sample")
    first = anomalies[0][1]
    probation = 3 * per_day
    print(f"false alarms before the first anomaly (after sample {probation}): "
          f"HTM {int(htm_alarm[probation:first].sum())}, z-score {int(z_alarm[probation:first].sum())}")
    print(f"{'anomaly':<18}{'start':>6}{'HTM delay':>11}{'z-score delay':>15}")
    rows = []
    for (name, start, dh), (_, _, dz) in zip(delays(htm_alarm, anomalies, n, per_day),
                                             delays(z_alarm, anomalies, n, per_day)):
        fmt = lambda d: "missed" if d is None else str(d)
        print(f"{name:<18}{start:>6}{fmt(dh):>11}{fmt(dz):>15}")
        rows.append((name, start, dh, dz))
    with open(os.path.join(args.out, "htm_anomaly.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sample", "value", "raw_anomaly", "likelihood", "zscore"])
        for i in range(n):
            w.writerow([i, f"{values[i]:.4f}", f"{raw[i]:.4f}", f"{lik[i]:.6f}", f"{zs[i]:.4f}"])
    if not args.no_plot:
        plot(os.path.join(args.out, "htm_anomaly.png"), values, raw, lik, zs, anomalies, args.threshold)
    return rows


if __name__ == "__main__":
    sys.exit(run(main))
