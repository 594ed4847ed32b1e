"""Intra-node shared-memory allreduce for DistributedDataParallel: every rank's gradients live in
its segment of one ``MPI.Win.Allocate_shared`` window, each rank sums one contiguous chunk over
all ranks (in rank order) and then copies the other owners' reduced chunks. Synchronised by one
monotonic counter per rank in the window (no MPI call on the fast path)."""
from __future__ import annotations

import os

import numpy as np

from .process_group import DistTimeoutError, ProcessGroup, poll_until

_PAGE = 4096
_LINE = 128  # each rank's counter on a line pair of its own (adjacent-line prefetch)
_ALIGN = 16  # chunk bounds at multiples of 16 elements (64-byte lines for float32)


def shm_disabled_by_env() -> bool:
    """``LAMINA_DDP_SHM=0`` turns the shared-memory path off (DDP then uses MPI_Iallreduce)."""
    return os.environ.get("LAMINA_DDP_SHM", "1").strip().lower() in ("0", "false", "no", "off")


class ShmAllreduce:
    """``n`` ranks of one node, each with a segment of ``numel`` elements of ``dtype``.

    Use: a rank writes its (already averaged-by-scaling) contribution into ``segment(rank)``,
    calls ``reduce()``, then reads the result from ``pieces()`` (chunk ``j`` of ``segment(j)``
    holds the reduced values of elements ``bounds[j]:bounds[j+1]``) and calls ``done()``. The
    counters make three phases per iteration: *arrived* (segment written), *reduced* (own chunk
    summed) and *copied* (this rank has read the other owners' chunks). A rank writes its segment
    again only after every rank's *copied* (``wait_copied``), so nobody reads half-new data."""

    def __init__(self, pg: ProcessGroup, node, numel: int, dtype) -> None:
        mpi = pg.MPI
        self.pg, self.node = pg, node
        self.n, self.rank = node.Get_size(), node.Get_rank()
        self.dtype = np.dtype(dtype)
        self.numel = int(numel)
        data = -(-self.numel * self.dtype.itemsize // _PAGE) * _PAGE
        self.seg_bytes = data + _PAGE  # data pages, then a page whose first line is the counter
        self.win = mpi.Win.Allocate_shared(self.seg_bytes, 1, comm=node)
        self.win.Lock_all(mpi.MODE_NOCHECK)  # a passive epoch for Win.Sync (the memory barrier)
        self._segs, self._ctr = [], []
        for j in range(self.n):
            buf, _ = self.win.Shared_query(j)
            raw = np.frombuffer(buf, dtype=np.uint8, count=self.seg_bytes)
            self._segs.append(raw[:self.numel * self.dtype.itemsize].view(self.dtype))
            self._ctr.append(raw[data:data + 8].view(np.int64))
        self._ctr[self.rank][0] = 0
        step = -(-self.numel // self.n)
        step = -(-step // _ALIGN) * _ALIGN
        self.bounds = [min(j * step, self.numel) for j in range(self.n)] + [self.numel]
        a, b = self.bounds[self.rank], self.bounds[self.rank + 1]
        self._tmp = np.empty(b - a, self.dtype) if self.rank >= 2 else None
        self.iteration = 0
        self.node.Barrier()  # every counter is 0 before anyone waits on it

    def segment(self, j: int):
        """Rank ``j``'s flat segment (a NumPy view of the shared window)."""
        return self._segs[j]

    # ---- synchronisation ----
    def _post(self, value: int) -> None:
        self.win.Sync()  # the data written before this store is visible before the counter
        self._ctr[self.rank][0] = value

    def _wait(self, value: int, what: str) -> None:
        """Until every rank's counter is at least ``value``: spin (yielding the core between
        polls, the ranks may outnumber the cores), then nap after 20 ms; the group's timeout
        raises DistTimeoutError (a rank that died or stopped calling backward)."""
        ctr = self._ctr
        late = [j for j in range(self.n) if ctr[j][0] < value]

        def arrived() -> bool:
            late[:] = [j for j in late if ctr[j][0] < value]
            return not late

        if late and not poll_until(arrived, self.pg.timeout):
            raise DistTimeoutError(
                f"DistributedDataParallel: shared-memory gradient reduction ({what}) on rank {self.pg.rank} "
                f"of {self.pg.size} timed out after {self.pg.timeout:g} s waiting for rank(s) {late} "
                "(a rank failed, is stuck, or skipped backward). Set the limit with "
                "init_process_group(timeout=...)")
        self.win.Sync()  # the others' data is read after their counters

    def wait_copied(self) -> None:
        """Before this rank overwrites its segment: every rank has finished reading the last
        iteration's chunks from it."""
        if self.iteration:
            self._wait(3 * self.iteration, "previous iteration still reading")

    def reduce(self) -> None:
        """Sums chunk ``rank`` over all segments in rank order 0..n-1 into this rank's segment
        (the same bits on every rank whatever the timing), after every rank has written its own."""
        k = self.iteration = self.iteration + 1
        self._post(3 * k - 2)
        self._wait(3 * k - 2, "waiting for the other ranks' gradients")
        a, b = self.bounds[self.rank], self.bounds[self.rank + 1]
        if b > a and self.n > 1:
            s = self._segs
            dst = s[self.rank][a:b] if self.rank < 2 else self._tmp
            np.add(s[0][a:b], s[1][a:b], out=dst)
            for j in range(2, self.n):
                np.add(dst, s[j][a:b], out=dst)
            if dst is self._tmp:
                np.copyto(s[self.rank][a:b], dst)
        self._post(3 * k - 1)
        self._wait(3 * k - 1, "waiting for the other ranks' sums")

    def done(self) -> None:
        """This rank has copied what it needs from the other segments."""
        self._post(3 * self.iteration)

    def free(self) -> None:
        """Releases the window (collective over the node: every rank calls it)."""
        try:
            self.win.Unlock_all()
            self.win.Free()
            self.node.Free()
        except Exception:  # noqa: BLE001 - MPI already finalized at interpreter exit
            pass


def create_shm_allreduce(pg: ProcessGroup, numel: int, dtype, want: bool) -> ShmAllreduce | None:
    """A ShmAllreduce when every rank wants one (``want``: this rank's conditions and switches)
    and all ranks of ``pg`` share one node; None otherwise (the caller uses MPI). Collective."""
    mpi = pg.MPI
    ok = np.array([1 if want else 0], dtype=np.int64)
    pg.comm.Allreduce(mpi.IN_PLACE, ok, mpi.MIN)
    if not ok[0] or pg.size < 2:
        return None
    node = pg.comm.Split_type(mpi.COMM_TYPE_SHARED)
    if node.Get_size() != pg.size:  # ranks on several nodes: the same answer on every rank
        node.Free()
        return None
    return ShmAllreduce(pg, node, numel, dtype)
