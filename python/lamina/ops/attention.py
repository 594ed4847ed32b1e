"""Scaled dot-product attention and positional encodings. C++: cpp/ops/attention.cpp."""
from __future__ import annotations

__all__: list = []
FUNCTIONAL: list = []
TENSOR_METHODS: dict = {}
