"""fit / evaluate / predict. Batch gradient descent, SGD and mini-batch SGD are the same loop:
``batch_size`` = the dataset size, 1, or anything in between."""
from __future__ import annotations

import time
import warnings
from types import SimpleNamespace

from ..autograd.grad_mode import no_grad
from ..data import DataLoader, Dataset, TensorDataset
from ..ops.creation import as_tensor
from ..ops.join import cat
from . import _dist
from ._interrupt import DeferSigint, StepGuard, TrainingInterrupted
from .callbacks import ProgressBar
from .checkpoint import load_training_state
from .history import History
from .metrics import resolve


def _loader(data, batch_size: int, shuffle: bool):
    """A DataLoader from a DataLoader, a Dataset, or an (inputs, targets) pair."""
    if data is None:
        return None
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        data = TensorDataset(as_tensor(data[0]), as_tensor(data[1]))
    if isinstance(data, Dataset):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle)
    raise TypeError(f"expected a DataLoader, a Dataset or an (inputs, targets) pair, got {type(data).__name__}")


def _split(batch):
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ValueError("each batch must be an (inputs, targets) pair")


def _batch_size(x) -> int:
    return x.shape[0] if hasattr(x, "shape") and len(x.shape) else 1


class _Meter:
    """Sample-weighted running averages of the loss and each metric over an epoch."""

    def __init__(self, metrics) -> None:
        self.metrics = metrics
        self.loss_sum, self.n = 0.0, 0
        self.sums = {name: [0.0, 0] for name, _ in metrics}

    def update(self, out, y, bs: int, loss_value=None) -> None:
        if loss_value is not None:
            self.loss_sum += loss_value * bs
        self.n += bs
        for name, fn in self.metrics:
            r = fn(out, y)
            s, c = r if isinstance(r, tuple) else (float(r) * bs, bs)
            self.sums[name][0] += s
            self.sums[name][1] += c

    def reduce(self, pg, elapsed: float = 0.0) -> float:
        """Replaces the sums with their totals over all ranks and returns the longest rank's
        ``elapsed`` (the same on every rank)."""
        names = list(self.sums)
        flat = [elapsed, self.loss_sum, float(self.n)] + [x for k in names for x in self.sums[k]]
        rows = _dist.gather_rows(pg, flat)
        tot = rows[0].copy()
        for row in rows[1:]:
            tot += row
        self.loss_sum, self.n = float(tot[1]), int(tot[2])
        for i, k in enumerate(names):
            self.sums[k] = [float(tot[3 + 2 * i]), float(tot[4 + 2 * i])]
        return float(rows[:, 0].max())

    def logs(self, prefix: str = "", with_loss: bool = True) -> dict:
        out = {prefix + "loss": self.loss_sum / max(self.n, 1)} if with_loss else {}
        for name, (s, c) in self.sums.items():
            out[prefix + name] = s / max(c, 1)
        return out


def _evaluate_meter(model, loss_fn, data, metrics, batch_size: int) -> _Meter:
    loader = _loader(data, batch_size, False)
    meter = _Meter(resolve(metrics))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                x, y = _split(batch)
                out = model(x)
                lv = float(loss_fn(out, y).item()) if loss_fn is not None else None
                meter.update(out, y, _batch_size(x), lv)
    finally:
        model.train(was_training)
    return meter


def evaluate(model, loss_fn, data, metrics=("accuracy",), batch_size: int = 256, prefix: str = "") -> dict:
    """Average loss and metrics over ``data`` in eval mode without recording a graph.

    Keras: ``model.evaluate``. ``data`` as fit's ``val_data``; returns ``{"loss": ..., "accuracy":
    ...}`` (keys prefixed with ``prefix``; no "loss" when ``loss_fn`` is None).

    Example::

        evaluate(model, nn.CrossEntropyLoss(), DataLoader(Digits(train=False), batch_size=256))
    """
    return _evaluate_meter(model, loss_fn, data, metrics, batch_size).logs(prefix, with_loss=loss_fn is not None)


def predict(model, data, batch_size: int = 256):
    """Model outputs over ``data`` (a tensor/array of inputs, a Dataset or a DataLoader),
    concatenated along the batch dimension, in eval mode.

    Keras: ``model.predict``; PyTorch: ``with torch.no_grad(): model.eval(); model(x)``.

    Example::

        logits = predict(model, x_test)          # (N, num_classes)
    """
    was_training = model.training
    model.eval()
    outs = []
    try:
        with no_grad():
            if isinstance(data, (DataLoader, Dataset)):
                loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size)
                for batch in loader:
                    x = batch[0] if isinstance(batch, (tuple, list)) else batch
                    outs.append(model(x))
            else:
                x = as_tensor(data)
                for i in range(0, x.shape[0], batch_size):
                    outs.append(model(x[i:i + batch_size]))
    finally:
        model.train(was_training)
    return cat(outs, 0)


def fit(model, loss_fn, optimizer, train_data, val_data=None, epochs: int = 1, metrics=("accuracy",),
        callbacks=(), scheduler=None, progress: bool = True, batch_size: int = 32, shuffle: bool = True,
        initial_epoch: int = 0, resume_from=None, history: History | None = None, train_step=None) -> History:
    """Trains ``model`` Keras-style and returns a :class:`History`.

    Keras equivalent: ``model.fit(x, y, validation_data=..., epochs=..., callbacks=...)``; in
    PyTorch this is the hand-written loop (zero_grad, forward, loss, backward, step) it runs.

    Args:
        model: any ``nn.Module``; put in training mode for each epoch, eval mode for validation.
        loss_fn: ``loss_fn(outputs, targets) -> scalar Tensor``, e.g. ``nn.CrossEntropyLoss()``.
        optimizer: a ``lamina.optim`` optimizer over the model's parameters.
        train_data, val_data: a DataLoader, a Dataset, or an (inputs, targets) pair of Tensors or
            NumPy arrays (batched with ``batch_size``, default 32; shuffled each epoch when
            ``shuffle``, default True). ``val_data=None`` (default) skips validation.
        epochs: the epoch to stop before (default 1); with ``initial_epoch`` / ``resume_from``
            training runs epochs ``initial_epoch .. epochs - 1``.
        metrics: names or callables, default ``("accuracy",)``. Names: ``"accuracy"`` (alias
            ``"acc"``: argmax over classes, or a 0.5 threshold for one output column), ``"mse"``,
            ``"mae"``; a callable ``fn(outputs, targets)`` returns a float (averaged per batch) or
            an exact ``(sum, count)`` pair and is logged under its ``__name__``.
        callbacks: ``Callback`` instances: ``EarlyStopping``, ``ModelCheckpoint``, ``CSVLogger``,
            ``LearningRateScheduler``, ``TensorBoard``, ``lamina.diagnostics.GradientFlow``, or
            your own subclass (hooks ``on_train_begin/end``, ``on_epoch_begin/end``,
            ``on_batch_begin/end``; ``self.ctx.stop_training = True`` stops after the epoch).
        scheduler: a ``lamina.optim.lr_scheduler`` scheduler, stepped once per epoch
            (ReduceLROnPlateau with val_loss, or loss without validation data).
        progress: a tqdm bar on a terminal, one line per epoch otherwise (default True).
        resume_from: a checkpoint written by ModelCheckpoint / save_training_state; training
            continues after its epoch.

    Returns:
        History: ``history[key]`` is a list with one float per epoch trained. Keys: ``"loss"``
        and each metric (``"accuracy"``, ...) averaged over the epoch's training batches;
        ``"val_loss"`` and ``"val_<metric>"`` on ``val_data`` at the end of the epoch (eval mode);
        ``"lr"``, ``"time"``, ``"samples_per_s"``. ``history["val_accuracy"][-1]`` is the last
        epoch trained; when EarlyStopping restored the best weights, ``history.restored_epoch``
        names the epoch the returned model comes from and ``history.final_metrics`` holds its
        metrics (see :class:`History`).

    Example::

        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      DataLoader(Digits(train=True), batch_size=32, shuffle=True),
                      val_data=DataLoader(Digits(train=False), batch_size=256), epochs=5)
        history["val_accuracy"]       # five floats

    ``train_step(model, x, y) -> (outputs, loss)``: replaces ``outputs = model(x); loss =
    loss_fn(outputs, y)`` for training batches (zero_grad, ``loss.backward()``, the optimizer step,
    callbacks and metrics stay as they are), for a model whose training objective is not its
    forward pass, e.g. an RBM's contrastive-divergence surrogate; validation still uses ``loss_fn``.

    In a ``lamina.distributed`` job (a DistributedDataParallel model, every rank calling fit):
    a Dataset or (inputs, targets) pair is sharded with a DistributedSampler (``batch_size`` per
    rank; give a DataLoader its own DistributedSampler), whose ``set_epoch`` is called each epoch;
    loss and metrics are averaged over all ranks' samples, so the logs, early stopping and
    ReduceLROnPlateau decide the same on every rank; the progress bar, CSVLogger and
    ModelCheckpoint act on rank 0 only; ``resume_from`` works with any number of ranks (every
    rank reads the checkpoint, so it must be on a filesystem they share).

    Faults: an exception inside a training step (forward, loss, backward, optimizer step: out of
    memory, an anomaly-mode NaN check, a bad batch) leaves the parameters, buffers (BatchNorm
    statistics) and optimizer state exactly as before that step (gradients are cleared) and
    propagates. Ctrl-C (SIGINT, main thread) stops after the current step: no partial-epoch
    checkpoint is written, ``on_train_end`` runs, and ``TrainingInterrupted`` (a
    KeyboardInterrupt carrying ``.history``) is raised; a second Ctrl-C interrupts at once.
    """
    # In a distributed job every rank must stop at the same step and the signal reaches the ranks
    # at different times: there Ctrl-C keeps its usual meaning.
    with DeferSigint("fit", enabled=_dist.group() is None) as sigint:
        return _fit(model, loss_fn, optimizer, train_data, val_data, epochs, metrics, callbacks, scheduler,
                    progress, batch_size, shuffle, initial_epoch, resume_from, history, train_step, sigint)


def _train_step(model, loss_fn, optimizer, x, y, train_step, guard: StepGuard):
    """One step, all or nothing (see fit): returns (outputs, loss)."""
    guard.save()
    try:
        optimizer.zero_grad()
        if train_step is None:
            out = model(x)
            loss = loss_fn(out, y)
        else:
            out, loss = train_step(model, x, y)
        loss.backward()
        optimizer.step()
    except BaseException:
        guard.restore()
        optimizer.zero_grad()
        raise
    return out, loss


def _fit(model, loss_fn, optimizer, train_data, val_data, epochs, metrics, callbacks, scheduler, progress,
         batch_size, shuffle, initial_epoch, resume_from, history, train_step, sigint) -> History:
    pg = _dist.group()
    history = history if history is not None else History()
    if resume_from is not None:
        st = load_training_state(resume_from, model, optimizer, scheduler)
        initial_epoch = st["epoch"] + 1
        if st["history"] is not None:
            history.load_state_dict(st["history"])
    if pg is not None and isinstance(train_data, (tuple, list)) and len(train_data) == 2:
        train_data = TensorDataset(as_tensor(train_data[0]), as_tensor(train_data[1]))
    if pg is not None and isinstance(val_data, (tuple, list)) and len(val_data) == 2:
        val_data = TensorDataset(as_tensor(val_data[0]), as_tensor(val_data[1]))
    train_loader = _dist.train_loader(pg, train_data, batch_size, shuffle) if pg is not None else None
    if train_loader is None:
        train_loader = _loader(train_data, batch_size, shuffle)
    if pg is not None:
        val_data = _dist.val_shard(pg, val_data)
        if isinstance(train_loader, DataLoader) and not hasattr(train_loader.sampler, "set_epoch"):
            warnings.warn(f"fit: rank {pg.rank} of {pg.size}: the training DataLoader has no DistributedSampler, so "
                          "every rank reads the whole dataset (pass a Dataset, or a DataLoader with "
                          "sampler=DistributedSampler(dataset))", stacklevel=2)
    mets = resolve(metrics)
    cbs = list(callbacks)
    main = pg is None or pg.rank == 0
    if progress and main:
        cbs.append(ProgressBar())
    ctx = SimpleNamespace(model=model, optimizer=optimizer, scheduler=scheduler, history=history,
                          stop_training=False, epochs=epochs, steps_per_epoch=len(train_loader),
                          train_loader=train_loader,
                          is_main_process=main, rank=0 if pg is None else pg.rank,
                          world_size=1 if pg is None else pg.size)
    sampler = getattr(train_loader, "sampler", None)
    for cb in cbs:
        cb.set_context(ctx)
    for cb in cbs:
        cb.on_train_begin()
    logs = {}
    guard = StepGuard(model)
    stopped_at = None
    for epoch in range(initial_epoch, epochs):
        for cb in cbs:
            cb.on_epoch_begin(epoch)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        model.train()
        t0 = time.perf_counter()
        meter = _Meter(mets)
        for i, batch in enumerate(train_loader):
            x, y = _split(batch)
            for cb in cbs:
                cb.on_batch_begin(i)
            out, loss = _train_step(model, loss_fn, optimizer, x, y, train_step, guard)
            bs = _batch_size(x)
            lv = float(loss.item())
            meter.update(out, y, bs, lv)
            for cb in cbs:
                cb.on_batch_end(i, {"loss": lv, "size": bs})
            if sigint.requested:
                stopped_at = (epoch, i + 1, len(train_loader))
                break
        if stopped_at is not None:
            break
        elapsed = time.perf_counter() - t0
        if pg is not None:
            elapsed = meter.reduce(pg, elapsed)
        logs = meter.logs()
        if val_data is not None:
            vm = _evaluate_meter(model, loss_fn, val_data, metrics, max(batch_size, 256))
            if pg is not None:
                vm.reduce(pg)
            logs.update(vm.logs("val_"))
        if scheduler is not None:
            if type(scheduler).__name__ == "ReduceLROnPlateau":
                scheduler.step(logs.get("val_loss", logs["loss"]))
            else:
                scheduler.step()
        logs["lr"] = float(optimizer.param_groups[0]["lr"])
        logs["time"] = elapsed
        logs["samples_per_s"] = meter.n / max(elapsed, 1e-9)
        history.record(epoch, logs)
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        if pg is not None:
            ctx.stop_training = _dist.any_rank(pg, ctx.stop_training)
        if ctx.stop_training:
            break
        if sigint.requested and epoch + 1 < epochs:  # Ctrl-C during validation or the callbacks
            stopped_at = (epoch, None, None)
            break
    for cb in cbs:
        cb.on_train_end(logs)
    if stopped_at is not None:
        epoch, step, steps = stopped_at
        if step is None:
            where = f"at the end of epoch {epoch} (complete, its callbacks and checkpoints done)"
        else:
            done = f"epoch {epoch - 1} was the last complete one" if epoch > initial_epoch else "no epoch completed"
            where = (f"after step {step} of {steps} in epoch {epoch} ({done}); the model and optimizer hold the "
                     f"state after that step, no checkpoint of the partial epoch was written")
        raise TrainingInterrupted(f"fit: interrupted by Ctrl-C (SIGINT) {where}; continue exactly from the last "
                                  f"checkpoint with fit(..., resume_from=path)", history)
    if pg is not None:
        _dist.barrier(pg, "fit: end of training")  # rank 0's checkpoints are on disk for everyone
    return history
