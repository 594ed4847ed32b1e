"""``lamina.utils.tensorboard.SummaryWriter``: tensorboardX's SummaryWriter at PyTorch's import path,
taking lamina Tensors wherever it takes arrays, with ``add_graph(model, input_to_model)`` drawn
through ``lamina.onnx.export``. Importing this module needs tensorboardX (``pip install "lamina[tensorboard]"``)."""
from __future__ import annotations

import numpy as np

try:
    import tensorboardX as _tbx
except ImportError:  # the same rule as torch.utils.tensorboard: fail at import, naming the extra
    raise ImportError("lamina.utils.tensorboard needs tensorboardX, which is not installed: "
                      "pip install \"lamina[tensorboard]\" (or pip install tensorboardX)") from None

from ..train.tensorboard import default_log_dir, write_onnx_graph

__all__ = ["SummaryWriter"]


def _np(v):
    """lamina Tensors (and lists of them) as NumPy arrays; anything else unchanged."""
    if hasattr(v, "detach") and hasattr(v, "numpy") and "torch" not in type(v).__module__:
        return np.asarray(v.detach().numpy())
    if isinstance(v, dict):
        return {k: _np(x) for k, x in v.items()}
    return v


class SummaryWriter(_tbx.SummaryWriter):
    """Writes TensorBoard event files under ``log_dir`` (default ``runs/<date>_<host><comment>``).

    Every ``add_*`` method of tensorboardX's SummaryWriter works (add_scalar, add_scalars,
    add_histogram, add_image(s), add_text, add_hparams, add_embedding, add_pr_curve, ...) and takes
    lamina Tensors as values. ``add_graph(model, input_to_model)`` exports the model with
    ``lamina.onnx.export`` and adds the ONNX graph; it raises RuntimeError naming the reason when
    the export is unavailable or fails. Example::

        from lamina.utils.tensorboard import SummaryWriter
        with SummaryWriter("runs/exp1") as w:
            for step in range(100):
                w.add_scalar("loss", 1.0 / (step + 1), step)
    """

    def __init__(self, log_dir: str | None = None, comment: str = "", purge_step=None, max_queue: int = 10,
                 flush_secs: int = 120, filename_suffix: str = "") -> None:
        super().__init__(logdir=log_dir or default_log_dir(comment), purge_step=purge_step, max_queue=max_queue,
                         flush_secs=flush_secs, filename_suffix=filename_suffix)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, **kw):
        v = _np(scalar_value)
        return super().add_scalar(tag, float(np.asarray(v).reshape(())) if isinstance(v, np.ndarray) else v,
                                  global_step, walltime, **kw)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        d = {k: float(np.asarray(v).reshape(())) for k, v in _np(tag_scalar_dict).items()}
        return super().add_scalars(main_tag, d, global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        return super().add_histogram(tag, _np(values), global_step, bins, walltime, max_bins)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        return super().add_image(tag, _np(img_tensor), global_step, walltime, dataformats)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        return super().add_images(tag, _np(img_tensor), global_step, walltime, dataformats)

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None, tag="default", **kw):
        return super().add_embedding(_np(mat), metadata, _np(label_img), global_step, tag, **kw)

    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127, weights=None,
                     walltime=None):
        return super().add_pr_curve(tag, _np(labels), _np(predictions), global_step, num_thresholds, _np(weights),
                                    walltime)

    def add_graph(self, model, input_to_model=None, verbose: bool = False, **kwargs) -> None:
        """The graph of ``model`` run on ``input_to_model`` (one Tensor), through ``lamina.onnx.export``."""
        if input_to_model is None:
            raise ValueError("SummaryWriter.add_graph: pass input_to_model (a Tensor the model accepts)")
        status = write_onnx_graph(self, model, input_to_model)
        if status != "written":
            raise RuntimeError(f"SummaryWriter.add_graph({type(model).__name__}): graph {status}")
