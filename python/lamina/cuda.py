"""``lamina.cuda``: whether the CUDA path was compiled in and a device is usable."""
from __future__ import annotations

from . import _C


def is_available() -> bool:
    """True when lamina was built with CUDA and a CUDA device and driver are present."""
    return bool(_C.cuda_is_available())


def is_built() -> bool:
    """True when this lamina build contains the CUDA path (LAMINA_CUDA=ON)."""
    return bool(_C.cuda_built())


def device_count() -> int:
    """The number of CUDA devices lamina can use (0 without a CUDA build or driver); ``torch.cuda.device_count``."""
    return int(_C.cuda_device_count())


def synchronize() -> None:
    """Waits for all queued CUDA work to finish (no-op without CUDA)."""
    _C.cuda_synchronize()
