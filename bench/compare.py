"""Side-by-side benchmark of lamina against PyTorch (CPU, float32) on the workloads in
bench/workloads/: each is checked once against PyTorch, then timed in the same process with
lamina and PyTorch repetitions alternating. Prints a table and writes JSON; exits 1 when a check
fails. Training rows check the step they time: from identical parameters and data, the change
one step makes to every parameter must match PyTorch's (so a skipped update fails).
The header says where it ran (bench/hostinfo.py): CPU model, ISA flags, lamina's ISA level, the
measured single-core FMA peak; GFLOP/s rows show their fraction of it. --capability all runs the
whole benchmark once per ISA level this CPU supports, each in a subprocess.

    LAMINA_EXT_DIR=build/dev-bench PYTHONPATH=python .venv/bin/python bench/compare.py --threads 1
"""
from __future__ import annotations

import os
import sys

# OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE once, when the library loads; this machine's
# environment pins an AVX2 kernel that halves its speed. So before numpy, lamina or torch is
# imported, re-exec this script once without them (for this process only; the marker records
# what was removed, and stops a second re-exec). Only when run as a script: importing it (tests)
# must not replace the importing process.
_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_MARKER = "LAMINA_COMPARE_REEXEC"
if __name__ == "__main__" and _MARKER not in os.environ and "--keep-blas-env" not in sys.argv:
    removed = ";".join(f"{k}={os.environ[k]}" for k in _BLAS_VARS if k in os.environ)
    if removed:
        env = {k: v for k, v in os.environ.items() if k not in _BLAS_VARS}
        env[_MARKER] = removed
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402,F401  (loaded before lamina, as a user would)
import lamina  # noqa: E402
import torch  # noqa: E402

import hostinfo  # noqa: E402
import workloads  # noqa: E402

TOL = 1e-3           # float32: max |lamina - torch| / max |torch| per compared tensor
REP_TARGET_S = 2e-3  # a repetition runs a workload `inner` times so it lasts at least this long


def torch_blas_line() -> str:
    """torch's BLAS and conv backends, from torch.__config__.show() (informational only)."""
    try:
        cfg = torch.__config__.show()
        cap = torch.backends.cpu.get_cpu_capability()
    except Exception:  # pragma: no cover
        return "?"
    parts = []
    for tok in cfg.replace("\n", ",").split(","):
        tok = tok.strip()
        for key in ("BLAS_INFO=", "Math Kernel Library Version", "MKL-DNN v"):
            if key in tok:
                parts.append(tok[tok.index(key):].split(" for ")[0].split(" (")[0].replace(
                    "Math Kernel Library Version ", "MKL ").replace("MKL-DNN ", "oneDNN "))
    return ", ".join(parts + [f"CPU capability {cap}"])


CLOCK = time.perf_counter  # --clock cpu: time.process_time (1 thread only; see main)


def time_calls(fn, inner: int) -> float:
    t0 = CLOCK()
    for _ in range(inner):
        fn()
    return (CLOCK() - t0) / inner


# Workload groups timed in warm blocks (time_block) instead of alternating single reps: the GEMM
# rows, whose %peak is the number they exist for. Alternating lamina and PyTorch every call makes
# each call start with the caches the other library just filled (512^3: ~5% slower than warm,
# both libraries alike), which measures the hand-over, not the GEMM.
WARM_GROUPS = ("gemm",)
BLOCK_TARGET_S = 20e-3  # a warm block times calls for at least this long (and at least 3 calls)


def time_block(fn, calls: int) -> list:
    """One warm block: one untimed call (it takes the cache misses the other library left), then
    `calls` calls timed one by one. Returns their times (seconds)."""
    fn()
    out = []
    for _ in range(calls):
        t0 = CLOCK()
        fn()
        out.append(CLOCK() - t0)
    return out


def run_workload(w, threads: int, args) -> dict:
    row = dict(name=w.name, group=w.group, mode=w.mode, desc=w.desc, threads=threads, flops=w.flops,
               steps=w.steps, checks=[], ok=True, error=None)
    try:
        case = w.build(workloads.Ctx(lamina, torch, w.name))
        checks = case.check()
    except Exception as e:  # an op missing or raising: report it, keep going
        row.update(ok=False, error=f"{type(e).__name__}: {e}")
        print(f"\n!!! {w.name}: ERROR while building/checking: {row['error']}", flush=True)
        if args.verbose:
            traceback.print_exc()
        return row
    for what, err in checks:
        ok = err <= TOL
        row["checks"].append(dict(what=what, rel_err=err, ok=ok))
        if not ok:
            row["ok"] = False
    if not row["ok"]:
        bad = ", ".join(f"{c['what']} rel err {c['rel_err']:.2e}" for c in row["checks"] if not c["ok"])
        print(f"\n!!! MISMATCH {w.name} (threads={threads}): {bad} (tolerance {TOL:g})", flush=True)

    try:
        # Warm-up (first calls pay lazy initialisation), then size a repetition.
        for _ in range(args.warmup):
            case.lamina()
            case.torch()
        one = min(time_calls(case.lamina, 1), time_calls(case.torch, 1))
        warm = w.group in WARM_GROUPS
        target = BLOCK_TARGET_S if warm else REP_TARGET_S
        inner = max(3 if warm else 1, min(10000, math.ceil(target / max(one, 1e-7))))
        gc.collect()
        tl, tt = [], []  # seconds per call: one per rep, or one per timed call of a warm block
        max_reps = max(args.reps, args.max_reps)
        t_end = time.perf_counter() + args.max_time  # a guard for a machine that is suddenly busy
        reps = 0
        while reps < 3 or (reps < args.reps or min(sum(tl), sum(tt)) < args.min_time) and (
                reps < max_reps and time.perf_counter() < t_end):
            if warm:  # lamina block, torch block, lamina block, ...
                tl += time_block(case.lamina, inner)
                tt += time_block(case.torch, inner)
            else:  # lamina rep, torch rep, lamina rep, ...
                tl.append(time_calls(case.lamina, inner))
                tt.append(time_calls(case.torch, inner))
            reps += 1
    except Exception as e:
        row.update(ok=False, error=f"{type(e).__name__}: {e}")
        print(f"\n!!! {w.name}: ERROR while timing: {row['error']}", flush=True)
        if args.verbose:
            traceback.print_exc()
        return row
    ml, mt = statistics.median(tl), statistics.median(tt)
    row.update(reps=reps, inner=inner, timing="warm blocks" if warm else "alternating reps",
               lamina_ms=ml * 1e3, torch_ms=mt * 1e3, ratio=ml / mt,
               lamina_min_ms=min(tl) * 1e3, torch_min_ms=min(tt) * 1e3, ratio_min=min(tl) / min(tt))
    if w.flops:
        row.update(lamina_gflops=w.flops / ml / 1e9, torch_gflops=w.flops / mt / 1e9,
                   lamina_best_gflops=w.flops / min(tl) / 1e9, torch_best_gflops=w.flops / min(tt) / 1e9)
    if w.steps:
        row.update(lamina_steps_s=w.steps / ml, torch_steps_s=w.steps / mt)
    return row


def fmt_rate(r: dict) -> str:
    if "lamina_gflops" in r:
        return f"{r['lamina_gflops']:7.1f} / {r['torch_gflops']:7.1f} GFLOP/s"
    if "lamina_steps_s" in r:
        return f"{r['lamina_steps_s']:7.1f} / {r['torch_steps_s']:7.1f} steps/s"
    return ""


def fmt_ms(ms: float) -> str:
    return f"{ms:10.4f}" if ms < 1 else f"{ms:10.3f}"


def add_pct_peak(row: dict, peak, best_peak=None) -> None:
    """GFLOP/s as a percentage of the measured single-core peak times the row's thread count, the
    same statistic on both sides: `peak` is the FMA probe's median chunk, against the row's median
    GFLOP/s (the %peak column); `best_peak`, the probe's best chunk, against the row's best call
    or rep (JSON only: *_pct_peak_best)."""
    if peak and "lamina_gflops" in row:
        full = peak * row["threads"]
        row.update(lamina_pct_peak=100 * row["lamina_gflops"] / full,
                   torch_pct_peak=100 * row["torch_gflops"] / full)
    if best_peak and "lamina_best_gflops" in row:
        full = best_peak * row["threads"]
        row.update(lamina_pct_peak_best=100 * row["lamina_best_gflops"] / full,
                   torch_pct_peak_best=100 * row["torch_best_gflops"] / full)


def fmt_pct(r: dict) -> str:
    if "lamina_pct_peak" not in r:
        return ""
    return f"{r['lamina_pct_peak']:3.0f}/{r['torch_pct_peak']:3.0f}"


def print_table(rows: list) -> None:
    wn = max([len(r["name"]) for r in rows] + [8])
    head = (f"{'workload':<{wn}} {'thr':>3} {'lamina ms':>10} {'torch ms':>10} {'ratio':>6} {'(min)':>6}  "
            f"{'lamina / torch rate':<32} {'%peak':>7} check")
    print("\n" + head)
    print("-" * len(head))
    for r in rows:
        if r.get("error") and "lamina_ms" not in r:
            print(f"{r['name']:<{wn}} {r['threads']:>3} {'ERROR':>10} {'':>10} {'':>13}  {'':<32} "
                  f"{'':>7} !!! {r['error'][:80]}")
            continue
        worst = max((c["rel_err"] for c in r["checks"]), default=0.0)
        chk = f"ok {worst:.0e}" if r["ok"] else f"!!! MISMATCH {worst:.1e}"
        print(f"{r['name']:<{wn}} {r['threads']:>3} {fmt_ms(r['lamina_ms'])} {fmt_ms(r['torch_ms'])} "
              f"{r['ratio']:6.2f} {r['ratio_min']:6.2f}  {fmt_rate(r):<32} {fmt_pct(r):>7} {chk}")
    print("(median ms per call; ratio = lamina / PyTorch medians, below 1 is faster; (min) = the same "
          "for the fastest reps;\n GFLOP/s counts 2 per multiply-add, fwd+bwd = 3x forward; "
          "%peak = lamina/torch median GFLOP/s as % of the FMA\n probe's median chunk x threads; "
          "check = max rel. error vs PyTorch; sgemm rows are timed in warm blocks per library\n "
          "(one untimed call, then calls timed one by one; the median is over those calls), "
          "the other rows in alternating reps)")


def strip_capability(argv: list) -> list:
    """argv without --capability X / --capability=X (the children get LAMINA_CPU_CAPABILITY)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--capability":
            skip = True
        elif not a.startswith("--capability="):
            out.append(a)
    return out


# What a CPU whose best is `level` would run: PyTorch's own dispatch (ATen), its BLAS (MKL) and
# conv library (oneDNN) and lamina's OpenBLAS each pick kernels from cpuid, so forcing only
# lamina's level on a bigger CPU would compare lamina-at-AVX2 with PyTorch-at-AVX-512.
_HOLD = {
    "avx2": dict(ATEN_CPU_CAPABILITY="avx2", MKL_ENABLE_INSTRUCTIONS="AVX2", ONEDNN_MAX_CPU_ISA="AVX2",
                 OPENBLAS_CORETYPE="Haswell"),
    "default": dict(ATEN_CPU_CAPABILITY="default", MKL_ENABLE_INSTRUCTIONS="SSE4_2",
                    ONEDNN_MAX_CPU_ISA="SSE41", OPENBLAS_CORETYPE="Nehalem"),
}


def hold_env(level: str, have: list) -> dict:
    """Environment that holds PyTorch, MKL, oneDNN and OpenBLAS to `level` when the CPU has more
    (empty at the CPU's own best level)."""
    if not have or level == have[-1]:
        return {}
    return dict(_HOLD.get(level, {}))


def run_levels(args) -> int:
    """--capability: this script once per requested ISA level in a subprocess with
    LAMINA_CPU_CAPABILITY set (one header and table each), levels the CPU lacks skipped with a
    line saying so; then one JSON holding every level. Returns the worst exit status."""
    _, flags = hostinfo.cpuinfo()
    have = hostinfo.host_info(lamina, probe_seconds=0)["levels_supported"]
    built = hostinfo.built_levels(lamina)
    want = list(hostinfo.LEVELS) if args.capability == "all" else [args.capability]
    base = Path(args.json)
    child_argv = strip_capability(sys.argv[1:])
    levels, skipped, summary, rc = {}, {}, [], 0
    for level in want:
        if level not in have:
            skipped[level] = "this CPU lacks " + " ".join(hostinfo.missing_flags(level, flags))
            print(f"\n=== ISA level {level}: skipped, {skipped[level]}", flush=True)
            continue
        if level not in built:
            skipped[level] = f"not built (built: {', '.join(built)}; tools/dev.sh: LAMINA_CPU_VARIANTS=all)"
            print(f"\n=== ISA level {level}: skipped, {skipped[level]}", flush=True)
            continue
        jp = base.with_name(f"{base.stem}.{level}{base.suffix or '.json'}")
        print(f"\n=== ISA level {level} (LAMINA_CPU_CAPABILITY={level}) ===", flush=True)
        env = dict(os.environ, LAMINA_CPU_CAPABILITY=level)
        held = hold_env(level, have) if not args.lamina_only else {}
        if held:
            print("    below this CPU's best level, so both sides are held to it, as on a CPU that has no "
                  "more: " + " ".join(f"{k}={v}" for k, v in held.items()), flush=True)
            env.update(held)
        # The child must not re-exec to strip OPENBLAS_CORETYPE again (the held one stays).
        env[_MARKER] = os.environ.get(_MARKER, "")
        r = subprocess.call([sys.executable, os.path.abspath(__file__)] + child_argv + ["--json", str(jp)],
                            env=env)
        rc = max(rc, r)
        try:
            data = json.loads(jp.read_text())
        except (OSError, ValueError) as e:
            print(f"!!! level {level}: no results ({e})")
            rc = max(rc, 1)
            continue
        levels[level] = data
        host = data["meta"].get("host", {})
        if host.get("capability") != level:
            print(f"!!! level {level}: lamina ran at capability {host.get('capability')!r} instead")
        ok = [x for x in data["results"] if "ratio" in x]
        geo = math.exp(statistics.fmean(math.log(x["ratio"]) for x in ok)) if ok else float("nan")
        fp = host.get("fma_peak") or {}
        summary.append((level, host.get("capability"), fp.get("median_gflops"), fp.get("gflops"), len(ok), geo))
    print("\nlevel    ran as        1-thr peak GFLOP/s (median/best)  rows  geomean lamina/torch")
    for level, ran, med, best, n, geo in summary:
        peak_s = "?" if best is None else f"{med:.1f} / {best:.1f}"
        print(f"{level:<8} {str(ran):<13} {peak_s:>32}  {n:>4}  {geo:8.3f}")
    for level, why in skipped.items():
        print(f"{level:<8} skipped: {why}")
    meta = dict(capability_requested=args.capability, levels_supported=have, skipped=skipped,
                argv=sys.argv[1:], time=time.strftime("%Y-%m-%dT%H:%M:%S"))
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(json.dumps(dict(meta=meta, levels=levels), indent=1, default=float) + "\n")
    print(f"wrote {base}")
    return rc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", default="1", help="thread count(s), e.g. 1 or 1,2 (both frameworks)")
    p.add_argument("--filter", action="append", default=[], metavar="SUBSTR",
                   help="run workloads whose name contains SUBSTR (repeatable; case-insensitive)")
    p.add_argument("--reps", type=int, default=7, help="minimum timed repetitions per framework")
    p.add_argument("--max-reps", type=int, default=400, help="cap on repetitions per framework")
    p.add_argument("--min-time", type=float, default=1.0,
                   help="minimum seconds of timed repetitions per framework and workload")
    p.add_argument("--max-time", type=float, default=20.0,
                   help="stop repeating a workload after this many seconds (at least 3 reps each)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls per framework first")
    p.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "compare.json"))
    p.add_argument("--quick", action="store_true", help="a fast smoke run: 3 reps, 0.05 s, 1 warm-up")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--capability", choices=("all",) + hostinfo.LEVELS,
                   help="run once per ISA level (all: every level this CPU runs), each in a subprocess "
                        "with LAMINA_CPU_CAPABILITY set; default: the level lamina picks, in this process")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: time by the process's CPU time, so other processes taking the core do "
                        "not count (a busy host); only with --threads 1")
    p.add_argument("--probe-seconds", type=float, default=0.3,
                   help="how long the FMA peak probe runs (0: skip it and the %%peak column)")
    p.add_argument("--lamina-only", action="store_true",
                   help="with --capability below the CPU's best: hold only lamina to that level (by "
                        "default PyTorch, MKL, oneDNN and OpenBLAS are held to it too, as on a CPU "
                        "that has no more)")
    p.add_argument("--keep-blas-env", action="store_true",
                   help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE as the environment sets them")
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks for errors")
    args = p.parse_args()
    if args.quick:
        args.reps, args.min_time, args.warmup = 3, 0.05, 1
    threads = [int(t) for t in str(args.threads).split(",") if t.strip()]
    if args.clock == "cpu":
        if threads != [1]:
            p.error("--clock cpu needs --threads 1 (CPU time adds up over threads)")
        global CLOCK
        CLOCK = time.process_time
    sel = workloads.select(args.filter)
    if args.list:
        for w in sel:
            print(f"{w.name:<40} {w.group:<9} {w.desc}")
        return 0
    if not sel:
        print(f"no workload matches {args.filter}", file=sys.stderr)
        return 2
    if args.capability:
        if hostinfo.capability(lamina) != "native build":
            return run_levels(args)
        print(f"--capability {args.capability}: this lamina build has no runtime dispatch (one _C module, "
              f"{lamina._C.__file__}), so LAMINA_CPU_CAPABILITY changes nothing; running that build once. "
              f"To measure another level, build it and point LAMINA_EXT_DIR at it.")

    removed = os.environ.get(_MARKER, "")
    blas = lamina.blas_info()
    env_note = f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    if removed:
        env_note += f"; the environment's {removed} unset for this run"
    info = hostinfo.host_info(lamina, args.probe_seconds)
    info["threads_run"] = threads
    for line in hostinfo.header_lines(info):
        print(line)
    peak, best_peak = hostinfo.peak_per_thread(info, "median"), hostinfo.peak_per_thread(info)
    print(f"lamina {getattr(lamina, '__version__', '?')}: OpenBLAS corename={blas['corename']}  ({env_note})")
    print(f"torch {torch.__version__}: {torch_blas_line()}")
    print(f"{len(sel)} workloads x threads {threads}; reps>={args.reps}, min-time {args.min_time} s, "
          f"warm-up {args.warmup}, {args.clock} clock", flush=True)

    rows = []
    t_start = time.time()
    for n in threads:
        lamina.set_num_threads(n)
        torch.set_num_threads(n)
        for w in sel:
            print(f"  [{n} thr] {w.name} ...", end="", flush=True)
            t0 = time.time()
            r = run_workload(w, n, args)
            add_pct_peak(r, peak, best_peak)
            rows.append(r)
            print(f" {time.time() - t0:.1f} s", flush=True)
    print_table(rows)
    bad = [r["name"] for r in rows if not r["ok"]]
    if bad:
        print(f"\n!!! {len(bad)} row(s) failed the check against PyTorch or raised: {', '.join(bad)}")
    print(f"total {time.time() - t_start:.0f} s")

    meta = dict(lamina_version=getattr(lamina, "__version__", None), torch_version=torch.__version__,
                corename=blas["corename"], torch_blas=torch_blas_line(), blas_env_removed=removed or None,
                OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE"), threads=threads, argv=sys.argv[1:],
                reps=args.reps, min_time=args.min_time, warmup=args.warmup, tolerance=TOL, clock=args.clock,
                python=platform.python_version(), machine=platform.machine(), host=info,
                time=time.strftime("%Y-%m-%dT%H:%M:%S"))
    jp = Path(args.json)
    jp.parent.mkdir(parents=True, exist_ok=True)
    jp.write_text(json.dumps(dict(meta=meta, results=rows), indent=1, default=float) + "\n")
    print(f"wrote {jp}")
    return 1 if bad else 0  # a failed check (e.g. a training step that changed nothing) fails the run


if __name__ == "__main__":
    sys.exit(main())
