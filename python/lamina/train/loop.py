"""fit / evaluate / predict. Batch gradient descent, SGD and mini-batch SGD are the same loop:
``batch_size`` = the dataset size, 1, or anything in between."""
from __future__ import annotations

import time
from types import SimpleNamespace

from ..autograd.grad_mode import no_grad
from .callbacks import ProgressBar
from .history import History
from .metrics import resolve


def _loader(data, batch_size: int, shuffle: bool):
    """A DataLoader from a DataLoader, a Dataset, or an (inputs, targets) pair."""
    from ..data import DataLoader, Dataset, TensorDataset
    from ..ops.creation import as_tensor

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


def evaluate(model, loss_fn, data, metrics=("accuracy",), batch_size: int = 256, prefix: str = "") -> dict:
    """Average loss and metrics over ``data`` in eval mode without recording a graph."""
    loader = _loader(data, batch_size, False)
    mets = resolve(metrics)
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    sums = {name: [0.0, 0] for name, _ in mets}
    try:
        with no_grad():
            for batch in loader:
                x, y = _split(batch)
                out = model(x)
                bs = _batch_size(x)
                if loss_fn is not None:
                    total += float(loss_fn(out, y).item()) * bs
                n += bs
                for name, fn in mets:
                    r = fn(out, y)
                    s, c = r if isinstance(r, tuple) else (float(r) * bs, bs)
                    sums[name][0] += s
                    sums[name][1] += c
    finally:
        model.train(was_training)
    logs = {}
    if loss_fn is not None:
        logs[prefix + "loss"] = total / max(n, 1)
    for name, (s, c) in sums.items():
        logs[prefix + name] = s / max(c, 1)
    return logs


def predict(model, data, batch_size: int = 256):
    """Model outputs over ``data`` (a tensor/array of inputs, a Dataset or a DataLoader),
    concatenated along the batch dimension, in eval mode."""
    from ..data import DataLoader, Dataset
    from ..ops.creation import as_tensor
    from ..ops.indexing import cat

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
        initial_epoch: int = 0, resume_from=None, history: History | None = None) -> History:
    """Trains ``model`` Keras-style and returns a History.

    train_data / val_data: a DataLoader, a Dataset, or an (inputs, targets) pair (batched with
    ``batch_size``; shuffled each epoch when ``shuffle``). ``scheduler`` is stepped once per epoch
    (ReduceLROnPlateau with val_loss, or loss without validation data). ``resume_from``: a
    checkpoint written by ModelCheckpoint / save_training_state; training continues after its epoch.
    """
    from .checkpoint import load_training_state

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
        total, n = 0.0, 0
        sums = {name: [0.0, 0] for name, _ in mets}
        for i, batch in enumerate(train_loader):
            x, y = _split(batch)
            for cb in cbs:
                cb.on_batch_begin(i)
            optimizer.zero_grad()
            out = model(x)
            loss = loss_fn(out, y)
            loss.backward()
            optimizer.step()
            bs = _batch_size(x)
            lv = float(loss.item())
            total += lv * bs
            n += bs
            for name, fn in mets:
                r = fn(out, y)
                s, c = r if isinstance(r, tuple) else (float(r) * bs, bs)
                sums[name][0] += s
                sums[name][1] += c
            for cb in cbs:
                cb.on_batch_end(i, {"loss": lv, "size": bs})
        elapsed = time.perf_counter() - t0
        logs = {"loss": total / max(n, 1)}
        for name, (s, c) in sums.items():
            logs[name] = s / max(c, 1)
        if val_data is not None:
            logs.update(evaluate(model, loss_fn, val_data, metrics, batch_size=max(batch_size, 256), prefix="val_"))
        if scheduler is not None:
            if type(scheduler).__name__ == "ReduceLROnPlateau":
                scheduler.step(logs.get("val_loss", logs["loss"]))
            else:
                scheduler.step()
        logs["lr"] = float(optimizer.param_groups[0]["lr"])
        logs["time"] = elapsed
        logs["samples_per_s"] = n / max(elapsed, 1e-9)
        history.record(epoch, logs)
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        if ctx.stop_training:
            break
    for cb in cbs:
        cb.on_train_end(logs)
    return history
