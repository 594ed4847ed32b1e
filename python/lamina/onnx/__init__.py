"""ONNX in and out: ``export`` (lamina model -> .onnx), ``load_model`` (.onnx -> ``nn.Module``) and
``backend`` (onnx.backend.base.Backend, for onnx's own conformance tests).

The ``onnx`` package is imported only when one of these is used (``pip install "lamina[onnx]"``),
so ``import lamina`` and ``import lamina.onnx`` work without it.
"""
from __future__ import annotations


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=None, **kwargs):
    """Export ``model`` run on ``args`` to ONNX at ``f``; see :func:`lamina.onnx.export_impl.export`."""
    from .export_impl import export as _export
    return _export(model, args, f, input_names=input_names, output_names=output_names,
                   dynamic_axes=dynamic_axes, opset_version=opset_version, **kwargs)


def load_model(path_or_model_proto):
    """Build an ``nn.Module`` from an ONNX file or ModelProto; see :mod:`lamina.onnx.importer`."""
    from .importer import load_model as _load
    return _load(path_or_model_proto)


def __getattr__(name: str):
    # ``lamina.onnx.backend`` imports onnx's Backend base class, so it loads on first use only
    if name == "backend":
        import importlib
        return importlib.import_module(".backend", __name__)
    raise AttributeError(f"module 'lamina.onnx' has no attribute '{name}'")


__all__ = ["export", "load_model"]
