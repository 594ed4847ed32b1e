"""``repr(tensor)``: numpy's formatting with PyTorch's framing (dtype, device, grad_fn)."""
from __future__ import annotations

import numpy as np

from . import _dtype as D


def tensor_repr(t) -> str:
    arr = t._c.numpy() if t._c.device == "cpu" else t._c.to_device("cpu").numpy()
    body = np.array2string(arr, separator=", ", precision=4, threshold=1000, edgeitems=3,
                           prefix="tensor(")
    extras = []
    default_float = t.dtype is D.get_default_dtype()
    if not (default_float or t.dtype is D.int64 or t.dtype is D.bool_) or arr.size == 0:
        extras.append(f"dtype={t.dtype}")
    if t._c.device != "cpu":
        extras.append(f"device='{t._c.device}'")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
