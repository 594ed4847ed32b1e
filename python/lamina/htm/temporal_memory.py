"""``lamina.htm.TemporalMemory``: the HTM sequence memory (Hawkins & Ahmad 2016; BAMI), a thin
Python layer over the C++ core (cpp/htm/temporal_memory.cpp) with htm.core's argument names and
defaults. Cells are column-major: cell = column * cells_per_column + i."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _C
from . import _io

__all__ = ["TemporalMemory"]


class TemporalMemory:
    """Learns transitions between sparse column activations with distal dendrite segments.

    ``compute(active_columns, learn)`` takes a boolean column mask or column indices. In each
    active column, cells that were predicted (had an active segment: at least
    ``activation_threshold`` connected synapses, permanence >= ``connected_permanence``, to the
    previous active cells) become active; a column with no predicted cell bursts (all its cells
    active). With ``learn``, correctly predicting segments are reinforced (``permanence_increment``
    / ``permanence_decrement``) and grow up to ``max_new_synapse_count`` synapses to previous
    winner cells; a bursting column learns on its best matching segment (>= ``min_threshold``
    potential synapses) or grows a new segment on its least-used cell; matching segments in
    inactive columns lose ``predicted_segment_decrement``. ``anomaly`` is the fraction of active
    columns that were not predicted."""

    def __init__(self, column_dimensions: int | Sequence[int], cells_per_column: int = 32,
                 activation_threshold: int = 13, initial_permanence: float = 0.21,
                 connected_permanence: float = 0.5, min_threshold: int = 10,
                 max_new_synapse_count: int = 20, permanence_increment: float = 0.1,
                 permanence_decrement: float = 0.1, predicted_segment_decrement: float = 0.0,
                 max_segments_per_cell: int = 255, max_synapses_per_segment: int = 255,
                 seed: int = 42) -> None:
        self.column_dimensions = _io.dims(column_dimensions, "column_dimensions", "TemporalMemory")
        self._config: dict[str, Any] = {
            "column_dimensions": list(self.column_dimensions), "cells_per_column": int(cells_per_column),
            "activation_threshold": int(activation_threshold),
            "initial_permanence": float(initial_permanence),
            "connected_permanence": float(connected_permanence), "min_threshold": int(min_threshold),
            "max_new_synapse_count": int(max_new_synapse_count),
            "permanence_increment": float(permanence_increment),
            "permanence_decrement": float(permanence_decrement),
            "predicted_segment_decrement": float(predicted_segment_decrement),
            "max_segments_per_cell": int(max_segments_per_cell),
            "max_synapses_per_segment": int(max_synapses_per_segment), "seed": int(seed)}
        if self._config["seed"] < 0:
            raise ValueError(f"TemporalMemory: seed must be >= 0, got {seed}")
        core_args = {k: v for k, v in self._config.items() if k != "column_dimensions"}
        self._core = _C.HtmTemporalMemory(num_columns=int(np.prod(self.column_dimensions)), **core_args)

    def __repr__(self) -> str:
        return (f"TemporalMemory(column_dimensions={self.column_dimensions}, cells_per_column="
                f"{self.cells_per_column}, segments={self.num_segments()}, "
                f"synapses={self.num_synapses()})")

    @property
    def num_columns(self) -> int:
        """Number of columns (product of column_dimensions)."""
        return int(np.prod(self.column_dimensions))

    @property
    def cells_per_column(self) -> int:
        """Cells in each column."""
        return self._config["cells_per_column"]

    @property
    def num_cells(self) -> int:
        """num_columns * cells_per_column."""
        return self._core.num_cells

    @property
    def anomaly(self) -> float:
        """Raw anomaly of the last compute(): fraction of active columns that were not predicted
        (0 when no column was active)."""
        return self._core.anomaly

    def compute(self, active_columns: Any, learn: bool = True) -> None:
        """One time step with the given active columns (boolean mask or indices)."""
        idx = _io.column_indices(active_columns, self.num_columns, "TemporalMemory.compute")
        self._core.compute(idx, bool(learn))

    def reset(self) -> None:
        """Forgets the current sequence context (active, winner and predictive cells); learned
        synapses stay. Call between independent sequences."""
        self._core.reset()

    def get_active_cells(self) -> np.ndarray:
        """Boolean mask over all cells."""
        return _io.mask_from_indices(self._core.active_cells(), self.num_cells)

    def get_winner_cells(self) -> np.ndarray:
        """Boolean mask over all cells: the cells chosen to learn this step."""
        return _io.mask_from_indices(self._core.winner_cells(), self.num_cells)

    def get_predictive_cells(self) -> np.ndarray:
        """Cells predicted for the next step (those with an active segment)."""
        return _io.mask_from_indices(self._core.predictive_cells(), self.num_cells)

    def get_predicted_columns(self) -> np.ndarray:
        """Boolean mask over the columns that hold a predictive cell."""
        cols = self._core.predictive_cells() // self.cells_per_column
        return _io.mask_from_indices(cols, self.num_columns)

    def active_cell_indices(self) -> np.ndarray:
        """Sorted indices of the active cells (cheaper than the mask for a predictor)."""
        return self._core.active_cells()

    def num_segments(self) -> int:
        """Distal segments currently allocated."""
        return self._core.num_segments

    def num_synapses(self) -> int:
        """Synapses currently allocated."""
        return self._core.num_synapses

    def memory_bytes(self) -> int:
        """Approximate heap bytes of the segment/synapse storage."""
        return self._core.memory_bytes()

    def state_dict(self) -> dict[str, Any]:
        """Arguments and learned state (segments, synapses, current cells, random state)."""
        return {"type": "TemporalMemory", "config": dict(self._config), "state": self._core.get_state()}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        """Restores learned state saved by state_dict() (the arguments must match)."""
        if sd.get("type") != "TemporalMemory":
            raise ValueError(f"TemporalMemory.load_state_dict: not a TemporalMemory state "
                             f"(type {sd.get('type')!r})")
        if dict(sd["config"]) != self._config:
            raise ValueError("TemporalMemory.load_state_dict: the saved arguments differ from this "
                             "memory's; build it with TemporalMemory.from_state_dict instead")
        self._core.set_state(dict(sd["state"]))

    @classmethod
    def from_state_dict(cls, sd: dict[str, Any]) -> TemporalMemory:
        """A new TemporalMemory with the saved arguments and learned state."""
        tm = cls(**dict(sd["config"]))
        tm.load_state_dict(sd)
        return tm
