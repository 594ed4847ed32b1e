"""Where a benchmark ran: the CPU model and its ISA flags, the lamina ISA level in use, threads,
the BLAS kernel and the measured single-core FMA peak (lamina._C.fma_peak), so a GFLOP/s figure
can be read as a fraction of what this core can do. Used by compare.py; importable without torch.
"""
from __future__ import annotations

import os
import platform

# cpuinfo flags worth naming in a header (in this order), and the flags each lamina ISA level
# needs: default = x86-64-v2, avx2 = x86-64-v3, avx512 = x86-64-v4 (the psABI level definitions).
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl",
             "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile")
LEVELS = ("default", "avx2", "avx512")
LEVEL_FLAGS = {
    "default": ("sse4_2", "popcnt", "ssse3", "cx16", "lahf_lm"),
    "avx2": ("avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm", "xsave"),
    "avx512": ("avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512cd"),
}


def cpuinfo(path: str = "/proc/cpuinfo") -> tuple[str, set]:
    """(model name, set of flags) of the first CPU in /proc/cpuinfo; platform's guess elsewhere."""
    model, flags = "", set()
    try:
        with open(path) as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = val.strip()
                elif key == "flags" and not flags:
                    flags = set(val.split())
                if model and flags:
                    break
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags


def supported_levels(flags: set) -> list:
    """The lamina ISA levels this CPU can run, lowest first (each level includes the ones below)."""
    out = []
    for level in LEVELS:
        if not flags or not all(f in flags for f in LEVEL_FLAGS[level]):
            break
        out.append(level)
    return out


def missing_flags(level: str, flags: set) -> list:
    """Flags of `level` (and the levels below it) this CPU lacks."""
    need = [f for lv in LEVELS[: LEVELS.index(level) + 1] for f in LEVEL_FLAGS[lv]]
    return [f for f in need if f not in flags]


def _backend(lamina, fn: str):
    """lamina.backends.cpu.<fn>() or None: builds from before CPU dispatch have no backends.cpu,
    and a single -march=native module has no level name."""
    try:
        return getattr(lamina.backends.cpu, fn)()
    except Exception:
        return None


def built_levels(lamina) -> list:
    """The ISA levels this lamina holds a module for, lowest first (lower case, as
    LAMINA_CPU_CAPABILITY takes them); ["native"] for one -march=native module."""
    built = _backend(lamina, "built_capabilities")
    return [str(b).lower() for b in built] if built else ["native"]


def capability(lamina) -> str:
    """The ISA level lamina runs, lower case: lamina.backends.cpu.get_cpu_capability() where the
    build has runtime dispatch; otherwise 'native build' (one module, compiled for the build
    machine)."""
    if built_levels(lamina) == ["native"]:
        return "native build"
    cap = _backend(lamina, "get_cpu_capability")
    return str(cap).lower() if cap else "native build"


def fma_peak(lamina, seconds: float = 0.2):
    """lamina._C.fma_peak(seconds) as a dict, or None when this build has no probe."""
    probe = getattr(lamina._C, "fma_peak", None)
    return dict(probe(seconds)) if probe else None


def gemm_kernel_peak(lamina, seconds: float = 0.2):
    """lamina._C.gemm_kernel_peak(seconds) as a dict (the SGEMM micro-kernel on L1-resident panels:
    what lamina's SGEMM could reach on this core), or None when this build has no such probe."""
    probe = getattr(lamina._C, "gemm_kernel_peak", None)
    return dict(probe(seconds)) if probe else None


def host_info(lamina, probe_seconds: float = 0.2) -> dict:
    """Everything a benchmark header names. probe_seconds=0 skips the (timed) FMA probe."""
    model, flags = cpuinfo()
    levels = _backend(lamina, "get_supported_capabilities")  # cpuid + OS support, where built
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        affinity = os.cpu_count()
    info = dict(
        cpu_model=model,
        isa=[f for f in ISA_FLAGS if f in flags],
        levels_supported=[str(v).lower() for v in levels] if levels else supported_levels(flags),
        levels_built=built_levels(lamina),
        capability=capability(lamina),
        compiled_level=None,  # filled in by the probe, which knows what its module was compiled for
        module=getattr(lamina._C, "__file__", None),
        threads=lamina.get_num_threads(),
        cpus_usable=affinity,
        cpu_count=os.cpu_count(),
        blas_corename=lamina.blas_info()["corename"],
        fma_peak=None,
        gemm_kernel_peak=None,
    )
    if probe_seconds > 0:
        info["fma_peak"] = fma_peak(lamina, probe_seconds)
        info["gemm_kernel_peak"] = gemm_kernel_peak(lamina, probe_seconds)
        if info["fma_peak"]:
            info["compiled_level"] = info["fma_peak"].get("level")
    return info


def peak_per_thread(info: dict, statistic: str = "best"):
    """The measured single-thread peak in GFLOP/s, or None: the probe's best chunk, or with
    statistic="median" its median chunk (what a median GFLOP/s figure is divided by)."""
    p = info.get("fma_peak")
    if not p:
        return None
    return p["median_gflops"] if statistic == "median" else p["gflops"]


def header_lines(info: dict) -> list:
    """The header as printed lines."""
    lines = [f"CPU: {info['cpu_model']}  ({info['cpus_usable']} usable of {info['cpu_count']} CPUs)",
             f"ISA: {' '.join(info['isa']) or '?'}  -> lamina levels this CPU runs: "
             f"{', '.join(info['levels_supported']) or '?'} (built: {', '.join(info['levels_built'])})"]
    cap = info["capability"]
    if info.get("compiled_level") and info["compiled_level"] not in cap:
        cap += f" (compiled for {info['compiled_level']})"
    thr = f"threads {info['threads']} by default"
    if info.get("threads_run"):
        thr = f"threads {','.join(map(str, info['threads_run']))} in this run ({info['threads']} by default)"
    lines.append(f"lamina capability: {cap}; {thr}; OpenBLAS kernel "
                 f"{info['blas_corename']}; module {info['module']}")
    p = info.get("fma_peak")
    if p:
        kind = "FMA" if p["fused"] else "mul+add"
        lines.append(f"measured {kind} peak, 1 thread: {p['gflops']:.1f} GFLOP/s (median "
                     f"{p['median_gflops']:.1f}; {p['isa']}, {p['accumulators']} chains, "
                     f"{p['chunks']} chunks); % peak = median GFLOP/s / (median chunk x threads)")
    else:
        lines.append("measured FMA peak: not measured (probe skipped, or this build has no _C.fma_peak)")
    g = info.get("gemm_kernel_peak")
    if g:
        share = f" = {100 * g['median_gflops'] / p['median_gflops']:.0f}% of the FMA median" if p else ""
        lines.append(f"SGEMM micro-kernel ({g['mr']}x{g['nr']} tile, kc {g['kc']}, panels in L1), 1 thread: "
                     f"{g['gflops']:.1f} GFLOP/s (median {g['median_gflops']:.1f}{share}): the ceiling of "
                     "lamina's SGEMM on this core")
    return lines
