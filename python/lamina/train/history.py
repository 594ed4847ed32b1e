"""History: per-epoch losses and metrics returned by fit(), and which epoch's weights the returned
model holds when EarlyStopping restored the best ones."""
from __future__ import annotations


class History:
    """What ``fit`` returns: per-epoch lists of losses and metrics.

    ``history[key]`` (or ``history.history[key]``) is a list with one float per epoch trained, in
    order; ``history.epoch`` lists the 0-based epoch numbers. The keys:

    * ``"loss"``: the mean training loss over the epoch's batches (sample-weighted, measured while
      the weights were changing, in training mode);
    * ``"<metric>"`` for each of fit's ``metrics`` (``"accuracy"`` by default), the same way;
    * ``"val_loss"``, ``"val_<metric>"``: on ``val_data`` at the end of the epoch, in eval mode;
    * ``"lr"``: the first param group's learning rate after the epoch's scheduler step;
    * ``"time"`` (seconds of training in the epoch) and ``"samples_per_s"``.

    So ``history["val_accuracy"][-1]`` is the validation accuracy at the end of the *last epoch
    trained*. When ``EarlyStopping(restore_best_weights=True)`` put back an earlier epoch's
    weights, the model ``fit`` leaves behind is that epoch's: ``history.restored_epoch`` names it
    (0-based; None when nothing was restored) and ``history.final_metrics`` holds its logs — the
    metrics of the model you now have (the same weights and buffers, evaluated in eval mode, so
    re-evaluating gives the same values). ``history.stopped_epoch`` is the epoch after which
    EarlyStopping stopped training (None if it ran to ``epochs``).

    Keras equivalent: ``keras.callbacks.History`` (``history.history``, ``history.epoch``); the
    restored/final fields are lamina's.

    Example::

        history = fit(model, loss_fn, opt, train_loader, val_data=val_loader, epochs=50,
                      callbacks=[EarlyStopping(patience=3)])
        history["val_loss"]                      # one float per epoch trained
        history.final_metrics["val_accuracy"]    # the returned model's (the best epoch's)
    """

    def __init__(self) -> None:
        self.history: dict = {}
        self.epoch: list = []
        self.restored_epoch: int | None = None
        self.stopped_epoch: int | None = None

    def record(self, epoch: int, logs: dict) -> None:
        """Appends one epoch's logs (every key's list grows by one)."""
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def logs_at(self, epoch: int) -> dict:
        """The logs recorded for 0-based ``epoch`` as a dict (``KeyError`` if it was not trained)."""
        if epoch not in self.epoch:
            raise KeyError(f"History: epoch {epoch} was not recorded (epochs: {self.epoch})")
        i = self.epoch.index(epoch)
        return {k: v[i] for k, v in self.history.items() if i < len(v)}

    @property
    def final_metrics(self) -> dict:
        """The logs describing the model fit returned: the restored epoch's when EarlyStopping
        restored weights, otherwise the last epoch's ({} before any epoch)."""
        if not self.epoch:
            return {}
        return self.logs_at(self.restored_epoch if self.restored_epoch is not None else self.epoch[-1])

    def best(self, key: str = "val_loss", mode: str = "min"):
        """The smallest (mode "min") or largest (mode "max") value recorded under ``key``."""
        vals = self.history[key]
        return min(vals) if mode == "min" else max(vals)

    def state_dict(self) -> dict:
        """A plain dict for checkpoints (see ``load_state_dict``)."""
        return {"history": {k: list(v) for k, v in self.history.items()}, "epoch": list(self.epoch),
                "restored_epoch": -1 if self.restored_epoch is None else self.restored_epoch,
                "stopped_epoch": -1 if self.stopped_epoch is None else self.stopped_epoch}

    def load_state_dict(self, state: dict) -> None:
        """Restores what ``state_dict`` returned (older checkpoints without the epoch fields load too)."""
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.epoch = list(state["epoch"])
        r, s = int(state.get("restored_epoch", -1)), int(state.get("stopped_epoch", -1))
        self.restored_epoch = None if r < 0 else r
        self.stopped_epoch = None if s < 0 else s

    def __repr__(self) -> str:
        extra = "" if self.restored_epoch is None else f", restored_epoch={self.restored_epoch}"
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)}{extra})"
