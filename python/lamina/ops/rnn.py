"""Recurrent ops (RNN/LSTM/GRU cells and sequences). C++: cpp/ops/rnn.cpp."""
from __future__ import annotations

__all__: list = []
FUNCTIONAL: list = []
TENSOR_METHODS: dict = {}
