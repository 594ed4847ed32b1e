"""``lamina.htm``: hierarchical temporal memory — encoders, the spatial pooler and temporal memory
(C++ core in cpp/htm), anomaly likelihood and an SDR classifier/predictor, implemented from the
published algorithms (BAMI; Hawkins & Ahmad 2016; Cui et al. 2017; Ahmad et al. 2017).

``save(obj, path)`` / ``load(path)`` store any of these objects with lamina.save/lamina.load (no
pickle); ``obj.state_dict()`` / ``Cls.from_state_dict(sd)`` do the same in memory."""
from __future__ import annotations

from typing import Any

from .anomaly_likelihood import AnomalyLikelihood
from .encoders import (
    RDSE,
    CategoryEncoder,
    DateEncoder,
    Encoder,
    MultiEncoder,
    ScalarEncoder,
    concatenate,
)
from .predictor import Classifier, Predictor, SDRClassifier
from .spatial_pooler import SpatialPooler
from .temporal_memory import TemporalMemory

__all__ = [
    "RDSE",
    "AnomalyLikelihood",
    "CategoryEncoder",
    "Classifier",
    "DateEncoder",
    "Encoder",
    "MultiEncoder",
    "Predictor",
    "SDRClassifier",
    "ScalarEncoder",
    "SpatialPooler",
    "TemporalMemory",
    "concatenate",
    "load",
    "save",
]

_TYPES = {"SpatialPooler": SpatialPooler, "TemporalMemory": TemporalMemory,
          "AnomalyLikelihood": AnomalyLikelihood, "Classifier": Classifier, "Predictor": Predictor}


def save(obj: Any, f: Any) -> None:
    """Saves an HTM object (or a dict/list of them) with ``lamina.save``."""
    from ..serialization import save as _save

    def enc(o: Any) -> Any:
        if isinstance(o, tuple(_TYPES.values())):
            return o.state_dict()
        if isinstance(o, dict):
            return {k: enc(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [enc(v) for v in o]
        raise TypeError(f"lamina.htm.save: cannot save a {type(o).__name__}; expected "
                        f"{', '.join(_TYPES)} or dicts/lists of them")

    _save({"format": "lamina.htm", "root": enc(obj)}, f)


def load(f: Any) -> Any:
    """Loads what ``lamina.htm.save`` wrote, rebuilding the objects."""
    from ..serialization import load as _load

    data = _load(f)
    if not isinstance(data, dict) or data.get("format") != "lamina.htm":
        raise ValueError("lamina.htm.load: not a file written by lamina.htm.save")

    def dec(o: Any) -> Any:
        if isinstance(o, dict) and o.get("type") in _TYPES and "config" in o and "state" in o:
            return _TYPES[o["type"]].from_state_dict(o)
        if isinstance(o, dict):
            return {k: dec(v) for k, v in o.items()}
        if isinstance(o, list):
            return [dec(v) for v in o]
        return o

    return dec(data["root"])
