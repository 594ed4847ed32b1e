"""``lamina.show_config()``: how this lamina was built and what it runs on (the loaded CPU
variant's compiler and flags, the variants built, OpenMP, BLAS, CUDA, the CPU and its capability),
like ``torch.show_config()``."""
from __future__ import annotations

import os

from . import _C, _cpu_dispatch
from ._runtime import blas_info, get_num_threads
from ._version import __version__


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "unknown")
    except OSError:
        return "unknown"


_ENV_SHOWN = ("LAMINA_CPU_CAPABILITY", "LAMINA_EXT_DIR", "LAMINA_THREAD_GOVERNOR", "OMP_NUM_THREADS",
              "OPENBLAS_CORETYPE")
_OPENMP_VERSIONS = {201107: "3.1", 201307: "4.0", 201511: "4.5", 201811: "5.0", 202011: "5.1", 202111: "5.2"}


def _config_lines() -> list:
    st = _cpu_dispatch.state
    info = getattr(_C, "_build_info", None) or ("unknown", "unknown", "unknown", 0)
    variant, compiler, flags = info[:3]
    omp = int(info[3]) if len(info) > 3 else 0
    names = _cpu_dispatch.PYTORCH_NAME
    req = st["requested"]
    blas = blas_info()
    supported = _cpu_dispatch.supported_levels()
    return [
        f"lamina {__version__}",
        f"  core module: {_C.__name__} ({getattr(_C, '__file__', '?')})",
        f"  compiled for: {variant}; compiler {compiler}; flags {flags}",
        f"  CPU variants built: {', '.join(st['built'])}",
        f"  CPU: {_cpu_model()}",
        f"  CPU capability: supported {', '.join(names[v] for v in supported) or 'none'}; "
        f"chosen {names[st['chosen']]}" + (f" (LAMINA_CPU_CAPABILITY={req})" if req else ""),
        "  OpenMP: " + (f"{_OPENMP_VERSIONS.get(omp, '?')} (_OPENMP={omp})" if omp else
                         ("yes" if getattr(_C, "has_openmp", False) else "no")) + f", {get_num_threads()} threads"
        + (", contention governor on" if _C._thread_governor_enabled() else ", contention governor off"),
        f"  BLAS: OpenBLAS, core {blas['corename']}; {blas['config'].strip()}",
        f"  CUDA: built {_C.cuda_built()}, available {_C.cuda_is_available()}",
        "  environment: " + (", ".join(f"{k}={os.environ[k]}" for k in _ENV_SHOWN if os.environ.get(k)) or "-"),
    ]


def show_config() -> None:
    """Prints how this lamina was built and what it runs on: version, the loaded CPU variant's
    compiler and flags, the variants built, OpenMP, BLAS (and its active core), CUDA, the CPU model
    and its supported and chosen capability (like ``torch.show_config()``)."""
    print("\n".join(_config_lines()))
