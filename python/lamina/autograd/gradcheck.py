"""``gradcheck``: analytic gradients against float64 central finite differences."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import grad_mode
from .api import backward, grad


class GradcheckError(AssertionError):
    """Raised by gradcheck when analytic and numerical gradients disagree."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return out if isinstance(out, (tuple, list)) else (out,)


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, seed: int = 0) -> bool:
    """Checks ``fn``'s backward against central differences.

    ``inputs`` is a tuple; float64 tensors with ``requires_grad=True`` are checked. The scalar
    probed is ``sum_k <out_k, w_k>`` with fixed random weights ``w_k``, so every output element
    and every input element is covered. On a mismatch the error names the input, the worst
    element's index, and both values.

    PyTorch: ``torch.autograd.gradcheck``.

    Example::

        x = lamina.randn(5, dtype=lamina.float64, requires_grad=True)
        lamina.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    for i in checked:
        if inputs[i].dtype.name != "float64":
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 for finite differences")
    rng = np.random.default_rng(seed)
    with grad_mode.no_grad():
        outs = _outputs(fn, inputs)
    weights = [rng.standard_normal(o.shape) if isinstance(o, Tensor) and o.dtype.is_floating_point else None
               for o in outs]

    def probe() -> float:
        with grad_mode.no_grad():
            o = _outputs(fn, inputs)
        return float(sum(np.sum(x.detach().numpy().astype(np.float64) * w) for x, w in zip(o, weights) if w is not None))

    # Analytic
    for i in checked:
        inputs[i].grad = None
    outs = _outputs(fn, inputs)
    pairs = [(o, Tensor(w, dtype=o.dtype)) for o, w in zip(outs, weights)
             if w is not None and isinstance(o, Tensor) and o.requires_grad]
    if pairs:
        backward([p[0] for p in pairs], [p[1] for p in pairs])
    ok = True
    for i in checked:
        x = inputs[i]
        if x.numel() == 0:
            continue
        analytic = np.zeros(x.shape) if x.grad is None else x.grad.detach().numpy().astype(np.float64)
        arr = x.detach().numpy()  # shares memory: perturb in place
        if not arr.flags.writeable:
            raise ValueError(f"gradcheck: input {i} is not writeable")
        numeric = np.zeros(x.shape)
        it = np.nditer(arr, flags=["multi_index"])
        for _ in it:
            idx = it.multi_index
            orig = arr[idx]
            arr[idx] = orig + eps
            fp = probe()
            arr[idx] = orig - eps
            fm = probe()
            arr[idx] = orig
            numeric[idx] = (fp - fm) / (2 * eps)
        err = np.abs(analytic - numeric)
        tol = atol + rtol * np.abs(numeric)
        if np.any(err > tol):
            ok = False
            worst = np.unravel_index(np.argmax(err - tol), err.shape) if err.ndim else ()
            msg = (f"gradcheck: gradient mismatch for input {i} (shape {list(x.shape)}): worst element "
                   f"{tuple(int(v) for v in worst)}: analytic {analytic[worst]:.8g} vs numerical "
                   f"{numeric[worst]:.8g} (|diff| {err[worst]:.3g}, tolerance {tol[worst]:.3g})")
            if raise_exception:
                raise GradcheckError(msg)
    return ok


def gradgradcheck(fn, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Checks second derivatives: the gradients of ``fn`` (computed with ``create_graph=True``)
    are themselves checked with ``gradcheck`` against finite differences, with respect to the
    inputs and to the output gradients (``grad_outputs``: random float64 tensors by default).

    PyTorch: ``torch.autograd.gradgradcheck``.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    with grad_mode.enable_grad():
        outs = [o for o in _outputs(fn, inputs) if isinstance(o, Tensor) and o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = tuple(Tensor(rng.standard_normal(o.shape), dtype=o.dtype, requires_grad=True) for o in outs)
    grad_outputs = tuple(grad_outputs)
    n = len(inputs)

    def first_grads(*args):
        xs, gos = args[:n], args[n:]
        with grad_mode.enable_grad():
            o = [v for v in _outputs(fn, xs) if isinstance(v, Tensor) and v.requires_grad]
            gs = grad(o, [xs[i] for i in diff], list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grads, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, seed=seed)
