"""CPU dispatch: the compiled core exists once per x86-64 ISA level (lamina._C_default for
x86-64-v2, _C_avx2 for x86-64-v3, _C_avx512 for x86-64-v4; cmake/cpu_variants.cmake), and ``load()``
imports the best one this CPU runs (or the lower one LAMINA_CPU_CAPABILITY asks for) as
``lamina._C``, before anything else imports it. Imports nothing from lamina by name at the top:
the modules it loads are found by computed names.
"""
from __future__ import annotations

import glob
import importlib
import importlib.util
import os
import sys

LEVELS = ("default", "avx2", "avx512")  # lowest first
X86_LEVEL = {"default": 2, "avx2": 3, "avx512": 4}  # x86-64-vN each module was compiled for
PYTORCH_NAME = {"default": "DEFAULT", "avx2": "AVX2", "avx512": "AVX512"}
DESCRIPTION = {"default": "x86-64-v2", "avx2": "x86-64-v3: AVX2, FMA", "avx512": "x86-64-v4: AVX-512 F/BW/CD/DQ/VL"}
ENV = "LAMINA_CPU_CAPABILITY"

# Filled by load(): what was found and chosen (lamina.backends.cpu and show_config read it).
state: dict = {"chosen": None, "built": (), "module": None, "cpu_level": None, "features": {}, "requested": None}


def _load_from(name: str, path: str):
    # Dev builds (LAMINA_EXT_DIR): load that file explicitly; an editable install's import hook
    # would otherwise hand out the installed module of the same name.
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


def _ext_file(ext_dir: str, stem: str):
    found = sorted(glob.glob(os.path.join(ext_dir, stem + ".*.so")) + glob.glob(os.path.join(ext_dir, stem + ".*.pyd")))
    return found[0] if found else None


def _proc_cpuinfo_level() -> tuple:
    """(level, features) from the kernel's CPU flags: the fallback when lamina._cpuinfo is absent
    (a build from before CPU dispatch)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), [])
    except OSError:
        return 0, {}
    have = set(flags)
    names = {"sse3": "pni", "sse4.1": "sse4_1", "sse4.2": "sse4_2", "bmi": "bmi1"}
    feats = {k: names.get(k, k) in have for k in (
        "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "avx2", "fma", "bmi", "bmi2", "f16c",
        "movbe", "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")}
    v2 = all(feats[k] for k in ("sse3", "ssse3", "sse4.1", "sse4.2", "popcnt"))
    v3 = v2 and all(feats[k] for k in ("avx", "avx2", "fma", "bmi", "bmi2", "f16c", "movbe"))
    v4 = v3 and all(feats[k] for k in ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"))
    return (4 if v4 else 3 if v3 else 2 if v2 else 0), feats


def _cpu(package: str, ext_dir):
    path = _ext_file(ext_dir, "_cpuinfo") if ext_dir else None
    try:
        mod = _load_from(package + "._cpuinfo", path) if path else importlib.import_module(package + "._cpuinfo")
    except ImportError:
        return _proc_cpuinfo_level()
    return int(mod.level()), dict(mod.features())


def _built(package: str, ext_dir) -> dict:
    """{variant: (module name, file path or None when found by import)} for the levels built,
    lowest first; else {"native": ...} for a LAMINA_NATIVE build or a lone pre-dispatch ``_C``."""
    def find(stem):
        if ext_dir:
            p = _ext_file(ext_dir, stem)
            return (f"{package}.{stem}", p) if p else None
        return (f"{package}.{stem}", None) if importlib.util.find_spec(f"{package}.{stem}") else None

    out = {v: f for v in LEVELS if (f := find("_C_" + v))}
    if not out:
        f = find("_C_native") or find("_C")
        out = {"native": f} if f else {}
    if not out:
        where = f"LAMINA_EXT_DIR={ext_dir!r}" if ext_dir else package
        raise ImportError(f"{where}: no compiled core (lamina._C_default, _C_avx2 or _C_avx512) found; "
                          f"{'build it with tools/dev.sh' if ext_dir else 'reinstall lamina (pip install .)'}")
    return out


def _choose(built: dict, cpu_level: int, requested) -> str:
    supported = [v for v in LEVELS if X86_LEVEL[v] <= cpu_level]
    runnable = [v for v in built if v in supported]
    choices = ", ".join(runnable) or "none"
    req = requested.strip().lower() if requested else None
    if req and req not in LEVELS:
        raise ImportError(f"{ENV}={requested!r} is not a CPU capability; valid choices: {', '.join(LEVELS)} "
                          f"(this CPU and build: {choices})")
    if "native" in built:
        if req:
            raise ImportError(f"{ENV}={requested!r}: this lamina holds one module built with -march=native "
                              f"(LAMINA_NATIVE=ON, or a build from before CPU dispatch), not one per level; "
                              f"valid choices here: none (unset {ENV}, or build with LAMINA_CPU_VARIANTS)")
        return "native"
    if req:
        if req not in supported:
            raise ImportError(f"{ENV}={requested!r} is higher than this CPU supports "
                              f"({DESCRIPTION[req]}); valid choices here: {choices}")
        if req not in built:
            raise ImportError(f"{ENV}={requested!r}: lamina._C_{req} was not built (built: {', '.join(built)}); "
                              f"valid choices here: {choices}; build it with LAMINA_CPU_VARIANTS "
                              f"(tools/dev.sh: LAMINA_CPU_VARIANTS=all)")
        return req
    if not runnable:
        raise ImportError(f"lamina: this CPU supports {', '.join(supported) or 'less than x86-64-v2'}, but the "
                          f"compiled core exists only for {', '.join(built)} "
                          f"({'; '.join(DESCRIPTION[v] for v in built)})")
    return runnable[-1]


def load(package: str):
    """Imports the chosen core module, registers it as ``<package>._C`` and returns it."""
    ext_dir = os.environ.get("LAMINA_EXT_DIR") or None
    requested = os.environ.get(ENV) or None
    cpu_level, features = _cpu(package, ext_dir)
    built = _built(package, ext_dir)
    chosen = _choose(built, cpu_level, requested)
    name, path = built[chosen]
    mod = _load_from(name, path) if path else importlib.import_module(name)
    sys.modules[package + "._C"] = mod
    if chosen == "native":  # tuned for this CPU: report the best level it runs
        chosen = next((v for v in reversed(LEVELS) if X86_LEVEL[v] <= cpu_level), "default")
    state.update(chosen=chosen, built=tuple(built), module=mod, cpu_level=cpu_level, features=features,
                 requested=requested)
    return mod


def supported_levels() -> list:
    """The levels this CPU runs, lowest first."""
    return [v for v in LEVELS if X86_LEVEL[v] <= (state["cpu_level"] or 0)]
