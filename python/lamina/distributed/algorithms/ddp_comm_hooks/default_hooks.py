"""The stock DDP communication hooks, with PyTorch's names and semantics: ``allreduce_hook``
(what DDP does without a hook), ``fp16_compress_hook`` and ``bf16_compress_hook`` (gradients
exchanged as 16-bit floats: half the bytes, rounded results). ``state`` is the process group
(None: the default group), as in PyTorch.

How the 16-bit sum is done. lamina has no float16/bfloat16 tensors and MPI has no 16-bit float
SUM, so each rank encodes ``grad / world_size`` into a uint16 buffer with NumPy (IEEE half, or
bfloat16 by round-to-nearest-even on the float32 bits), the ranks exchange these buffers with one
non-blocking ``MPI_Iallgather``, and every rank adds the decoded values in float32 in rank order
(so all ranks get identical bits) and rounds the sum once to 16 bits, as PyTorch's result is a
16-bit tensor. A custom MPI reduction op would run a Python callback inside MPI's progress engine;
an allgather needs none and, on 2 ranks, moves exactly the bytes of a reduce-scatter + allgather
(each rank receives the other's half-size buffer) in a single call. It moves (world_size - 1)
half-size buffers into each rank, so for more than a handful of ranks plain ``allreduce_hook``
moves fewer bytes. Differences from PyTorch's numbers: ``grad / world_size`` is rounded once
(PyTorch rounds ``grad`` to 16 bits, then divides in 16 bits) and the partial sums are float32
(NCCL adds in 16 bits), so lamina's result is at least as accurate.
"""
from __future__ import annotations

import numpy as np

from ....tensor import Tensor
from ...collectives import Work
from ...futures import Future
from ...grad_bucket import GradBucket
from ...process_group import _group


def _allreduce_fut(process_group, tensor: Tensor) -> Future:
    """Averages ``tensor`` in place across the group (divide, then MPI SUM, as PyTorch's hook)
    and returns a future of it. No argument exchange: DDP checked at construction that every rank
    has the same buckets."""
    pg = _group(process_group)
    tensor.div_(pg.size)
    arr = tensor._c.numpy()
    if pg.size == 1:
        f = Future()
        f.set_result(tensor)
        return f
    req = pg.comm.Iallreduce(pg.MPI.IN_PLACE, arr, pg.MPI.SUM)
    work = Work(pg, [req], "allreduce_hook", tensor._c._bump_version, keep=(arr,), outputs=[tensor])
    return work.get_future().then(lambda fut: fut.value()[0])


def allreduce_hook(process_group, bucket: GradBucket) -> Future[Tensor]:
    """Averages the bucket's gradients with one allreduce: bit for bit what DDP does without a
    hook. Mostly an example of the hook API."""
    return _allreduce_fut(process_group, bucket.buffer())


# ---- 16-bit codecs: float array <-> uint16 bits ----

def _fp16_encode(a: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # beyond 65504 becomes inf, as a float16 cast does (documented)
        return a.astype(np.float16).view(np.uint16)  # IEEE round-to-nearest-even, from float32 or float64


def _fp16_decode(u: np.ndarray) -> np.ndarray:
    return u.view(np.float16).astype(np.float32)


def _bf16_encode(a: np.ndarray) -> np.ndarray:
    """bfloat16 bits of ``a`` (float32 or float64), rounded to nearest, ties to even; NaN stays NaN."""
    if a.dtype == np.float64:
        x = a
        a = a.astype(np.float32)
        # Rounding float64 -> float32 -> bfloat16 rounds twice; it can only go wrong when the first
        # rounding lands exactly on a bfloat16 midpoint, so step such values back towards x first.
        u = a.view(np.uint32)
        mid = ((u & 0xFFFF) == 0x8000) & (a != x)
        if mid.any():
            a[mid] = np.nextafter(a[mid], np.where(x[mid] > a[mid], np.inf, -np.inf).astype(np.float32))
    a = np.ascontiguousarray(a, dtype=np.float32)
    u = a.view(np.uint32)
    t = u >> 16  # in-place steps: each full pass over a large bucket costs tens of microseconds
    t &= 1
    t += 0x7FFF
    t += u
    t >>= 16
    out = t.astype(np.uint16)
    if not np.isfinite(a.sum(dtype=np.float32)):  # rare: look for NaNs only when the sum says there may be some
        nan = np.isnan(a)
        if nan.any():  # the rounding add could carry a NaN's payload into the exponent or sign
            out[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return out


def _bf16_decode(u: np.ndarray) -> np.ndarray:
    w = u.astype(np.uint32)
    w <<= 16
    return w.view(np.float32)


def _compress_fut(process_group, bucket: GradBucket, encode, decode, what: str) -> Future:
    pg = _group(process_group)
    buf = bucket.buffer()
    arr = buf._c.numpy().reshape(-1)
    mine = encode(arr / pg.size)
    allbits = np.empty((pg.size, mine.size), dtype=np.uint16)
    if pg.size == 1:
        allbits[0] = mine
        req = None
    else:
        req = pg.comm.Iallgather(mine, allbits)

    def finish():
        total = decode(allbits[0])
        for r in range(1, pg.size):  # rank order: the same bits on every rank
            total += decode(allbits[r])
        np.copyto(arr, decode(encode(total)))  # the result is a 16-bit tensor, as in PyTorch
        buf._c._bump_version()

    work = Work(pg, [req] if req is not None else [], what, finish, keep=(mine, allbits), outputs=[buf])
    return work.get_future().then(lambda fut: fut.value()[0])


def fp16_compress_hook(process_group, bucket: GradBucket) -> Future[Tensor]:
    """Exchanges ``grad / world_size`` as IEEE float16 (half the bytes of float32) and writes the
    float16-rounded average back. Gradients beyond float16's range (65504) overflow to inf and
    those below ~6e-8 flush to zero: scale the loss if that matters, or use bf16_compress_hook."""
    return _compress_fut(process_group, bucket, _fp16_encode, _fp16_decode, "fp16_compress_hook")


def bf16_compress_hook(process_group, bucket: GradBucket) -> Future[Tensor]:
    """Exchanges ``grad / world_size`` as bfloat16 (float32's range, 8 significant bits) and
    writes the bfloat16-rounded average back."""
    return _compress_fut(process_group, bucket, _bf16_encode, _bf16_decode, "bf16_compress_hook")
