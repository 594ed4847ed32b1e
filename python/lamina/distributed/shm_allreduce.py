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


def shm_disabled_by_env() -> bool:
    """``LAMINA_DDP_SHM=0`` turns the shared-memory path off (DDP then uses MPI_Iallreduce)."""
    return os.environ.get("LAMINA_DDP_SHM", "1").strip().lower() in ("0", "false", "no", "off")


class ShmAllreduce:
    """``n`` ranks of one node, each with a segment of ``numel`` elements of ``dtype``.

    An iteration: write this rank's contribution into ``segment(rank)`` (after ``wait_free()``),
    ``arrive()``, read the sums, ``done()``. Two ways to read them, the same bits either way (every
    element is summed over ranks 0..n-1 in that order):

    * *whole* (``whole=True``, the default for 2 ranks): every rank sums every element itself,
      ``sum_parts(parts(lo, hi), out)`` straight into private memory. Two phases per iteration (counter
      values 2k-1 *arrived*, 2k *done*); a rank reads n segments' worth of data.
    * *chunked* (more ranks): ``reduce()`` sums chunk ``rank`` (``bounds[rank]:bounds[rank+1]``)
      into this rank's own segment and waits until every owner has; the caller then copies each
      owner's reduced chunk out of ``segment(j)``. Three phases (3k-2 *arrived*, 3k-1 *reduced*,
      3k *done*); a rank reads about two segments' worth whatever n is.

    Each segment holds ``buffers`` (default 2) buffers of ``numel`` elements, used in turn:
    iteration k writes and reads buffer ``cur`` = (k - 1) % buffers. A rank writes a buffer again
    only after every rank's *done* of the iteration that last used it (``wait_free``), so nobody
    reads half-new data. With two buffers that is the iteration before last, which every rank's
    *arrived* of the last iteration already implies: no wait, and the writes of this iteration's
    backward go to lines the other ranks read two iterations ago (long evicted from their caches),
    not to lines they read in the last sum (measured: an RFO that invalidates the other core's copy
    per line written, about 24 us of MLP b256's backward)."""

    def __init__(self, pg: ProcessGroup, node, numel: int, dtype, whole: bool | None = None,
                 buffers: int = 2) -> None:
        mpi = pg.MPI
        self.pg, self.node = pg, node
        self.n, self.rank = node.Get_size(), node.Get_rank()
        self.dtype = np.dtype(dtype)
        self.numel = int(numel)
        # For 2 ranks summing everything reads as much as the chunked scheme (2 segments) and
        # writes less (no reduced chunk in the window, no second copy), with one sync fewer.
        self.whole = self.n <= 2 if whole is None else bool(whole)
        self.phases = 2 if self.whole else 3
        self.buffers = int(buffers)
        assert self.buffers >= 1, buffers
        data = -(-self.numel * self.dtype.itemsize // _PAGE) * _PAGE
        self.seg_bytes = self.buffers * data + _PAGE  # the buffers' pages, then a page whose first line is the counter
        self.win = mpi.Win.Allocate_shared(self.seg_bytes, 1, comm=node)
        self.win.Lock_all(mpi.MODE_NOCHECK)  # a passive epoch for Win.Sync (the memory barrier)
        self._bufs = [[] for _ in range(self.buffers)]  # [buffer][rank]: flat NumPy views
        self._ctr, self._raw = [], []
        for j in range(self.n):
            buf, _ = self.win.Shared_query(j)
            raw = np.frombuffer(buf, dtype=np.uint8, count=self.seg_bytes)
            self._raw.append(raw)
            for b in range(self.buffers):
                self._bufs[b].append(raw[b * data:b * data + self.numel * self.dtype.itemsize].view(self.dtype))
            # the counter, then a flag published with each arrive (arrive(flag), flags())
            self._ctr.append(raw[self.buffers * data:self.buffers * data + 16].view(np.int64))
        self.cur = 0  # the buffer this iteration writes and reads (the next one's after done())
        self._ctr[self.rank][:] = 0
        self._rotate = self.buffers  # buffers taken in turn (1 after pin())
        step = -(-self.numel // self.n)
        step = -(-step // _ALIGN) * _ALIGN
        self.bounds = [min(j * step, self.numel) for j in range(self.n)] + [self.numel]
        a, b = self.bounds[self.rank], self.bounds[self.rank + 1]
        self._tmp = np.empty(b - a, self.dtype) if self.rank >= 2 and not self.whole else None
        self.iteration = 0
        self.node.Barrier()  # every counter is 0 before anyone waits on it

    def segment(self, j: int, b: int | None = None):
        """Buffer ``b`` (default: this iteration's, ``cur``) of rank ``j``'s segment (a flat NumPy
        view of the shared window)."""
        return self._bufs[self.cur if b is None else b][j]

    def window(self, j: int):
        """All of rank ``j``'s segment: every buffer and the counter (bytes)."""
        return self._raw[j]

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
        iteration's data from it."""
        last = self.iteration - self._rotate + 1  # the iteration that last used buffer cur
        if last > 0:
            self._wait(self.phases * last, "previous iteration still reading")

    def arrive(self, flag: int = 0) -> None:
        """This rank's segment is written; returns when every rank's is. ``flag`` is published
        with it: ``flags()`` reads every rank's until the next ``reduce``/``done``."""
        k = self.iteration = self.iteration + 1
        first = self.phases * (k - 1) + 1
        self._ctr[self.rank][1] = flag
        self._post(first)
        self._wait(first, "waiting for the other ranks' gradients")

    def flags(self) -> list:
        """Every rank's ``arrive`` flag of this iteration (after ``arrive``; a rank writes its
        next one only after this rank's ``reduce``/``done``)."""
        return [int(c[1]) for c in self._ctr]

    def wait_done(self) -> None:
        """After ``done``: returns when every rank has posted its ``done`` of this iteration, so
        nobody reads this rank's segment any more (it may then change it in place)."""
        self._wait(self.phases * self.iteration, "waiting for the other ranks to finish reading")

    def pin(self, b: int) -> None:
        """From the next iteration on, every iteration uses buffer ``b`` alone (every rank calls
        it in the same iteration, after ``done``)."""
        self._rotate = 1
        self.cur = b

    def parts(self, lo: int, hi: int, b: int) -> tuple:
        """Whole scheme: elements ``lo:hi`` of buffer ``b`` of every segment, in rank order (made
        once per buffer, summed by ``sum_parts`` in the iterations that use it)."""
        return tuple(s[lo:hi] for s in self._bufs[b])

    @staticmethod
    def sum_parts(parts: tuple, out) -> None:
        """Whole scheme, after ``arrive``: ``out`` (flat) = the rank-ordered sum of ``parts``."""
        np.add(parts[0], parts[1], out=out)
        for s in parts[2:]:
            np.add(out, s, out=out)

    def reduce(self) -> None:
        """Chunked scheme, after ``arrive``: sums chunk ``rank`` over all segments in rank order
        into this rank's segment; returns when every owner has."""
        assert not self.whole, "ShmAllreduce.reduce: the whole scheme reads the sums with sum_parts"
        k = self.iteration
        a, b = self.bounds[self.rank], self.bounds[self.rank + 1]
        if b > a and self.n > 1:
            s = self._bufs[self.cur]
            dst = s[self.rank][a:b] if self.rank < 2 else self._tmp
            np.add(s[0][a:b], s[1][a:b], out=dst)
            for j in range(2, self.n):
                np.add(dst, s[j][a:b], out=dst)
            if dst is self._tmp:
                np.copyto(s[self.rank][a:b], dst)
        self._post(3 * k - 1)
        self._wait(3 * k - 1, "waiting for the other ranks' sums")

    def done(self) -> None:
        """This rank has read what it needs from the other segments; the next iteration uses the
        next buffer."""
        self._post(self.phases * self.iteration)
        if self._rotate > 1:
            self.cur = self.iteration % self._rotate

    def free(self) -> None:
        """Releases the window (collective over the node: every rank calls it)."""
        try:
            self.win.Unlock_all()
            self.win.Free()
            self.node.Free()
        except Exception:  # noqa: BLE001, S110 - MPI already finalized at interpreter exit
            pass


def create_shm_allreduce(pg: ProcessGroup, numel: int, dtype, want: bool,
                         whole: bool | None = None, buffers: int = 2) -> ShmAllreduce | None:
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
    return ShmAllreduce(pg, node, numel, dtype, whole, buffers)
