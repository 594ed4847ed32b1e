"""``lamina.backends.cpu``: which CPU level's build of the core is loaded (README, "CPU dispatch and
wheels"), spelled as PyTorch's ``torch.backends.cpu.get_cpu_capability()`` spells it."""
from __future__ import annotations

from .. import _cpu_dispatch


def get_cpu_capability() -> str:
    """The ISA level the loaded core was compiled for: "DEFAULT" (x86-64-v2), "AVX2" (x86-64-v3) or
    "AVX512" (x86-64-v4): the best this CPU runs unless LAMINA_CPU_CAPABILITY asked for a lower one.
    (A LAMINA_NATIVE build reports the best level the CPU runs.)"""
    return _cpu_dispatch.PYTORCH_NAME[_cpu_dispatch.state["chosen"]]


def get_supported_capabilities() -> list:
    """Every level this CPU runs, lowest first (PyTorch's spelling); LAMINA_CPU_CAPABILITY accepts
    them in lower case, where the build holds them (``built_capabilities``)."""
    return [_cpu_dispatch.PYTORCH_NAME[v] for v in _cpu_dispatch.supported_levels()]


def built_capabilities() -> list:
    """The levels this lamina was compiled for, lowest first ("NATIVE" for a LAMINA_NATIVE build)."""
    return [_cpu_dispatch.PYTORCH_NAME.get(v, v.upper()) for v in _cpu_dispatch.state["built"]]


__all__ = ["get_cpu_capability", "get_supported_capabilities", "built_capabilities"]
