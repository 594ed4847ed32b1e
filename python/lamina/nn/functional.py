"""``lamina.nn.functional`` (import as F): every op with PyTorch's name and argument order.
The functions live in lamina/ops/<family>.py; each module's FUNCTIONAL list says what is exported,
and lamina/_api.py collects them.
"""
from __future__ import annotations

from .._api import FUNCTIONAL as _FUNCTIONAL

globals().update(_FUNCTIONAL)
__all__ = list(_FUNCTIONAL)
