"""(placeholder: being written) The reduce op family. C++: cpp/ops/."""
from __future__ import annotations

__all__: list = []          # names exported as lamina.<name>
FUNCTIONAL: list = []       # names exported as lamina.nn.functional.<name>
TENSOR_METHODS: dict = {}   # Tensor method / operator name -> function
