"""fit / evaluate / predict. Batch gradient descent, SGD and mini-batch SGD are the same loop:
``batch_size`` = the dataset size, 1, or anything in between."""
from __future__ import annotations

import time
from types import SimpleNamespace

from ..autograd.grad_mode import no_grad
from ..data import DataLoader, Dataset, TensorDataset
from ..ops.creation import as_tensor
from ..ops.indexing import cat
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

    def logs(self, prefix: str = "", with_loss: bool = True) -> dict:
        out = {prefix + "loss": self.loss_sum / max(self.n, 1)} if with_loss else {}
        for name, (s, c) in self.sums.items():
            out[prefix + name] = s / max(c, 1)
        return out


def evaluate(model, loss_fn, data, metrics=("accuracy",), batch_size: int = 256, prefix: str = "") -> dict:
    """Average loss and metrics over ``data`` in eval mode without recording a graph."""
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
    return meter.logs(prefix, with_loss=loss_fn is not None)


def predict(model, data, batch_size: int = 256):
    """Model outputs over ``data`` (a tensor/array of inputs, a Dataset or a DataLoader),
    concatenated along the batch dimension, in eval mode."""
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
    """Trains ``model`` Keras-style and returns a History.

    train_data / val_data: a DataLoader, a Dataset, or an (inputs, targets) pair (batched with
    ``batch_size``; shuffled each epoch when ``shuffle``). ``scheduler`` is stepped once per epoch
    (ReduceLROnPlateau with val_loss, or loss without validation data). ``resume_from``: a
    checkpoint written by ModelCheckpoint / save_training_state; training continues after its epoch.
    ``train_step(model, x, y) -> (outputs, loss)``: replaces ``outputs = model(x); loss =
    loss_fn(outputs, y)`` for training batches (zero_grad, ``loss.backward()``, the optimizer step,
    callbacks and metrics stay as they are), for a model whose training objective is not its
    forward pass, e.g. an RBM's contrastive-divergence surrogate; validation still uses ``loss_fn``.
    """
    history = history if history is not None else History()
    if resume_from is not None:
        st = load_training_state(resume_from, model, optimizer, scheduler)
        initial_epoch = st["epoch"] + 1
        if st["history"] is not None:
            history.load_state_dict(st["history"])
    train_loader = _loader(train_data, batch_size, shuffle)
    mets = resolve(metrics)
    cbs = list(callbacks)
    if progress:
        cbs.append(ProgressBar())
    ctx = SimpleNamespace(model=model, optimizer=optimizer, scheduler=scheduler, history=history,
                          stop_training=False, epochs=epochs, steps_per_epoch=len(train_loader))
    for cb in cbs:
        cb.set_context(ctx)
    for cb in cbs:
        cb.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        for cb in cbs:
            cb.on_epoch_begin(epoch)
        model.train()
        t0 = time.perf_counter()
        meter = _Meter(mets)
        for i, batch in enumerate(train_loader):
            x, y = _split(batch)
            for cb in cbs:
                cb.on_batch_begin(i)
            optimizer.zero_grad()
            if train_step is None:
                out = model(x)
                loss = loss_fn(out, y)
            else:
                out, loss = train_step(model, x, y)
            loss.backward()
            optimizer.step()
            bs = _batch_size(x)
            lv = float(loss.item())
            meter.update(out, y, bs, lv)
            for cb in cbs:
                cb.on_batch_end(i, {"loss": lv, "size": bs})
        elapsed = time.perf_counter() - t0
        logs = meter.logs()
        if val_data is not None:
            logs.update(evaluate(model, loss_fn, val_data, metrics, batch_size=max(batch_size, 256), prefix="val_"))
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
        if ctx.stop_training:
            break
    for cb in cbs:
        cb.on_train_end(logs)
    return history
