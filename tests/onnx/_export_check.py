"""Shared by the export tests: export a lamina model with lamina.onnx.export, check it with onnx's
full checker, run it in onnxruntime (1 thread) and compare with lamina at two batch sizes."""
from __future__ import annotations

import io

import numpy as np

import lamina
import lamina.onnx

RTOL = 1e-5


def flat(x) -> list:
    """The tensors of a (nested) output, as numpy arrays (None dropped)."""
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in flat(v)]
    if x is None:
        return []
    return [x.detach().numpy()]


def session(data: bytes):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def close(got: np.ndarray, ref: np.ndarray, rtol: float = RTOL, what: str = "") -> None:
    """Equal to 1e-5 relative to the output's scale (max |ref|, at least 1e-3): elementwise
    relative error is meaningless for values that are zero up to rounding."""
    assert got.shape == ref.shape, f"{what}: shape {got.shape} vs lamina {ref.shape}"
    if ref.dtype.kind in "iub":
        np.testing.assert_array_equal(got, ref, err_msg=what)
        return
    scale = max(float(np.abs(ref).max(initial=0.0)), 1e-3)
    err = float(np.abs(got.astype(np.float64) - ref.astype(np.float64)).max(initial=0.0))
    assert err <= rtol * scale, f"{what}: max |onnxruntime - lamina| = {err:.3g} > {rtol:g} * {scale:.3g}"


def check_export(model, args, other_args=None, *, input_names=None, dynamic_axes=None, opset_version=None,
                 rtol: float = RTOL):
    """Export, check, run at ``args`` and ``other_args`` (another batch size); returns the proto."""
    import onnx
    if isinstance(args, lamina.Tensor):
        args = (args,)
    if isinstance(other_args, lamina.Tensor):
        other_args = (other_args,)
    buf = io.BytesIO()
    proto = lamina.onnx.export(model, args, buf, input_names=input_names, dynamic_axes=dynamic_axes,
                               opset_version=opset_version)
    onnx.checker.check_model(proto, full_check=True)
    sess = session(buf.getvalue())
    names = [i.name for i in sess.get_inputs()]
    if hasattr(model, "eval"):
        model.eval()
    for a in [args] + ([tuple(other_args)] if other_args is not None else []):
        got = sess.run(None, {n: x.numpy() for n, x in zip(names, a)})
        with lamina.no_grad():
            ref = flat(model(*a))
        assert len(got) == len(ref), f"{len(got)} ONNX outputs vs {len(ref)} lamina outputs"
        for i, (g, r) in enumerate(zip(got, ref)):
            close(g, r, rtol, f"{type(model).__name__} output {i} at input shapes {[list(x.shape) for x in a]}")
    return proto
