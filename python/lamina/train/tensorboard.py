"""TensorBoard logging for fit(): the ``TensorBoard`` callback (scalars equal to History's, the
learning rate, weight and gradient histograms, first-layer filters and feature maps of a fixed
batch, the model graph through lamina.onnx, hparams with the final metrics) and ``EpochScalars``, a
callback that sends per-epoch History values to any writer. tensorboardX is imported only here, and
only when a TensorBoard callback starts training without a writer (``pip install "lamina[tensorboard]"``)."""
from __future__ import annotations

import contextlib
import io
import logging
import math
import numbers
import os
import socket
import tempfile
import time

import numpy as np

from .. import _pictures as pics
from ..autograd.grad_mode import no_grad
from ..ops.creation import as_tensor
from .callbacks import Callback

log = logging.getLogger(__name__)


def default_log_dir(comment: str = "") -> str:
    """``runs/<Mon DD_HH-MM-SS>_<host><comment>``, PyTorch's SummaryWriter default."""
    return os.path.join("runs", time.strftime("%b%d_%H-%M-%S") + "_" + socket.gethostname() + comment)


def make_writer(log_dir: str | None = None, **kwargs):
    """A tensorboardX SummaryWriter at ``log_dir`` (default: ``default_log_dir()``), with a clear
    ImportError naming the extra to install when tensorboardX is missing."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("TensorBoard logging needs tensorboardX, which is not installed: "
                          "pip install \"lamina[tensorboard]\" (or pip install tensorboardX)") from None
    return SummaryWriter(logdir=log_dir or default_log_dir(), **kwargs)


def _scalar(v):
    """A float for a loggable number (Python / NumPy number, 0-d array, one-element Tensor), else None."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, numbers.Number):
        return float(v)
    if hasattr(v, "shape") and int(np.prod(v.shape)) == 1:
        return float(pics.to_numpy(v).reshape(()))
    return None


def _upscale(img: np.ndarray, min_side: int = 160) -> np.ndarray:
    """Nearest-neighbour enlargement by a whole factor so small grids (8x8 digits, 5x5 kernels)
    are visible in TensorBoard's image panel, which shows images at their own size."""
    f = max(1, math.ceil(min_side / max(img.shape[0], img.shape[1])))
    return np.repeat(np.repeat(img, f, axis=0), f, axis=1) if f > 1 else img


def _add_image(writer, tag: str, img: np.ndarray, step: int) -> None:
    writer.add_image(tag, _upscale(img).astype(np.float32), step, dataformats="HWC" if img.ndim == 3 else "HW")


def add_histogram(writer, tag: str, values, step: int, bins: int = 64) -> None:
    """A histogram of ``values`` with ``bins`` equal-width buckets, through ``add_histogram_raw``:
    tensorboardX's own ``add_histogram`` spends most of its time in an ``ndarray.dot`` (BLAS
    threads) for the sum of squares, which doubled the cost of logging a small model's epoch."""
    v = pics.to_numpy(values).ravel()
    if v.size == 0 or not np.isfinite(v).all():
        return  # TensorBoard cannot draw these; the scalars show the NaN loss anyway
    counts, edges = np.histogram(v, bins=bins)
    writer.add_histogram_raw(tag, min=float(v.min()), max=float(v.max()), num=int(v.size), sum=float(v.sum()),
                             sum_squares=float(np.square(v).sum()), bucket_limits=edges[1:].tolist(),
                             bucket_counts=counts.tolist(), global_step=step)


def write_onnx_graph(writer, model, sample) -> str:
    """Exports ``model`` run on ``sample`` with ``lamina.onnx.export`` to a temporary file and adds
    it with ``writer.add_onnx_graph``. Returns "written" or why it was skipped (lamina.onnx or onnx
    missing, export not implemented for a layer, ...): the graph is optional, training goes on."""
    try:
        # An optional, function-level use of the export layer above train: the graph picture is
        # an extra that needs the onnx package anyway, and lamina.onnx never imports lamina.train.
        from ..onnx import export
    except ImportError as e:
        return f"skipped: lamina.onnx is unavailable ({e})"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.onnx")
        try:
            was_training = model.training
            model.eval()
            try:
                export(model, (sample,), path)
            finally:
                model.train(was_training)
            with contextlib.redirect_stdout(io.StringIO()):  # tensorboardX prints every node name
                writer.add_onnx_graph(path)
        except (ImportError, NotImplementedError) as e:
            return f"skipped: {type(e).__name__}: {e}"
        except Exception as e:  # noqa: BLE001 - a failed export must not stop training
            return f"skipped: ONNX export failed: {type(e).__name__}: {e}"
    return "written"


class EpochScalars(Callback):
    """After each epoch, ``writer.add_scalar(f"{prefix}/{name}", value, epoch + step_offset)`` for
    every numeric log value (the values History records), or only those in ``keys`` (a list of log
    keys, or a dict log key -> tag name). ``writer`` is anything with ``add_scalar`` (a
    ``lamina.utils.tensorboard.SummaryWriter``, a tensorboardX one, ...); the layer-wise
    pretraining of DBNs and stacked autoencoders adds one per layer."""

    def __init__(self, writer, prefix: str = "", keys=None, step_offset: int = 0) -> None:
        self.writer, self.prefix, self.keys, self.step_offset = writer, prefix.rstrip("/"), keys, int(step_offset)

    def on_epoch_end(self, epoch, logs=None):
        if not getattr(self.ctx, "is_main_process", True):
            return
        for k, v in (logs or {}).items():
            if self.keys is not None and k not in self.keys:
                continue
            name = self.keys[k] if isinstance(self.keys, dict) else k
            f = _scalar(v)
            if f is not None:
                self.writer.add_scalar(f"{self.prefix}/{name}" if self.prefix else name, f, epoch + self.step_offset)


class TensorBoard(Callback):
    """Logs a ``fit`` run for TensorBoard (``pip install tensorboard; tensorboard --logdir runs``).

    Every epoch (step = the epoch number, as in ``History.epoch``): a scalar per History value
    under its own key (``loss``, each metric, ``val_*``, ``lr``, ``time``, ``samples_per_s``).
    With ``update_freq=N`` (an int) also ``batch/loss`` and ``batch/lr`` every N batches (step = the
    global batch number). Every ``histogram_freq`` epochs (0: never): histograms ``weights/<name>``
    and ``grads/<name>`` of every parameter (the gradients of the epoch's last batch) and, with
    ``write_images``, the first weighted layer's filters (``filters/<layer>``: conv kernels, or
    linear rows reshaped to the input's shape) and the feature maps of ``feature_layer`` (default:
    that first layer) for the first sample of a fixed batch (``feature_maps/<layer>``). The fixed
    batch is ``sample_input`` or the first ``max_images`` training samples (read from the dataset,
    so the shuffling order is untouched). ``write_graph``: the model graph through
    ``lamina.onnx.export`` and ``add_onnx_graph``, skipped with a logged note when the export is
    unavailable or fails (``self.graph_status`` says which). At the end, hparams (``hparams`` plus
    the optimizer, learning rate, batch size and epochs) with the final value of every metric.
    ``writer``: log into an existing SummaryWriter instead of opening one at ``log_dir``. Only
    rank 0 writes in a distributed job. ``self.writer`` stays open until training ends.
    """

    def __init__(self, log_dir: str | None = None, histogram_freq: int = 1, write_images: bool = True,
                 write_graph: bool = True, update_freq="epoch", *, sample_input=None, feature_layer: str | None = None,
                 max_images: int = 8, hparams: dict | None = None, writer=None) -> None:
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch' or a positive int, got {update_freq!r}")
        self.log_dir = log_dir
        self.histogram_freq, self.write_images, self.write_graph = int(histogram_freq), write_images, write_graph
        self.update_freq, self.sample_input, self.feature_layer = update_freq, sample_input, feature_layer
        self.max_images, self.hparams = int(max_images), dict(hparams or {})
        self.writer, self._own_writer = writer, writer is None
        self.graph_status = "not attempted"
        self.notes: list = []

    # ---- setup ----
    def _note(self, msg: str) -> None:
        self.notes.append(msg)
        log.info("TensorBoard: %s", msg)

    def _fixed_batch(self):
        if self.sample_input is not None:
            x = self.sample_input if hasattr(self.sample_input, "detach") else as_tensor(np.asarray(self.sample_input))
            p = next(iter(self.model.parameters()), None)
            return x.to(p.dtype) if p is not None and x.dtype != p.dtype else x  # NumPy gives float64
        loader = getattr(self.ctx, "train_loader", None)
        ds = getattr(loader, "dataset", None)
        try:
            n = min(self.max_images, len(ds))
            items = [ds[i] for i in range(n)]
            batch = loader.collate_fn(items)
        except Exception as e:  # noqa: BLE001 - an unsized or odd dataset only costs the pictures
            self._note(f"no fixed batch for images/graph ({type(e).__name__}: {e}); pass sample_input=")
            return None
        return batch[0] if isinstance(batch, (tuple, list)) else batch

    def on_train_begin(self, logs=None):
        self._main = getattr(self.ctx, "is_main_process", True)
        if not self._main:
            return
        if self.writer is None:
            self.log_dir = self.log_dir or default_log_dir()
            self.writer = make_writer(self.log_dir)
            self._own_writer = True
        self.ctx.tensorboard_writer = self.writer  # lamina.diagnostics.GradientFlow logs here too
        self._step = 0
        self._x = self._fixed_batch() if (self.write_images or self.write_graph) else None
        if self.write_graph and self._x is not None:
            self.graph_status = write_onnx_graph(self.writer, self.model, self._x[:1])
            if self.graph_status != "written":
                self._note("model graph " + self.graph_status)
        opt = self.ctx.optimizer
        loader = getattr(self.ctx, "train_loader", None)
        auto = {"optimizer": type(opt).__name__, "lr": float(opt.param_groups[0]["lr"]), "epochs": self.ctx.epochs}
        if getattr(loader, "batch_size", None) is not None:
            auto["batch_size"] = int(loader.batch_size)
        self._hparams = {**auto, **self.hparams}

    # ---- per batch ----
    def on_batch_end(self, batch, logs=None):
        if not self._main:
            return
        if self.update_freq != "epoch" and (self._step + 1) % self.update_freq == 0:
            self.writer.add_scalar("batch/loss", float(logs["loss"]), self._step)
            self.writer.add_scalar("batch/lr", float(self.ctx.optimizer.param_groups[0]["lr"]), self._step)
        self._step += 1

    # ---- per epoch ----
    def on_epoch_end(self, epoch, logs=None):
        if not self._main:
            return
        for k, v in (logs or {}).items():
            f = _scalar(v)
            if f is not None:
                self.writer.add_scalar(k, f, epoch)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0:
            self._histograms(epoch)
            if self.write_images:
                self._images(epoch)
        self.writer.flush()

    def _histograms(self, epoch: int) -> None:
        for name, p in self.model.named_parameters():
            add_histogram(self.writer, f"weights/{name}", p, epoch)
            if p.grad is not None:
                add_histogram(self.writer, f"grads/{name}", p.grad, epoch)

    def _images(self, epoch: int) -> None:
        first = pics.first_weighted_layer(self.model)
        if first is None:
            return
        name, layer = first
        shape = tuple(self._x.shape[1:]) if self._x is not None else None
        try:
            tiles = pics.filter_tiles(layer.weight, shape if shape is not None and len(shape) > 1 else None)
            _add_image(self.writer, f"filters/{name or 'model'}", pics.grid(tiles), epoch)
        except ValueError as e:
            if epoch == 0:
                self._note(f"no filter image for {name!r}: {e}")
        if self._x is not None:
            self._feature_maps(self.feature_layer or name, epoch)

    def _feature_maps(self, layer_name: str, epoch: int) -> None:
        mods = dict(self.model.named_modules())
        if layer_name not in mods:
            raise KeyError(f"TensorBoard: feature_layer {layer_name!r} is not a sub-module of the model "
                           f"(named modules: {[n for n in mods if n][:20]})")
        seen = []
        handle = mods[layer_name].register_forward_hook(lambda m, i, o: seen.append(o))
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                self.model(self._x[:1])
        finally:
            handle.remove()
            self.model.train(was_training)
        try:
            tiles = pics.activation_tiles(seen[0])
        except ValueError as e:
            if epoch == 0:
                self._note(f"no feature-map image for {layer_name!r}: {e}")
            return
        _add_image(self.writer, f"feature_maps/{layer_name or 'model'}", pics.grid(tiles), epoch)

    def on_train_end(self, logs=None):
        if not self._main:
            return
        final = {f"hparam/{k}": f for k, v in (logs or {}).items()
                 if k not in ("time", "samples_per_s", "lr") and (f := _scalar(v)) is not None}
        if final:
            hp = {k: (v if isinstance(v, (bool, int, float, str)) else str(v)) for k, v in self._hparams.items()}
            self.writer.add_hparams(hp, final, name="hparams")
        if self._own_writer:
            self.writer.close()
        else:
            self.writer.flush()
