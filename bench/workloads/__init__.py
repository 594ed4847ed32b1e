"""Workloads for bench/compare.py: each one builds the same computation in lamina and in PyTorch
from identical numpy inputs and weights, a correctness check between the two, and the amount of
work (FLOPs or training steps) per call. Add a workload with @register in the module of its family:
layers.py (conv, pool, linear, loss, overhead), train.py (training steps, RBM/SDAE, sequence models),
families.py (reduce, softmax, activation, SGEMM, indexing, embedding, norm, rbf, dropout),
contention.py; registry.py holds the registry and the comparison helpers.

A workload factory receives a `Ctx` (lamina, torch and a seeded numpy generator) and returns a
`Case`: two zero-argument callables doing one unit of work each (one layer call, one training
step) and a `check` callable that compares the two frameworks once, before anything is timed.
"""
from __future__ import annotations

# Imported in table order: each module registers its rows when imported.
from . import layers, train, families, contention  # noqa: F401, I001  (registration, in this order)
from .registry import REGISTRY, Case, Ctx, Workload, register

__all__ = ["REGISTRY", "Case", "Ctx", "Workload", "register", "select"]


def select(filters=None) -> list:
    """Workloads whose name contains any of the substrings (all when none given)."""
    if not filters:
        return list(REGISTRY)
    fs = [f.lower() for f in filters]
    return [w for w in REGISTRY if any(f in w.name.lower() for f in fs)]
