"""Collectives and point-to-point operations on lamina tensors over MPI, with PyTorch's names:
``all_reduce``, ``broadcast``, ``reduce``, ``all_gather`` (and ``all_gather_into_tensor``),
``gather``, ``scatter``, ``send`` / ``recv`` / ``isend`` / ``irecv``, ``barrier``, and the
pickled-object forms ``broadcast_object_list`` / ``all_gather_object``.

Tensors go to mpi4py's upper-case (buffer) methods as zero-copy numpy views of their storage,
so a contiguous tensor is reduced in place. Every operation is non-blocking underneath; the
blocking forms wait with the group's timeout. Before each collective the ranks exchange its
arguments (operation, dtype, shape, root) and raise ``DistError`` naming the ranks that
disagree, instead of reducing buffers that do not match.
"""
from __future__ import annotations

import enum
import pickle

import numpy as np

from .. import _dtype as D
from ..ops.creation import empty
from ..tensor import Tensor
from .futures import Future
from .process_group import DistError, ProcessGroup, _group, wait_request


class ReduceOp(enum.Enum):
    """Reduction operations for all_reduce / reduce (PyTorch's names). AVG is SUM divided by the
    world size (floating tensors only). On bool tensors SUM and MAX are logical or, PRODUCT and
    MIN logical and."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


_OPCODE = {"all_reduce": 1, "broadcast": 2, "reduce": 3, "all_gather": 4, "gather": 5, "scatter": 6,
           "all_gather_into_tensor": 7}
_OPNAME = {v: k for k, v in _OPCODE.items()}
_REDCODE = {op: i for i, op in enumerate(ReduceOp)}
_DTCODE = {"float32": 1, "float64": 2, "int64": 3, "bool": 4}
_DTNAME = {v: k for k, v in _DTCODE.items()}
_MAXD = 8
_DESC = 2 + _MAXD + 1  # dtype, ndim, dims (padded with -1), numel


class Work:
    """Handle of an operation started with ``async_op=True`` (or isend / irecv): ``wait()``
    blocks until it is done (raising DistTimeoutError after the group's timeout) and returns
    True; ``is_completed()`` polls."""

    def __init__(self, pg: ProcessGroup, reqs, what: str, finish=None, keep=(), outputs=None) -> None:
        self._pg, self._reqs, self._what, self._finish = pg, list(reqs), what, finish
        self._outputs = outputs  # the tensors get_future() completes with
        self._keep = keep  # buffers MPI reads or writes until completion
        self._done = False
        self._result = None

    def is_completed(self) -> bool:
        """True when the operation has finished (its results are in place after ``wait()``)."""
        if self._done:
            return True
        return all(r.Test() for r in self._reqs)

    def wait(self, timeout=None) -> bool:
        """Waits for completion and finishes the operation (averaging, copying back).
        ``timeout`` (seconds or timedelta) overrides the group's for this wait."""
        if self._done:
            return True
        for r in self._reqs:
            wait_request(self._pg, r, self._what, timeout=timeout)
        if self._finish is not None:
            self._result = self._finish()
        self._done = True
        self._keep = ()
        return True

    def result(self):
        """What the operation produced (the sender's rank for irecv), after ``wait()``."""
        self.wait()
        return self._result

    def get_future(self) -> Future:
        """A ``Future`` that completes with the operation: its value is the list of output
        tensors (``[tensor]`` for all_reduce, broadcast and reduce, as in PyTorch), or the
        operation's result for the others. Used by DDP communication hooks."""
        return Future._of_work(self, lambda: self._outputs if self._outputs is not None else self._result)

    def __repr__(self) -> str:
        return f"<Work {self._what} completed={self._done}>"


# ---------------------------------------------------------------------------------------------
# Buffers and checks

def _buf(t, what: str, arg: str = "tensor"):
    """(contiguous numpy array over t's memory, original view to copy back into or None)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: {arg} must be a lamina Tensor, got {type(t).__name__}")
    if t.device != "cpu":
        raise RuntimeError(f"{what}: {arg} is on {t.device}; lamina.distributed (MPI) works on CPU tensors only "
                           "(there are no GPU collectives)")
    a = t._c.numpy()
    if a.flags.c_contiguous:
        return a, None
    return np.ascontiguousarray(a), a


def _finish_write(t, arr, back) -> None:
    if back is not None:
        np.copyto(back, arr)
    t._c._bump_version()


def _desc(t) -> list:
    shape = list(t.shape)
    dims = shape[:_MAXD] + [-1] * (_MAXD - min(len(shape), _MAXD))
    return [_DTCODE[t.dtype.name], len(shape)] + dims + [int(np.prod(shape, dtype=np.int64))]


def _fmt(d) -> str:
    dt = _DTNAME.get(int(d[0]), "?")
    nd = int(d[1])
    dims = [int(x) for x in d[2:2 + min(nd, _MAXD)]]
    shape = "[" + ", ".join(map(str, dims)) + (", ..." if nd > _MAXD else "") + "]"
    return f"{dt} {shape}"


def _ranks(rs) -> str:
    rs = list(rs)
    return ("rank " if len(rs) == 1 else "ranks ") + ", ".join(map(str, rs))


def _differ(rows, cols, fmt) -> str:
    groups: dict = {}
    for r, row in enumerate(rows):
        groups.setdefault(tuple(row[cols]), []).append(r)
    return "; ".join(f"{fmt(np.array(k))} on {_ranks(v)}" for k, v in groups.items())


_NO_AUX = [0] + [0] * _DESC


def _aux_list(tensors, size: int):
    """Aux descriptor for a tensor list: [1, desc] when it has ``size`` equal tensors, [2, desc of
    the first or zeros] otherwise (reported by every rank, so all raise together)."""
    if tensors is None or len(tensors) != size or not all(isinstance(x, Tensor) for x in tensors):
        first = tensors[0] if tensors and isinstance(tensors[0], Tensor) else None
        return [2] + (_desc(first) if first is not None else [0] * _DESC)
    d0 = _desc(tensors[0])
    if any(_desc(x) != d0 for x in tensors[1:]):
        return [2] + d0
    return [1] + d0


def _check(pg: ProcessGroup, op: str, t, root: int = -1, redop=None, aux=None) -> None:
    """Exchanges (operation, root, reduce op, dtype and shape, aux list descriptor) between the
    ranks and raises DistError, the same on every rank, if they disagree."""
    if not pg.check_collectives or pg.size == 1:
        if root != -1 and not 0 <= root < pg.size:
            raise ValueError(f"{op}: root rank {root} is out of range for a group of {pg.size}")
        return
    row = np.array([_OPCODE[op], root, -1 if redop is None else _REDCODE[redop]] + _desc(t)
                   + (aux if aux is not None else _NO_AUX), dtype=np.int64)
    rows = np.empty((pg.size, row.size), dtype=np.int64)
    wait_request(pg, pg.comm.Iallgather(row, rows), f"{op} (argument check)")
    if (rows[:, 0] != rows[0, 0]).any():
        raise DistError("collective mismatch: " + _differ(rows, [0], lambda k: f"{_OPNAME.get(int(k[0]), '?')}()")
                        + " (every rank must call the same collectives in the same order)")
    if (rows[:, 1] != rows[0, 1]).any():
        raise DistError(f"{op}: ranks disagree on the root rank: "
                        + _differ(rows, [1], lambda k: f"root={int(k[0])}"))
    if root != -1 and not 0 <= root < pg.size:
        raise ValueError(f"{op}: root rank {root} is out of range for a group of {pg.size}")
    if (rows[:, 2] != rows[0, 2]).any():
        names = {v: k.name for k, v in _REDCODE.items()}
        raise DistError(f"{op}: ranks disagree on the reduce op: "
                        + _differ(rows, [2], lambda k: f"op={names.get(int(k[0]), '?')}"))
    tcols = list(range(3, 3 + _DESC))
    if not (rows[:, tcols] == rows[0, tcols]).all():
        raise DistError(f"{op}: tensors differ across ranks: " + _differ(rows, tcols, _fmt)
                        + " (every rank must pass a tensor of the same dtype and shape)")
    acols = list(range(3 + _DESC + 1, 3 + 2 * _DESC + 1))
    flag = 3 + _DESC
    owners = range(pg.size) if op == "all_gather" else ([root] if op in ("gather", "scatter") else [])
    listname = {"all_gather": "tensor_list", "gather": "gather_list", "scatter": "scatter_list"}.get(op)
    for r in owners:
        if rows[r, flag] != 1 or not (rows[r, acols] == rows[r, tcols]).all():
            raise DistError(f"{op}: rank {r}'s {listname} must hold {pg.size} tensors of {_fmt(rows[r, tcols])} "
                            f"(one per rank, like the tensor every rank passes); it does not"
                            + (f" (first entry {_fmt(rows[r, acols])})" if rows[r, acols][0] else ""))


def _mpi_op(pg: ProcessGroup, op, t, what: str):
    MPI = pg.MPI
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{what}: op must be a lamina.distributed.ReduceOp, got {op!r}")
    kind = t.dtype.name
    if kind == "bool":
        table = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR, ReduceOp.PRODUCT: MPI.LAND,
                 ReduceOp.MIN: MPI.LAND, ReduceOp.BAND: MPI.LAND, ReduceOp.BXOR: MPI.LXOR}
        if op not in table:
            raise TypeError(f"{what}: ReduceOp.{op.name} is not defined for bool tensors")
        return table[op]
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and kind != "int64":
        raise TypeError(f"{what}: ReduceOp.{op.name} needs an int64 or bool tensor, got {kind}")
    if op is ReduceOp.AVG and kind not in ("float32", "float64"):
        raise TypeError(f"{what}: ReduceOp.AVG needs a floating tensor, got {kind} (use SUM and divide)")
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


def _run(pg, req, what, finish, async_op, keep=(), outputs=None):
    w = Work(pg, [req] if req is not None else [], what, finish, keep, outputs)
    if async_op:
        return w
    w.wait()
    return None


# ---------------------------------------------------------------------------------------------
# Collectives

def all_reduce(tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduces ``tensor`` across all ranks in place: afterwards every rank holds the result."""
    pg = _group(group)
    arr, back = _buf(tensor, "all_reduce")
    mop = _mpi_op(pg, op, tensor, "all_reduce")
    _check(pg, "all_reduce", tensor, redop=op)
    req = pg.comm.Iallreduce(pg.MPI.IN_PLACE, arr, mop)

    def finish():
        if op is ReduceOp.AVG:
            np.divide(arr, pg.size, out=arr)
        _finish_write(tensor, arr, back)

    return _run(pg, req, "all_reduce", finish, async_op, (arr,), [tensor])


def broadcast(tensor, src: int, group=None, async_op: bool = False):
    """Copies ``tensor`` from rank ``src`` into ``tensor`` on every other rank."""
    pg = _group(group)
    arr, back = _buf(tensor, "broadcast")
    _check(pg, "broadcast", tensor, root=int(src))
    req = pg.comm.Ibcast(arr, root=int(src))
    return _run(pg, req, "broadcast", lambda: _finish_write(tensor, arr, back) if pg.rank != src else None,
                async_op, (arr,), [tensor])


def reduce(tensor, dst: int, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduces ``tensor`` across ranks into ``tensor`` on rank ``dst`` (others are unchanged)."""
    pg = _group(group)
    arr, back = _buf(tensor, "reduce")
    mop = _mpi_op(pg, op, tensor, "reduce")
    dst = int(dst)
    _check(pg, "reduce", tensor, root=dst, redop=op)
    if pg.rank == dst:
        req = pg.comm.Ireduce(pg.MPI.IN_PLACE, arr, mop, root=dst)
    else:
        req = pg.comm.Ireduce(arr, None, mop, root=dst)

    def finish():
        if pg.rank == dst:
            if op is ReduceOp.AVG:
                np.divide(arr, pg.size, out=arr)
            _finish_write(tensor, arr, back)

    return _run(pg, req, "reduce", finish, async_op, (arr,), [tensor])


def _fill_list(tensors, stacked) -> None:
    for i, t in enumerate(tensors):
        a = t._c.numpy()
        np.copyto(a, stacked[i].reshape(a.shape))
        t._c._bump_version()


def all_gather(tensor_list, tensor, group=None, async_op: bool = False):
    """``tensor_list[r]`` receives rank r's ``tensor`` on every rank (all the same shape)."""
    pg = _group(group)
    arr, _ = _buf(tensor, "all_gather")
    if not isinstance(tensor_list, (list, tuple)):
        raise TypeError(f"all_gather: tensor_list must be a list of tensors, got {type(tensor_list).__name__}")
    for t in tensor_list:
        _buf(t, "all_gather", "tensor_list entry")
    _check(pg, "all_gather", tensor, aux=_aux_list(tensor_list, pg.size))
    out = np.empty((pg.size,) + arr.shape, dtype=arr.dtype)
    req = pg.comm.Iallgather(arr, out)
    return _run(pg, req, "all_gather", lambda: _fill_list(tensor_list, out), async_op, (arr, out))


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op: bool = False):
    """Gathers every rank's ``input_tensor`` into ``output_tensor`` (shape ``(world * n0, ...)``
    or ``(world, *input.shape)``), concatenated in rank order, without intermediate copies."""
    pg = _group(group)
    arr, _ = _buf(input_tensor, "all_gather_into_tensor", "input_tensor")
    out, back = _buf(output_tensor, "all_gather_into_tensor", "output_tensor")
    if output_tensor.dtype is not input_tensor.dtype or out.size != pg.size * arr.size:
        raise ValueError(f"all_gather_into_tensor: output_tensor must be {input_tensor.dtype.name} with "
                         f"{pg.size} x {arr.size} elements, got {output_tensor.dtype.name} {list(output_tensor.shape)}")
    _check(pg, "all_gather_into_tensor", input_tensor)
    req = pg.comm.Iallgather(arr, out.reshape(-1))
    return _run(pg, req, "all_gather_into_tensor", lambda: _finish_write(output_tensor, out, back), async_op,
                (arr, out))


def gather(tensor, gather_list=None, dst: int = 0, group=None, async_op: bool = False):
    """Rank ``dst`` receives every rank's ``tensor`` into ``gather_list`` (give it only there)."""
    pg = _group(group)
    arr, _ = _buf(tensor, "gather")
    dst = int(dst)
    if pg.rank == dst:
        for t in gather_list or ():
            _buf(t, "gather", "gather_list entry")
        aux = _aux_list(gather_list, pg.size)
    else:
        if gather_list:
            raise ValueError(f"gather: gather_list is given on rank {pg.rank}, which is not the destination {dst}")
        aux = None
    _check(pg, "gather", tensor, root=dst, aux=aux)
    out = np.empty((pg.size,) + arr.shape, dtype=arr.dtype) if pg.rank == dst else None
    req = pg.comm.Igather(arr, out, root=dst)
    finish = (lambda: _fill_list(gather_list, out)) if pg.rank == dst else None
    return _run(pg, req, "gather", finish, async_op, (arr, out))


def scatter(tensor, scatter_list=None, src: int = 0, group=None, async_op: bool = False):
    """Rank r receives ``scatter_list[r]`` of rank ``src`` into ``tensor``."""
    pg = _group(group)
    arr, back = _buf(tensor, "scatter")
    src = int(src)
    packed = None
    if pg.rank == src:
        for t in scatter_list or ():
            _buf(t, "scatter", "scatter_list entry")
        aux = _aux_list(scatter_list, pg.size)
        if aux[0] == 1:
            packed = np.stack([np.ascontiguousarray(t._c.numpy()) for t in scatter_list])
    else:
        if scatter_list:
            raise ValueError(f"scatter: scatter_list is given on rank {pg.rank}, which is not the source {src}")
        aux = None
    _check(pg, "scatter", tensor, root=src, aux=aux)
    req = pg.comm.Iscatter(packed, arr, root=src)
    return _run(pg, req, "scatter", lambda: _finish_write(tensor, arr, back), async_op, (arr, packed))


def barrier(group=None, async_op: bool = False):
    """Blocks until every rank of the group has entered the barrier (or the timeout passes)."""
    pg = _group(group)
    return _run(pg, pg.comm.Ibarrier(), "barrier", None, async_op)


# ---------------------------------------------------------------------------------------------
# Point to point. A message is a header (dtype and shape, on the group's header communicator)
# followed by the data, so the receiver checks what arrives against what it expects.

def _header(t) -> np.ndarray:
    return np.array(_desc(t), dtype=np.int64)


def _post_send(pg: ProcessGroup, t, dst: int, tag: int, what: str) -> Work:
    arr, _ = _buf(t, what)
    if not 0 <= dst < pg.size:
        raise ValueError(f"{what}: destination rank {dst} is out of range for a group of {pg.size}")
    if dst == pg.rank:
        raise ValueError(f"{what}: rank {pg.rank} cannot send to itself")
    hdr = _header(t)
    reqs = [pg.p2p_hdr.Isend(hdr, dest=dst, tag=tag), pg.p2p.Isend(arr, dest=dst, tag=tag)]
    return Work(pg, reqs, f"{what} to rank {dst} (tag {tag})", None, (hdr, arr))


def _recv_header(pg: ProcessGroup, src, tag, what: str, timeout=None):
    """Blocks for the next header from ``src`` (None: any rank) with ``tag`` (None: any tag);
    returns (source rank, tag, header)."""
    MPI = pg.MPI
    hdr = np.empty(_DESC, dtype=np.int64)
    st = MPI.Status()
    req = pg.p2p_hdr.Irecv(hdr, source=MPI.ANY_SOURCE if src is None else int(src),
                           tag=MPI.ANY_TAG if tag is None else int(tag))
    wait_request(pg, req, f"{what} from {'any rank' if src is None else f'rank {src}'}"
                 + ("" if tag is None else f" (tag {tag})"), st, timeout)
    return st.Get_source(), st.Get_tag(), hdr


def _post_recv_into(pg: ProcessGroup, t, source: int, tag: int, hdr, what: str) -> Work:
    arr, back = _buf(t, what)
    mine = _header(t)
    if not np.array_equal(hdr, mine):
        raise DistError(f"{what} on rank {pg.rank} from rank {source} (tag {tag}): the sender's tensor is "
                        f"{_fmt(hdr)}, this rank's buffer is {_fmt(mine)}")
    req = pg.p2p.Irecv(arr, source=source, tag=tag)
    return Work(pg, [req], f"{what} from rank {source} (tag {tag})",
                lambda: (_finish_write(t, arr, back), source)[1], (arr,))


def _alloc(hdr):
    nd = int(hdr[1])
    if nd > _MAXD:
        raise DistError(f"cannot receive a tensor with {nd} dimensions (at most {_MAXD})")
    shape = tuple(int(x) for x in hdr[2:2 + nd])
    return empty(shape, dtype=D.as_dtype(_DTNAME[int(hdr[0])]))


def recv_tensor(pg: ProcessGroup, src: int, tag=None, what: str = "recv"):
    """Receives a tensor whose shape and dtype only the sender knows (used by the pipeline);
    ``tag`` None takes the first message from ``src``. Returns (tensor, tag)."""
    source, tag, hdr = _recv_header(pg, src, tag, what)
    t = _alloc(hdr)
    _post_recv_into(pg, t, source, tag, hdr, what).wait()
    return t, tag


def send_tensor(pg: ProcessGroup, t, dst: int, tag: int, what: str = "isend") -> Work:
    """Non-blocking send of ``t`` with its header (the counterpart of recv_tensor)."""
    return _post_send(pg, t, int(dst), int(tag), what)


def send(tensor, dst: int, group=None, tag: int = 0) -> None:
    """Sends ``tensor`` to rank ``dst``; returns when the buffer may be reused."""
    pg = _group(group)
    _post_send(pg, tensor, int(dst), int(tag), "send").wait()


def isend(tensor, dst: int, group=None, tag: int = 0) -> Work:
    """Non-blocking send; do not modify ``tensor`` before ``wait()``."""
    return _post_send(_group(group), tensor, int(dst), int(tag), "isend")


def recv(tensor, src: int | None = None, group=None, tag: int = 0) -> int:
    """Receives into ``tensor`` from rank ``src`` (None: any rank); returns the sender's rank.
    Raises DistError when the sender's dtype or shape differs from ``tensor``'s."""
    pg = _group(group)
    source, _, hdr = _recv_header(pg, src, int(tag), "recv")
    w = _post_recv_into(pg, tensor, source, int(tag), hdr, "recv")
    return w.result()


class _RecvWork(Work):
    """irecv: the header is awaited at wait() time, then the data is received and checked."""

    def __init__(self, pg, tensor, src, tag) -> None:
        super().__init__(pg, [], f"irecv from {'any rank' if src is None else f'rank {src}'} (tag {tag})")
        self._tensor, self._src, self._tag = tensor, src, tag
        _buf(tensor, "irecv")

    def is_completed(self) -> bool:
        return self._done

    def wait(self, timeout=None) -> bool:
        if not self._done:
            source, _, hdr = _recv_header(self._pg, self._src, self._tag, "irecv", timeout)
            w = _post_recv_into(self._pg, self._tensor, source, self._tag, hdr, "irecv")
            w.wait(timeout)
            self._result = w._result
            self._done = True
        return True


def irecv(tensor, src: int | None = None, group=None, tag: int = 0) -> Work:
    """Non-blocking receive into ``tensor``; ``wait()`` completes it, ``result()`` is the sender."""
    return _RecvWork(_group(group), tensor, src, int(tag))


# ---------------------------------------------------------------------------------------------
# Picklable Python objects (rank-to-rank inside one job: the payload comes from our own processes)

def broadcast_object_list(object_list: list, src: int = 0, group=None) -> None:
    """Replaces ``object_list``'s entries on every rank with rank ``src``'s (pickled)."""
    pg = _group(group)
    n = np.zeros(1, dtype=np.int64)
    data = None
    if pg.rank == src:
        data = np.frombuffer(pickle.dumps(list(object_list)), dtype=np.uint8)
        n[0] = data.size
    wait_request(pg, pg.comm.Ibcast(n, root=src), "broadcast_object_list")
    if pg.rank != src:
        data = np.empty(int(n[0]), dtype=np.uint8)
    wait_request(pg, pg.comm.Ibcast(data, root=src), "broadcast_object_list")
    if pg.rank != src:
        got = pickle.loads(data.tobytes())
        if len(got) != len(object_list):
            raise DistError(f"broadcast_object_list: rank {src} sent {len(got)} objects, rank {pg.rank}'s list has "
                            f"{len(object_list)} slots")
        object_list[:] = got


def all_gather_object(object_list: list, obj, group=None) -> None:
    """``object_list[r]`` receives rank r's ``obj`` (pickled) on every rank."""
    pg = _group(group)
    if len(object_list) != pg.size:
        raise ValueError(f"all_gather_object: object_list must have {pg.size} entries (the world size), "
                         f"got {len(object_list)}")
    data = np.frombuffer(pickle.dumps(obj), dtype=np.uint8)
    sizes = np.empty(pg.size, dtype=np.int64)
    wait_request(pg, pg.comm.Iallgather(np.array([data.size], dtype=np.int64), sizes), "all_gather_object")
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    wait_request(pg, pg.comm.Iallgatherv(data, [out, (sizes, displs), pg.MPI.BYTE]), "all_gather_object")
    for r in range(pg.size):
        object_list[r] = pickle.loads(out[displs[r]:displs[r] + sizes[r]].tobytes())
