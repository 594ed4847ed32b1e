"""Every lamina.nn layer class is either exported and compared with onnxruntime in
test_export_layers.py (CASES) or listed here as not exportable, with the reason."""
from __future__ import annotations

import inspect

import pytest

import lamina.nn as nn
from lamina.nn.module import Module

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from test_export_layers import CASES  # noqa: E402

NOT_EXPORTABLE = {
    "Module": "the abstract base class (subclasses are exported by tracing their forward)",
    "ModuleList": "a container without a forward of its own: its children are exported where they are called",
    "ModuleDict": "a container without a forward of its own: its children are exported where they are called",
    "RNNBase": "the shared base of RNN/LSTM/GRU (exported as those)",
    "RNNCellBase": "the shared base of RNNCell/LSTMCell/GRUCell (exported as those)",
}


def _layer_classes():
    return sorted(n for n in dir(nn) if inspect.isclass(getattr(nn, n)) and issubclass(getattr(nn, n), Module))


def test_every_layer_is_exported_or_listed_with_a_reason():
    tested = {c for case in CASES for c in case[1]}
    missing = [n for n in _layer_classes() if n not in tested and n not in NOT_EXPORTABLE]
    assert not missing, f"lamina.nn layers neither exported in test_export_layers.CASES nor listed: {missing}"
    both = sorted(tested & set(NOT_EXPORTABLE))
    assert not both, f"listed as not exportable but tested: {both}"
    stale = sorted((tested | set(NOT_EXPORTABLE)) - set(_layer_classes()))
    assert not stale, f"names that are not lamina.nn layers: {stale}"
    assert all(len(r) > 20 for r in NOT_EXPORTABLE.values())
