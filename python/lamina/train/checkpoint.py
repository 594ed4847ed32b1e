"""Whole-training-state checkpoints: model, optimizer, scheduler, epoch, RNG and history, so a
resumed run reproduces the uninterrupted one. Written atomically by lamina.save."""
from __future__ import annotations

from .. import serialization
from .._runtime import get_rng_state, set_rng_state


def save_training_state(path, model, optimizer=None, scheduler=None, epoch: int = 0, history=None) -> None:
    """Saves everything needed to resume after ``epoch`` (0-based, completed)."""
    seed, offset = get_rng_state()
    state = {
        "format": "lamina-training-state-1",
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": int(epoch),
        "rng": {"seed": int(seed), "offset": int(offset)},
        "history": history.state_dict() if history is not None else None,
    }
    serialization.save(state, path)


def load_training_state(path, model, optimizer=None, scheduler=None) -> dict:
    """Restores model/optimizer/scheduler/RNG in place; returns {'epoch', 'history'}."""
    state = serialization.load(path)
    if not isinstance(state, dict) or state.get("format") != "lamina-training-state-1":
        raise ValueError(f"{path}: not a lamina training-state checkpoint (saved by ModelCheckpoint / "
                         "save_training_state); for weights only use model.load_state_dict(lamina.load(path))")
    model.load_state_dict(state["model"])
    if optimizer is not None and state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    set_rng_state((state["rng"]["seed"], state["rng"]["offset"]))
    return {"epoch": state["epoch"], "history": state["history"]}
