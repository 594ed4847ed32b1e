"""Autograd: the recorded graph, backpropagation and gradient checking."""
from __future__ import annotations

from .function import Context, Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .api import backward, grad

__all__ = ["Function", "Context", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled"]
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402

__all__ += ["gradcheck", "gradgradcheck", "GradcheckError"]
from .anomaly import detect_anomaly, set_detect_anomaly  # noqa: E402
from .hooks import register_hook  # noqa: E402

__all__ += ["detect_anomaly", "set_detect_anomaly"]
