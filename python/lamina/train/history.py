"""History: per-epoch losses and metrics returned by fit()."""
from __future__ import annotations


class History:
    """``history.history`` maps 'loss', 'val_loss', '<metric>', 'val_<metric>', 'lr', 'time',
    'samples_per_s' to per-epoch lists; ``history.epoch`` lists the epoch numbers."""

    def __init__(self) -> None:
        self.history: dict = {}
        self.epoch: list = []

    def record(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def best(self, key: str = "val_loss", mode: str = "min"):
        vals = self.history[key]
        return min(vals) if mode == "min" else max(vals)

    def state_dict(self) -> dict:
        return {"history": {k: list(v) for k, v in self.history.items()}, "epoch": list(self.epoch)}

    def load_state_dict(self, state: dict) -> None:
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.epoch = list(state["epoch"])

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"
