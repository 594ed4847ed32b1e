"""Callbacks for fit(): a base class with epoch/batch hooks, EarlyStopping (stop when the
validation error starts to rise, restoring the best weights), ModelCheckpoint,
LearningRateScheduler, CSVLogger and the progress bar."""
from __future__ import annotations

import csv
import math
import os
import sys
import time

import numpy as np

from .. import serialization
from .checkpoint import save_training_state


class Callback:
    """Subclass and override any hook. ``self.ctx`` gives model, optimizer, scheduler,
    history and ``stop_training`` (set it True to stop after this epoch)."""

    ctx = None

    def set_context(self, ctx) -> None:
        self.ctx = ctx

    @property
    def model(self):
        return self.ctx.model

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch: int, logs=None): ...
    def on_epoch_end(self, epoch: int, logs=None): ...
    def on_batch_begin(self, batch: int, logs=None): ...
    def on_batch_end(self, batch: int, logs=None): ...


def _better(mode: str, min_delta: float):
    if mode == "min":
        return lambda cur, best: cur < best - min_delta
    return lambda cur, best: cur > best + min_delta


def _keras_improvement(mode: str, min_delta: float):
    """Keras 3's ``EarlyStopping._is_improvement``: ``monitor_op(cur - signed_min_delta, best)``,
    which Keras evaluates on float32 tensors; doing the same here makes every decision Keras's,
    ties included (a change of exactly ``min_delta``, or below float32 resolution, is not an
    improvement)."""
    d = abs(min_delta) if mode == "max" else -abs(min_delta)
    if mode == "min":
        return lambda cur, ref: bool(np.float32(cur - d) < np.float32(ref))
    return lambda cur, ref: bool(np.float32(cur - d) > np.float32(ref))


def _mode_for(monitor: str, mode: str) -> str:
    if mode != "auto":
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        return mode
    return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has stopped improving, with Keras's exact rule, and (by
    default) puts back the weights of the best epoch.

    Keras equivalent: ``keras.callbacks.EarlyStopping`` (same arguments and semantics, Keras 3).
    PyTorch has no built-in one (Lightning's ``EarlyStopping(patience=)`` counts the same way).

    The rule, at the end of every epoch ``e`` (0-based) from ``start_from_epoch`` on:
    ``wait += 1``; if ``monitor`` improved on the best value so far by more than ``min_delta``
    (``cur + min_delta < best`` in "min" mode, ``cur - min_delta > best`` in "max" mode, compared
    in float32 as Keras does, so a tie is never an improvement) it becomes
    the best, its weights are kept and ``wait = 0`` (only when it also beats ``baseline``, if one is
    given); otherwise, if ``wait >= patience`` and ``e > 0``, training stops after this epoch.
    So with ``patience=2`` and the best value at epoch 8, training stops after epoch 10: two
    epochs without improvement. ``patience=0`` stops at the first epoch without improvement.

    Args:
        monitor: a History key: ``"val_loss"`` (default), ``"val_accuracy"``, ``"loss"``, ...
        patience: epochs without improvement before stopping (int, default 0).
        min_delta: the smallest change that counts as an improvement (default 0.0).
        mode: ``"min"``, ``"max"`` or ``"auto"`` ("max" for names with "acc" or ending in "auc").
        restore_best_weights: at the end of training, load the best epoch's weights (and buffers)
            into the model (default True — Keras's default is False). The History then records it:
            ``history.restored_epoch`` and ``history.final_metrics``.
        baseline: training stops unless the monitored value beats this within ``patience`` epochs.
        verbose: print why and when training stopped and which epoch's weights were restored
            (default True; rank 0 only in a distributed job).
        start_from_epoch: epochs to wait before monitoring at all (a warm-up; default 0).

    After ``fit``: ``stopped_epoch`` (0-based epoch after which training stopped, or None),
    ``best_epoch`` (0-based), ``best`` (its value), ``wait``.

    Example::

        es = EarlyStopping(monitor="val_loss", patience=5)
        history = fit(model, loss_fn, opt, train_loader, val_data=val_loader, epochs=100, callbacks=[es])
        history.final_metrics["val_accuracy"]   # the returned (restored) model's validation accuracy
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = True, baseline: float | None = None, verbose: bool = True,
                 start_from_epoch: int = 0) -> None:
        if int(patience) < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(min_delta)
        self.mode = _mode_for(monitor, mode)
        self.restore_best_weights, self.baseline, self.verbose = restore_best_weights, baseline, verbose
        self.start_from_epoch = int(start_from_epoch)
        self._better = _keras_improvement(self.mode, self.min_delta)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = None
        self.best_epoch = None
        self.best = None   # as Keras: the first monitored value is always the best so far
        self.best_weights = None
        self._last_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch
        if epoch < self.start_from_epoch:
            return
        cur = (logs or {}).get(self.monitor)
        if cur is None:
            raise KeyError(f"EarlyStopping: monitored metric {self.monitor!r} is not in the logs "
                           f"(available: {sorted(logs or {})}); pass val_data for val_* metrics")
        self.wait += 1
        if self.best is None or self._better(cur, self.best):
            self.best, self.best_epoch = cur, epoch
            if self.restore_best_weights:
                self.best_weights = {k: v.clone() for k, v in self.model.state_dict().items()}
            if self.baseline is None or self._better(cur, self.baseline):
                self.wait = 0  # Keras: restart only when both the best so far and the baseline are beaten
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.ctx.stop_training = True
            history = getattr(self.ctx, "history", None)
            if history is not None:
                history.stopped_epoch = epoch

    def on_train_end(self, logs=None):
        say = self.verbose and getattr(self.ctx, "is_main_process", True)
        if say and self.stopped_epoch is not None:
            best = "no value yet" if self.best_epoch is None else \
                f"best {self.best:.6g} at epoch {self.best_epoch + 1}"
            base = f" and none beat baseline {self.baseline:.6g}" if self.baseline is not None else ""
            print(f"EarlyStopping: stopped after epoch {self.stopped_epoch + 1}: {self.monitor} did not improve "
                  f"by more than min_delta={self.min_delta:g} for {self.wait} epoch(s){base} "
                  f"(patience={self.patience}); {best}")
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
            history = getattr(self.ctx, "history", None)
            if history is not None:
                history.restored_epoch = self.best_epoch
            if say and self.best_epoch != self._last_epoch:
                print(f"EarlyStopping: restored the weights from the end of epoch {self.best_epoch + 1} "
                      f"({self.monitor} {self.best:.6g}); history.final_metrics holds that epoch's metrics")


class ModelCheckpoint(Callback):
    """Saves after each epoch (or only on improvement with ``save_best_only``). ``filepath`` may
    contain ``{epoch}`` and any log key (``{val_loss:.3f}``). With ``save_weights_only`` it saves
    the model's state_dict; otherwise the whole training state (model, optimizer, scheduler,
    epoch, RNG, history) so ``fit(..., resume_from=path)`` continues exactly.

    Keras: ``keras.callbacks.ModelCheckpoint(filepath, monitor, save_best_only, save_weights_only,
    mode)``.

    Example::

        fit(model, loss_fn, opt, train, val_data=val, epochs=20,
            callbacks=[ModelCheckpoint("ckpt-{epoch}.lam")])
        fit(model, loss_fn, opt, train, val_data=val, epochs=30, resume_from="ckpt-20.lam")
    """

    def __init__(self, filepath: str, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto",
                 save_weights_only: bool = False) -> None:
        self.filepath, self.monitor, self.save_best_only = str(filepath), monitor, save_best_only
        self.mode = _mode_for(monitor, mode)
        self.save_weights_only = save_weights_only
        self._better = _better(self.mode, 0.0)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            cur = logs.get(self.monitor)
            if cur is None or not self._better(cur, self.best):
                return
            self.best = cur
        if not getattr(self.ctx, "is_main_process", True):
            return  # in a distributed job rank 0 writes the (identical) state
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_weights_only:
            serialization.save(self.model.state_dict(), path)
        else:
            save_training_state(path, self.ctx.model, self.ctx.optimizer, self.ctx.scheduler, epoch,
                                self.ctx.history)


class LearningRateScheduler(Callback):
    """Sets every param group's lr to ``schedule(epoch, lr)`` at the start of each epoch.

    Keras: ``keras.callbacks.LearningRateScheduler(schedule)``.

    Example::

        LearningRateScheduler(lambda epoch, lr: lr * 0.9 if epoch >= 10 else lr)
    """

    def __init__(self, schedule) -> None:
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        for g in self.ctx.optimizer.param_groups:
            g["lr"] = float(self.schedule(epoch, g["lr"]))


class CSVLogger(Callback):
    """Appends one row per epoch (epoch and every log value) to a CSV file.

    Keras: ``keras.callbacks.CSVLogger(filename, separator=",", append=False)``.

    Example::

        fit(model, loss_fn, opt, train, epochs=5, callbacks=[CSVLogger("log.csv")])
    """

    def __init__(self, filename: str, separator: str = ",", append: bool = False) -> None:
        self.filename, self.sep, self.append = str(filename), separator, append
        self._keys = None

    def _main(self) -> bool:
        return getattr(self.ctx, "is_main_process", True)

    def on_train_begin(self, logs=None):
        self._file = None
        if not self._main():
            return  # rank 0 writes the log in a distributed job
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self._header_done = exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._file is None:
            return
        if self._writer is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.sep)
            if not self._header_done:
                self._writer.writerow(["epoch"] + self._keys)
        self._writer.writerow([epoch] + [logs.get(k, "") for k in self._keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()


def _fmt(logs: dict) -> str:
    keys = [k for k in logs if k not in ("time", "samples_per_s", "lr")]
    return " - ".join(f"{k} {logs[k]:.4f}" for k in keys)


class ProgressBar(Callback):
    """A tqdm bar per epoch with loss, metrics and samples/s on a terminal; one summary line per
    epoch otherwise. fit() adds it when progress=True."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self._t0, self._seen = time.perf_counter(), 0
        self.epoch = epoch
        if self.tty:
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency
                self.tty = False
                return
            self.bar = tqdm(total=self.ctx.steps_per_epoch, desc=f"Epoch {epoch + 1}/{self.ctx.epochs}",
                            file=self.stream, leave=True, dynamic_ncols=True)

    def on_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self._seen += logs.get("size", 0)
            rate = self._seen / max(time.perf_counter() - self._t0, 1e-9)
            self.bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.4f}", samples_s=f"{rate:.0f}", refresh=False)
            self.bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.set_postfix_str(_fmt(logs) + f" - {logs.get('samples_per_s', 0):.0f} samples/s")
            self.bar.close()
            self.bar = None
        else:
            print(f"Epoch {epoch + 1}/{self.ctx.epochs} - {_fmt(logs)} - {logs.get('time', 0):.2f}s - "
                  f"{logs.get('samples_per_s', 0):.0f} samples/s", file=self.stream, flush=True)
