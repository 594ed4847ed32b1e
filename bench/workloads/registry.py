"""The workload registry (register, Workload, Case), the Ctx a factory receives, and the helpers
that compare lamina with PyTorch (relative error, parameter copy, one step's update)."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# ---- registry -----------------------------------------------------------------------------------


@dataclass
class Case:
    """One built workload: `lamina()` and `torch()` each do one unit of work; `check()` returns
    a list of (what, relative error) comparing the two (run once, before timing)."""
    lamina: Callable[[], Any]
    torch: Callable[[], Any]
    check: Callable[[], list]


@dataclass
class Workload:
    name: str
    group: str              # conv, pool, linear, loss, overhead, train, ...
    mode: str               # fwd, fwd+bwd, step
    build: Callable[["Ctx"], Case]
    flops: float | None = None   # per call; GFLOP/s is reported when set
    steps: int | None = None     # training steps per call; steps/s is reported when set
    desc: str = ""
    tags: tuple = field(default_factory=tuple)


REGISTRY: list[Workload] = []


def register(name: str, group: str, mode: str, *, flops: float | None = None,
             steps: int | None = None, desc: str = ""):
    """Decorator: adds a `build(ctx) -> Case` factory to the registry under `name`."""
    def deco(build):
        if any(w.name == name for w in REGISTRY):
            raise ValueError(f"workload {name!r} registered twice")
        REGISTRY.append(Workload(name, group, mode, build, flops, steps, desc))
        return build
    return deco


class Ctx:
    """What a factory gets: the two frameworks and a generator seeded by the workload's name
    (so every workload's inputs and weights are reproducible and independent of which others run)."""

    def __init__(self, lamina, torch, name: str) -> None:
        self.lm = lamina
        self.torch = torch
        self.LF = lamina.nn.functional
        self.TF = torch.nn.functional
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))
        # lamina's own generator initialises the models' weights (copied to torch afterwards):
        # seeded too, so a workload's weights do not depend on which workloads ran before it.
        lamina.manual_seed(zlib.crc32(name.encode()))

    def randn(self, *shape, scale: float = 1.0) -> np.ndarray:
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def uniform(self, *shape, bound: float) -> np.ndarray:
        return self.rng.uniform(-bound, bound, shape).astype(np.float32)

    def pair(self, a: np.ndarray, requires_grad: bool = False):
        """The same values as a lamina tensor and a torch tensor (separate memory)."""
        la = self.lm.from_numpy(np.ascontiguousarray(a).copy())
        ta = self.torch.from_numpy(np.ascontiguousarray(a).copy())
        if requires_grad:
            la.requires_grad_(True)
            ta.requires_grad_(True)
        return la, ta


# ---- comparison helpers -------------------------------------------------------------------------


def to_np(t) -> np.ndarray:
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def rel_err(a, b) -> float:
    """max |a - b| / max |b| (the reference is PyTorch); inf for a shape mismatch or a missing
    tensor. Scale-relative, so small entries of a large output don't dominate."""
    if a is None or b is None:
        return 0.0 if a is None and b is None else float("inf")
    a, b = to_np(a), to_np(b)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    if not np.all(np.isfinite(a)):
        return float("inf")
    scale = float(np.max(np.abs(b)))
    return float(np.max(np.abs(a - b))) / (scale if scale > 0 else 1.0)


def compare(pairs) -> list:
    """[(what, lamina tensor, torch tensor), ...] -> [(what, relative error), ...]."""
    return [(what, rel_err(a, b)) for what, a, b in pairs]


def copy_params(lamina_model, torch_model) -> None:
    """Copies lamina's (default-initialised) parameters into the torch model, in order."""
    import torch
    lps, tps = list(lamina_model.parameters()), list(torch_model.parameters())
    if len(lps) != len(tps):
        raise ValueError(f"copy_params: lamina model has {len(lps)} parameters, torch {len(tps)}")
    with torch.no_grad():
        for i, (lp, tp) in enumerate(zip(lps, tps)):
            a = lp.detach().numpy()
            if tuple(a.shape) != tuple(tp.shape):
                raise ValueError(f"copy_params: parameter {i}: lamina {tuple(a.shape)} vs torch "
                                 f"{tuple(tp.shape)}")
            tp.copy_(torch.from_numpy(a.copy()))


def update_err(before: list, after: list, tbefore: list, tafter: list) -> float:
    """The worst, over parameters, of |dl - dt| / |dt| (Frobenius norms), d = after - before: the
    change one training step made, lamina's against PyTorch's. A skipped or partial update gives
    about 1 (where PyTorch's change is zero, any lamina change counts as inf). Comparing the
    parameters themselves cannot catch a no-op step when the update is small next to the weights."""
    worst = 0.0
    for b, a, tb, ta in zip(before, after, tbefore, tafter, strict=True):
        dl, dt = a - b, ta - tb
        nt, ndiff = float(np.linalg.norm(dt)), float(np.linalg.norm(dl - dt))
        worst = max(worst, ndiff / nt if nt > 0 else (0.0 if ndiff == 0 else float("inf")))
    return worst


def snapshot(params) -> list:
    """float64 copies of parameters (lamina or torch), to measure a step's change."""
    return [to_np(p).copy() for p in params]
