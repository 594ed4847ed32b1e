"""``lamina.htm.SpatialPooler``: the HTM spatial pooler (Cui, Ahmad & Hawkins 2017), a thin
Python layer over the C++ core (cpp/htm/spatial_pooler.cpp) with htm.core's argument names and
Python defaults."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from .. import _C
from . import _io

__all__ = ["SpatialPooler"]

Dims = Union[int, Sequence[int]]


class SpatialPooler:
    """Maps a binary input to a sparse set of active columns, keeping similar inputs on
    overlapping columns.

    ``compute(input, learn)`` takes a boolean (or 0/1) NumPy array or lamina tensor of shape
    ``input_dimensions`` (or flat) and returns a boolean column mask of shape ``column_dimensions``
    of the same kind. Each column sees a random ``potential_pct`` of the inputs within
    ``potential_radius`` of its centre; its overlap is the number of active inputs on connected
    synapses (permanence >= ``syn_perm_connected``); inhibition (global, or local within the
    inhibition radius) keeps about ``local_area_density`` of the columns; learning raises the
    permanences of winners' synapses to active inputs by ``syn_perm_active_inc`` and lowers the
    others by ``syn_perm_inactive_dec``, tracks duty cycles over ``duty_cycle_period`` steps,
    boosts rarely active columns by ``exp((target - duty) * boost_strength)`` and bumps columns
    that rarely overlap (below ``min_pct_overlap_duty_cycle`` of the best neighbour)."""

    def __init__(self, input_dimensions: Dims, column_dimensions: Dims, potential_radius: int = 16,
                 potential_pct: float = 0.5, global_inhibition: bool = False,
                 local_area_density: float = 0.02, stimulus_threshold: int = 0,
                 syn_perm_inactive_dec: float = 0.01, syn_perm_active_inc: float = 0.1,
                 syn_perm_connected: float = 0.1, min_pct_overlap_duty_cycle: float = 0.001,
                 duty_cycle_period: int = 1000, boost_strength: float = 0.0, seed: int = 1,
                 wrap_around: bool = True) -> None:
        self.input_dimensions = _io.dims(input_dimensions, "input_dimensions", "SpatialPooler")
        self.column_dimensions = _io.dims(column_dimensions, "column_dimensions", "SpatialPooler")
        self._config: dict[str, Any] = {
            "input_dimensions": list(self.input_dimensions),
            "column_dimensions": list(self.column_dimensions),
            "potential_radius": int(potential_radius), "potential_pct": float(potential_pct),
            "global_inhibition": bool(global_inhibition), "local_area_density": float(local_area_density),
            "stimulus_threshold": int(stimulus_threshold),
            "syn_perm_inactive_dec": float(syn_perm_inactive_dec),
            "syn_perm_active_inc": float(syn_perm_active_inc),
            "syn_perm_connected": float(syn_perm_connected),
            "min_pct_overlap_duty_cycle": float(min_pct_overlap_duty_cycle),
            "duty_cycle_period": int(duty_cycle_period), "boost_strength": float(boost_strength),
            "seed": int(seed), "wrap_around": bool(wrap_around)}
        if not 0 < self._config["local_area_density"] < 1:
            raise ValueError(f"SpatialPooler: local_area_density must be in (0, 1), got "
                             f"{local_area_density}")
        if self._config["seed"] < 0:
            raise ValueError(f"SpatialPooler: seed must be >= 0, got {seed}")
        self._core = _C.HtmSpatialPooler(**self._config)

    def __repr__(self) -> str:
        return (f"SpatialPooler(input_dimensions={self.input_dimensions}, column_dimensions="
                f"{self.column_dimensions}, global_inhibition={self._config['global_inhibition']}, "
                f"local_area_density={self._config['local_area_density']})")

    @property
    def num_inputs(self) -> int:
        """Number of input bits (product of input_dimensions)."""
        return self._core.num_inputs

    @property
    def num_columns(self) -> int:
        """Number of columns (product of column_dimensions)."""
        return self._core.num_columns

    @property
    def inhibition_radius(self) -> int:
        """Current local-inhibition radius in columns (max column dimension when global)."""
        return self._core.inhibition_radius

    def compute(self, input: Any, learn: bool = True) -> Any:
        """One step: the active-column mask (shape ``column_dimensions``) for ``input``."""
        x, as_tensor = _io.binary_input(input, self.input_dimensions, "SpatialPooler.compute")
        out = self._core.compute(x, bool(learn)).astype(bool).reshape(self.column_dimensions)
        return _io.output(out, as_tensor)

    # Introspection (NumPy arrays over the flat columns).
    def get_overlaps(self) -> np.ndarray:
        """Raw overlaps of the last compute()."""
        return self._core.overlaps()

    def get_boosted_overlaps(self) -> np.ndarray:
        """Overlaps times boost factors of the last compute() (raw overlaps when not learning)."""
        return self._core.boosted_overlaps()

    def get_connected_counts(self) -> np.ndarray:
        """Connected synapses per column."""
        return self._core.connected_counts()

    def get_permanences(self) -> np.ndarray:
        """[columns, inputs] permanences (0 outside each column's potential pool)."""
        return self._core.get_state()["permanences"]

    def get_potential_pools(self) -> np.ndarray:
        """[columns, inputs] boolean potential pools."""
        return self._core.get_state()["potential"].astype(bool)

    def get_boost_factors(self) -> np.ndarray:
        """Per-column boost factors."""
        return self._core.get_state()["boost"]

    def get_active_duty_cycles(self) -> np.ndarray:
        """Per-column moving average of being active."""
        return self._core.get_state()["active_duty"]

    def get_overlap_duty_cycles(self) -> np.ndarray:
        """Per-column moving average of having a non-zero overlap."""
        return self._core.get_state()["overlap_duty"]

    # Save / load (through lamina.save / lamina.load: plain dicts of arrays and numbers).
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild this pooler exactly: its arguments and its learned state."""
        return {"type": "SpatialPooler", "config": dict(self._config), "state": self._core.get_state()}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        """Restores learned state saved by state_dict() (the arguments must match)."""
        if sd.get("type") != "SpatialPooler":
            raise ValueError(f"SpatialPooler.load_state_dict: not a SpatialPooler state "
                             f"(type {sd.get('type')!r})")
        if dict(sd["config"]) != self._config:
            raise ValueError("SpatialPooler.load_state_dict: the saved arguments differ from this "
                             "pooler's; build it with SpatialPooler.from_state_dict instead")
        self._core.set_state(dict(sd["state"]))

    @classmethod
    def from_state_dict(cls, sd: dict[str, Any]) -> SpatialPooler:
        """A new SpatialPooler with the saved arguments and learned state."""
        cfg = dict(sd["config"])
        sp = cls(**cfg)
        sp.load_state_dict(sd)
        return sp
