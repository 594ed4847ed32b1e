#!/usr/bin/env python3
"""Plots the soak curves written by tests/reliability/test_soak.py (LAMINA_SOAK_CSV) into one PNG:
resident memory (RSS) and the allocator's live bytes against training step for each workload, and
prints the README table (RSS after warm-up, at the end, growth per 1,000 steps).

    tools/soak_plot.py soak.csv [-o docs/images/soak_rss.png]      (README, "Reliability")
"""
from __future__ import annotations

import argparse
import csv
from collections import defaultdict

TITLES = {"lenet5": "LeNet-5", "lstm": "LSTM", "dqn": "DQN agent", "create_destroy": "create/destroy models"}


def read(path: str) -> dict:
    """{name: [(step, rss_mb, allocated_mb), ...]} in file order."""
    runs: dict = defaultdict(list)
    with open(path) as f:
        for row in csv.DictReader(f):
            runs[row["name"]].append((int(row["step"]), float(row["rss_mb"]), float(row["allocated_mb"])))
    return dict(runs)


def summary(rows: list) -> tuple:
    """(RSS after warm-up, RSS at the end, growth per 1,000 steps) in MB; warm-up is the first fifth,
    as in the test."""
    last = rows[-1][0]
    warm = next(r for r in rows if r[0] >= last // 5)
    per_k = (rows[-1][1] - warm[1]) / max(last - warm[0], 1) * 1000
    return warm[1], rows[-1][1], per_k


def plot(runs: dict, out: str) -> None:
    import matplotlib  # only here: lamina and the tests never need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rss, ax_live) = plt.subplots(1, 2, figsize=(11, 4))
    for name, rows in runs.items():
        if name == "create_destroy":
            continue  # its x axis counts models, not steps: the table carries it
        steps = [r[0] for r in rows]
        ax_rss.plot(steps, [r[1] for r in rows], label=TITLES.get(name, name))
        ax_live.plot(steps, [r[2] for r in rows], label=TITLES.get(name, name))
    ax_rss.set(title="Resident memory (process, cumulative)", xlabel="training step", ylabel="RSS (MB)")
    ax_live.set(title="lamina.memory_stats() allocated", xlabel="training step", ylabel="live bytes (MB)")
    lo = min(r[1] for rows in runs.values() for r in rows)
    hi = max(r[1] for rows in runs.values() for r in rows)
    ax_rss.set_ylim(lo - 8, hi + 8)  # a flat line should look flat, not magnified noise
    for ax in (ax_rss, ax_live):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("-o", "--out", default="docs/images/soak_rss.png")
    args = ap.parse_args()
    runs = read(args.csv)
    plot(runs, args.out)
    print("| Workload | Steps | RSS after warm-up (MB) | RSS at end (MB) | Growth per 1,000 steps (MB) |")
    print("|---|---|---|---|---|")
    for name, rows in runs.items():
        w, e, g = summary(rows)
        print(f"| {TITLES.get(name, name)} | {rows[-1][0]:,} | {w:.1f} | {e:.1f} | {g:+.3f} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
