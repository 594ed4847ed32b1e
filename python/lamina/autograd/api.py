"""``lamina.autograd.backward`` and ``lamina.autograd.grad``."""
from __future__ import annotations

from .. import _C
from ..tensor import Tensor
from .engine import _accumulate_into_leaf, run_backward


def _grads_for(tensors, grad_tensors):
    out = []
    for i, t in enumerate(tensors):
        g = grad_tensors[i] if grad_tensors is not None else None
        if g is None:
            c = t._c
            if c.numel() != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs (got shape {list(t.shape)}); "
                    "pass gradient= with the output's shape"
                )
            c = c.clone()
            _C.fill_(c, 1.0)
            out.append(Tensor._wrap(c))  # t's own shape: nothing to check
            continue
        elif not isinstance(g, Tensor):
            g = Tensor(g, dtype=t.dtype)
        if g._c.shape != t._c.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output has a shape of {list(g.shape)} and "
                               f"output has a shape of {list(t.shape)}")
        out.append(g)
    return out


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """Accumulates d(tensors)/d(leaf) into every leaf's ``.grad``.

    PyTorch: ``torch.autograd.backward``.
    """
    if isinstance(tensors, Tensor):
        tensors = [tensors]
        if grad_tensors is not None and isinstance(grad_tensors, Tensor):
            grad_tensors = [grad_tensors]
    tensors = list(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    grads = _grads_for(tensors, grad_tensors)
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        res = run_backward(tensors, grads, retain_graph, inputs=inputs, create_graph=create_graph,
                           allow_unused=True)
        for t, g in zip(inputs, res):
            if g is not None:
                _accumulate_into_leaf(t, g, create_graph)
        return
    run_backward(tensors, grads, retain_graph, create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False):
    """Returns d(outputs)/d(inputs) as a tuple, without touching ``.grad``.

    PyTorch: ``torch.autograd.grad(outputs, inputs, grad_outputs=None, retain_graph=None,
    create_graph=False, allow_unused=False)``; Keras/TF: ``tf.GradientTape.gradient``.

    Example::

        x = lamina.randn(3, requires_grad=True)
        (g,) = lamina.autograd.grad((x ** 2).sum(), x)     # 2 x
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if retain_graph is None:
        retain_graph = create_graph
    grads = _grads_for(outputs, grad_outputs)
    return tuple(run_backward(outputs, grads, retain_graph, inputs=inputs, create_graph=create_graph,
                              allow_unused=allow_unused))


def _tensor_backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                     inputs=None) -> None:
    """Computes gradients of this tensor with respect to the graph's leaves (into ``.grad``)."""
    backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)


_tensor_backward.__name__ = _tensor_backward.__qualname__ = "backward"
TENSOR_METHODS: dict = {"backward": _tensor_backward}
