"""Intra-node shared-memory allreduce for DistributedDataParallel: every rank writes its gradients
into its segment of one ``MPI.Win.Allocate_shared`` window and the sums are read from there, in
rank order, into private memory. Synchronised by one monotonic counter per rank in the window (no
MPI call on the fast path)."""
from __future__ import annotations

import os

import numpy as np

from .process_group import DistTimeoutError, ProcessGroup, poll_until

_PAGE = 4096
_ALIGN = 16  # chunk bounds at multiples of 16 elements (64-byte lines for float32)
# Up to this many gradient bytes per rank the window holds two buffers per rank, used in
# alternate iterations: a rank then never waits for the others to finish reading before it
# writes (the *done* phase goes), at twice the window's memory; larger models keep one buffer,
# where the copies dwarf a sync.
_DOUBLE_MAX_BYTES = 64 * 1024 * 1024


def shm_disabled_by_env() -> bool:
    """``LAMINA_DDP_SHM=0`` turns the shared-memory path off (DDP then uses MPI_Iallreduce)."""
    return os.environ.get("LAMINA_DDP_SHM", "1").strip().lower() in ("0", "false", "no", "off")


class ShmAllreduce:
    """``n`` ranks of one node, each with a segment of ``numel`` elements of ``dtype``.

    An iteration: write this rank's contribution into ``segment(rank, buf)`` (``buf`` the current
    buffer, after ``wait_free()``), ``arrive()``, read the sums, ``done()``. Two ways to read them,
    the same bits either way (every element is summed over ranks 0..n-1 in that order):

    * *whole* (``whole=True``, the default for 2 ranks): every rank sums every element itself,
      ``sum_into(lo, hi, out)`` straight into private memory; a rank reads n segments' worth.
    * *chunked* (more ranks): ``reduce()`` sums chunk ``rank`` (``bounds[rank]:bounds[rank+1]``)
      into this rank's own segment and waits until every owner has; the caller then copies each
      owner's reduced chunk out of ``segment(j, buf)``; a rank reads about two segments' worth
      whatever n is.

    Phases, each a value of the rank's counter: *arrived* (segment written), *reduced* (chunked
    only: own chunk summed) and, with one buffer, *done* (this rank has read the others'
    segments): nobody writes its segment again before every rank's *done* (``wait_free``). With
    two buffers (``double``, the default up to 64 MB per rank) iteration k uses buffer k % 2,
    and a rank's arrival in iteration k+1 already says that it finished reading buffer k % 2,
    before anyone writes it again in iteration k+2: no *done* phase and no wait before writing.
    So 2 ranks with small gradients sync once per iteration."""

    def __init__(self, pg: ProcessGroup, node, numel: int, dtype, whole: bool | None = None,
                 double: bool | None = None) -> None:
        mpi = pg.MPI
        self.pg, self.node = pg, node
        self.n, self.rank = node.Get_size(), node.Get_rank()
        self.dtype = np.dtype(dtype)
        self.numel = int(numel)
        # For 2 ranks summing everything reads as much as the chunked scheme (2 segments) and
        # writes less (no reduced chunk in the window, no second copy), with one sync fewer.
        self.whole = self.n <= 2 if whole is None else bool(whole)
        nbytes = self.numel * self.dtype.itemsize
        self.double = nbytes <= _DOUBLE_MAX_BYTES if double is None else bool(double)
        self.phases = (1 if self.whole else 2) + (0 if self.double else 1)
        self.nbuf = 2 if self.double else 1
        self.buf = 0  # the buffer this iteration writes and reads
        data = -(-nbytes // _PAGE) * _PAGE
        self.seg_bytes = self.nbuf * data + _PAGE  # data pages per buffer, then the counter's page
        self.win = mpi.Win.Allocate_shared(self.seg_bytes, 1, comm=node)
        self.win.Lock_all(mpi.MODE_NOCHECK)  # a passive epoch for Win.Sync (the memory barrier)
        self._segs = [[] for _ in range(self.nbuf)]  # [buffer][rank]
        self._ctr = []
        for j in range(self.n):
            buf, _ = self.win.Shared_query(j)
            raw = np.frombuffer(buf, dtype=np.uint8, count=self.seg_bytes)
            for k in range(self.nbuf):
                self._segs[k].append(raw[k * data:k * data + nbytes].view(self.dtype))
            c = self.nbuf * data
            self._ctr.append(raw[c:c + 8].view(np.int64))
        self._ctr[self.rank][0] = 0
        step = -(-self.numel // self.n)
        step = -(-step // _ALIGN) * _ALIGN
        self.bounds = [min(j * step, self.numel) for j in range(self.n)] + [self.numel]
        a, b = self.bounds[self.rank], self.bounds[self.rank + 1]
        self._tmp = np.empty(b - a, self.dtype) if self.rank >= 2 and not self.whole else None
        self.iteration = 0
        self.node.Barrier()  # every counter is 0 before anyone waits on it

    def segment(self, j: int, buf: int = 0):
        """Rank ``j``'s flat segment in buffer ``buf`` (a NumPy view of the shared window)."""
        return self._segs[buf][j]

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

    def wait_free(self) -> None:
        """Before this rank overwrites its segment: every rank has finished reading the last
        iteration's data from it (with two buffers, known since the last ``arrive``)."""
        if self.iteration and not self.double:
            self._wait(self.phases * self.iteration, "previous iteration still reading")

    def arrive(self) -> None:
        """This rank's segment (of buffer ``buf``) is written; returns when every rank's is."""
        k = self.iteration = self.iteration + 1
        first = self.phases * (k - 1) + 1
        self._post(first)
        self._wait(first, "waiting for the other ranks' gradients")

    def sum_into(self, lo: int, hi: int, out) -> None:
        """Whole scheme: ``out`` (``hi - lo`` elements, any shape) = the rank-ordered sum of
        elements ``lo:hi`` of every segment."""
        s = self._segs[self.buf]
        out = out.reshape(-1)
        np.add(s[0][lo:hi], s[1][lo:hi], out=out)
        for j in range(2, self.n):
            np.add(out, s[j][lo:hi], out=out)

    def reduce(self) -> None:
        """Chunked scheme, after ``arrive``: sums chunk ``rank`` over all segments in rank order
        into this rank's segment; returns when every owner has."""
        assert not self.whole, "ShmAllreduce.reduce: the whole scheme reads the sums with sum_into"
        k = self.iteration
        a, b = self.bounds[self.rank], self.bounds[self.rank + 1]
        if b > a and self.n > 1:
            s = self._segs[self.buf]
            dst = s[self.rank][a:b] if self.rank < 2 else self._tmp
            np.add(s[0][a:b], s[1][a:b], out=dst)
            for j in range(2, self.n):
                np.add(dst, s[j][a:b], out=dst)
            if dst is self._tmp:
                np.copyto(s[self.rank][a:b], dst)
        self._post(self.phases * (k - 1) + 2)
        self._wait(self.phases * (k - 1) + 2, "waiting for the other ranks' sums")

    def done(self) -> None:
        """This rank has read what it needs from the other segments: with one buffer it says so,
        with two it moves to the other buffer (the next arrival will say so)."""
        if self.double:
            self.buf ^= 1
        else:
            self._post(self.phases * self.iteration)

    def free(self) -> None:
        """Releases the window (collective over the node: every rank calls it)."""
        try:
            self.win.Unlock_all()
            self.win.Free()
            self.node.Free()
        except Exception:  # noqa: BLE001, S110 - MPI already finalized at interpreter exit
            pass


def create_shm_allreduce(pg: ProcessGroup, numel: int, dtype, want: bool,
                         whole: bool | None = None, double: bool | None = None) -> ShmAllreduce | None:
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
    return ShmAllreduce(pg, node, numel, dtype, whole, double)
