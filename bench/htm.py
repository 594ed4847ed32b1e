"""HTM benchmark: time per step of SpatialPooler + TemporalMemory at 2048 columns x 32 cells with
40 active columns and learning on, at 1 and 2 threads, and memory after 10,000 steps of a periodic
stream (RDSE-encoded noisy sine, 1000 input bits).

    python bench/htm.py                    # 10,000 steps per thread count
    python bench/htm.py --steps 2000 --json out.json

Reports the median and mean milliseconds per step over the steps after a warm-up of 10% (the
memory keeps growing while it learns, so the mean of a longer run is the honest figure), split
into SP and TM, plus the TM's segment/synapse counts and heap bytes and the process RSS growth.
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import lamina
import numpy as np
from lamina import htm


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:
        return 0


def run(steps: int, threads: int) -> dict:
    lamina.set_num_threads(threads)
    enc = htm.RDSE(size=1000, active_bits=41, resolution=0.5, seed=1)
    sp = htm.SpatialPooler(1000, 2048, potential_radius=1000, potential_pct=0.85,
                           global_inhibition=True, local_area_density=40 / 2048,
                           syn_perm_active_inc=0.04, syn_perm_inactive_dec=0.006,
                           syn_perm_connected=0.14, boost_strength=3.0, seed=1)
    tm = htm.TemporalMemory(2048, cells_per_column=32, seed=1)
    rng = np.random.default_rng(0)
    values = 50 + 20 * np.sin(2 * np.pi * np.arange(steps) / 96) + rng.normal(0, 1, steps)
    inputs = [enc.encode(v) for v in values]  # encoding is not part of the timed step
    rss0 = rss_bytes()
    t_sp = np.zeros(steps)
    t_tm = np.zeros(steps)
    active = np.zeros(steps)
    for i, x in enumerate(inputs):
        t0 = time.perf_counter()
        cols = sp.compute(x, learn=True)
        t1 = time.perf_counter()
        tm.compute(cols, learn=True)
        t2 = time.perf_counter()
        t_sp[i], t_tm[i] = t1 - t0, t2 - t1
        active[i] = cols.sum()
    warm = steps // 10
    tot = (t_sp + t_tm)[warm:] * 1e3
    return {"threads": threads, "steps": steps,
            "ms_per_step_median": float(np.median(tot)), "ms_per_step_mean": float(tot.mean()),
            "sp_ms_mean": float(t_sp[warm:].mean() * 1e3), "tm_ms_mean": float(t_tm[warm:].mean() * 1e3),
            "active_columns_mean": float(active.mean()),
            "segments": tm.num_segments(), "synapses": tm.num_synapses(),
            "tm_heap_mb": tm.memory_bytes() / 2**20,
            "sp_state_mb": (sp.num_columns * sp.num_inputs * 5) / 2**20,  # float32 perms + uint8 pool
            "rss_growth_mb": (rss_bytes() - rss0) / 2**20}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    isa = lamina._C._build_info[0]
    print(f"lamina HTM benchmark: {platform.processor() or platform.machine()}, CPU variant {isa}")
    rows = [run(args.steps, int(t)) for t in args.threads.split(",")]
    print(f"{'threads':>7} {'median ms':>10} {'mean ms':>8} {'SP ms':>7} {'TM ms':>7} {'segments':>9} "
          f"{'synapses':>9} {'TM MB':>6} {'SP MB':>6} {'RSS+ MB':>8}")
    for r in rows:
        print(f"{r['threads']:>7} {r['ms_per_step_median']:>10.3f} {r['ms_per_step_mean']:>8.3f} "
              f"{r['sp_ms_mean']:>7.3f} {r['tm_ms_mean']:>7.3f} {r['segments']:>9} {r['synapses']:>9} "
              f"{r['tm_heap_mb']:>6.1f} {r['sp_state_mb']:>6.1f} {r['rss_growth_mb']:>8.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"isa": isa, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
