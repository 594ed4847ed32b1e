"""lamina: a deep-learning framework with an optimized C++ core and a PyTorch-shaped API.

    import lamina
    x = lamina.randn(64, 784)
    w = lamina.randn(784, 10, requires_grad=True)
    loss = (x @ w).sum()
    loss.backward()
"""
from __future__ import annotations

# ---- threads (issue 13): before anything loads libgomp. Its default lets idle workers spin for
# milliseconds after every parallel region, which collapses small-op loops on a shared core; load
# it with a short spin unless OMP_WAIT_POLICY/GOMP_SPINCOUNT are set (lamina/_threads.py). ----
from . import _threads  # noqa: E402

_threads.configure_openmp_wait()


def _load_blas() -> None:
    # The extension links libscipy_openblas.so; load it globally first so editable installs and
    # unusual layouts find it (the installed module also has an rpath to it).
    import ctypes
    import os

    import scipy_openblas32

    lib = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(True))
    ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)


_load_blas()


# The compiled core exists once per CPU level (lamina._C_default, _C_avx2, _C_avx512): load the best
# one this CPU runs, or the one LAMINA_CPU_CAPABILITY asks for, and register it as lamina._C before
# any module imports it. LAMINA_EXT_DIR (development) names a CMake build folder to load it from
# instead of the installed package (README, Development).
from . import _cpu_dispatch  # noqa: E402

_C = _cpu_dispatch.load(__name__)
from ._dtype import (  # noqa: E402
    bool_, double, dtype, float32, float64, get_default_dtype, int64, long, set_default_dtype,
)
from ._dtype import bool_ as bool  # noqa: E402,A001
from ._dtype import float32 as float  # noqa: E402,A001
from .tensor import Tensor  # noqa: E402
from .autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402
# Ops: lamina/_api.py collects every op module's __all__ (and sets Tensor's methods from their
# TENSOR_METHODS); nothing here lists op names by hand.
from ._api import NAMESPACE as _NAMESPACE  # noqa: E402

globals().update(_NAMESPACE)
from . import autograd, cuda, nn  # noqa: E402
from . import data, optim, models, train  # noqa: E402,F401
from . import anomaly, diagnostics, interpret, viz  # noqa: E402,F401
from . import rl  # noqa: E402,F401
from . import htm  # noqa: E402,F401
from . import jit, onnx  # noqa: E402,F401  (lamina.onnx imports the onnx package only when used)
from . import backends  # noqa: E402,F401
from .serialization import load, save  # noqa: E402
from .summary import summary  # noqa: E402
from ._runtime import (  # noqa: E402
    blas_info, empty_cache, get_num_threads, get_rng_state, manual_seed, memory_stats, seed, set_cache_limit,
    set_num_threads, set_rng_state,
)
from ._config import show_config  # noqa: E402
from ._version import __version__  # noqa: E402,F401
