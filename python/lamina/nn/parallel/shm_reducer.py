"""DistributedDataParallel's shared-memory reducer, used when every rank runs on one node: an op
that computes a parameter's whole gradient (F.linear) writes it, scaled by 1/world, straight into
this rank's segment of a shared window (``AccumulateGrad.dest``, engine.take_grad_destination); the
gradient hooks note each accumulated ``.grad``, and when the last one has come the others are
scaled into the segment and ``ShmAllreduce``'s rank-ordered sums written out. When every gradient
was written into the window by its op (an all-Linear model, a power-of-two world) the sums stay
there: each rank reduces its chunk in place, copies the other chunks into its own segment, and
``.grad`` views that segment (``_shm_grads_in_window``; two buffers used in turn, and one the user
still holds is released or, if exported, retired). Otherwise they go to private memory: a flat
tensor whose views become ``.grad`` (for gradients written into the window), ``.grad`` itself, or
DDP's own flat buffer that ``.grad`` views (``gradient_as_bucket_view``). Mixed into
DistributedDataParallel (nn/parallel/distributed.py)."""
from __future__ import annotations

import sys

import numpy as np

from ... import _C
from ...autograd.function import _edge
from ...distributed.shm_allreduce import create_shm_allreduce, shm_disabled_by_env
from ...ops.creation import from_numpy
from ...tensor import Tensor

_SHM_DTYPES = ("float32", "float64")


def _divide_into(src, n: int, out) -> None:
    """``out = src / n`` (a multiply by the exact ``1 / n`` when ``n`` is a power of two: same bits)."""
    if n & (n - 1) == 0:
        np.multiply(src, 1.0 / n, out=out)
    else:
        np.divide(src, n, out=out)


class _ShmIteration:
    """Per-iteration state of the shared-memory path (a plain object: Module.__setattr__ is slow)."""

    __slots__ = ("given", "in_window", "writing")

    def __init__(self, nparams: int) -> None:
        self.given = [False] * nparams  # param i's gradient was written into the window by its op
        self.in_window = 0  # how many gradients are .grad in the window (written there and adopted)
        self.writing = False  # this rank's segment may be written (wait_free done this iteration)


class _Private:
    """The private flat tensor that the sums of gradients written into the window go to, laid out
    as the window, with its per-parameter NumPy slices and ``.grad`` tensors (views of it). Used
    again next iteration when nobody but DDP holds any of it (the engine's rule for adopting a
    gradient): no allocation, no new tensors, and memory the optimizer has just read."""

    __slots__ = ("dst", "flat", "grads", "out", "uses")

    def __init__(self, params, span, numel: int, ctype) -> None:
        self.flat = _C.empty([numel], ctype, "cpu")
        self.out = out = self.flat.numpy()
        self.dst = [out[off:off + m] for off, m in span]
        self.grads = [Tensor._wrap(self.flat.slice(0, off, off + m, 1).view(list(p.shape)))
                      for p, (off, m) in zip(params, span)]
        self.uses = self.flat._storage_use_count()

    def free(self) -> bool:
        """Nothing outside DDP holds these tensors, their C++ handles or their memory."""
        if self.flat._storage_use_count() != self.uses:
            return False
        for t in self.grads:  # references: the list, t, getrefcount's argument; t._c: t's and the argument
            if sys.getrefcount(t) > 3 or sys.getrefcount(t._c) > 2:
                return False
        return True


class _WindowGrads:
    """``.grad`` tensors that are views of one buffer of this rank's own segment (``.grad`` in the
    window, ``_shm_grads_in_window``). Before that buffer is written again, ``release()`` makes
    sure nobody but DDP holds them: a tensor the user kept gets a private copy of its values
    (``.data`` swapped, PyTorch's semantics: a kept ``.grad`` keeps its values); memory exported
    another way (``.numpy()``, a view) cannot be moved, and ``release()`` says so."""

    __slots__ = ("flat", "grads", "shapes", "span", "uses")

    def __init__(self, seg, params, span) -> None:
        self.flat = _C.from_numpy(seg)
        self.span = span
        self.shapes = [list(p.shape) for p in params]
        self.grads = [self._view(i) for i in range(len(params))]
        self.uses = self.flat._storage_use_count()

    def _view(self, i: int) -> Tensor:
        off, m = self.span[i]
        return Tensor._wrap(self.flat.slice(0, off, off + m, 1).view(self.shapes[i]))

    def release(self) -> bool:
        """True when nothing outside DDP holds this buffer's memory any more (after giving the
        tensors the user kept private copies); False when something else still does."""
        grads = self.grads
        for i in range(len(grads)):
            t = grads[i]  # references: the list, t, getrefcount's argument; t._c: t's and the argument
            if sys.getrefcount(t) > 3 and sys.getrefcount(t._c) <= 2:
                t.data = Tensor._wrap(t._c.clone())  # the user's tensor keeps its values, in its own memory
                grads[i] = self._view(i)
            del t
        return self.flat._storage_use_count() == self.uses and all(sys.getrefcount(t._c) <= 2 for t in grads)


class _Layout:
    """The parameters' places in one buffer of the window (ShmAllreduce's buffers take turns)."""

    __slots__ = ("all", "gather", "parts", "pieces", "ptr", "view")

    def __init__(self, shm, params, order, b: int) -> None:
        seg = shm.segment(shm.rank, b)
        nparams = len(params)
        self.view = [None] * nparams  # param i's slice of this rank's segment
        self.parts = [None] * nparams  # whole scheme: param i's slice of every segment, rank order
        self.pieces = []  # chunked scheme: (i, lo, hi, the part of param i that its owner reduced)
        off = 0
        for i in order:
            p = params[i]
            m = p.numel()
            self.view[i] = seg[off:off + m].reshape(tuple(p.shape))
            self.parts[i] = shm.parts(off, off + m, b)
            for j in range(shm.n):
                lo, hi = max(off, shm.bounds[j]), min(off + m, shm.bounds[j + 1])
                if hi > lo:
                    self.pieces.append((i, lo - off, hi - off, shm.segment(j, b)[lo:hi]))
            off += m
        self.all = shm.parts(0, off, b)  # whole scheme: every segment, summed by one call when it can
        # chunked scheme: (this rank's slice, owner j's reduced slice) for every other owner j
        self.gather = [(seg[shm.bounds[j]:shm.bounds[j + 1]], shm.segment(j, b)[shm.bounds[j]:shm.bounds[j + 1]])
                       for j in range(shm.n) if j != shm.rank and shm.bounds[j + 1] > shm.bounds[j]]
        self.ptr = [int(v.__array_interface__["data"][0]) for v in self.view]


class ShmReducerMixin:
    """Expects DDP's ``process_group``, ``_params``, ``_names``, ``_it``, ``gradient_as_bucket_view``,
    ``find_unused_parameters``, ``static_graph`` and ``_reduced_once``."""

    _shm_whole = None  # ShmAllreduce's scheme: None = its default (whole for 2 ranks); tests and benchmarks pin it
    # Copy each gradient into the window at the end of backward rather than in its hook: the
    # window's 1 MB-per-MB of cold lines then no longer evicts what the rest of backward reads,
    # and NumPy runs once after the last kernel instead of after each layer's (measured: about
    # 15-30 us less CPU per MLP b256 backward). False (copy in the hook) is kept for benchmarks.
    _shm_defer = True
    # Buffers per segment, used in turn (ShmAllreduce): 2 keeps backward's writes off the lines the
    # other rank read in the last sum and drops wait_free's wait. 1 is kept for benchmarks.
    _shm_buffers = 2
    # When every gradient was written into the window by its op (an all-Linear model) and the world
    # is a power of two: the chunked scheme reduces in place in the window (each owner its chunk,
    # then each rank copies the other owners' chunks into its own segment) and .grad are views of
    # this rank's own segment, which no other rank reads once the reduction is over. Every write
    # then goes to lines this core already holds (the GEMMs' output) instead of a private flat
    # tensor that backward has pushed out of cache, and the optimizer reads .grad from cache.
    # False: the sums go to private memory (the whole scheme for 2 ranks); kept for benchmarks.
    _shm_grads_in_window = True

    def _setup_shm(self, enabled: bool) -> None:
        """Collective: builds the window when every rank can use it, else leaves ``_shm`` None."""
        pg = self.process_group
        self._shm = None
        dtypes = {p.dtype.name for p in self._params}
        want = (enabled and not shm_disabled_by_env() and len(dtypes) == 1 and dtypes <= set(_SHM_DTYPES)
                and not self.find_unused_parameters and not self.static_graph)
        if pg.size < 2 or not self._params:
            return
        order = list(range(len(self._params)))[::-1]  # the order backward produces gradients
        numel = sum(self._params[i].numel() for i in order)
        dtype = self._params[0].dtype._np
        inwin = (self._shm_grads_in_window and self._shm_whole is None and self._shm_buffers == 2
                 and not self.gradient_as_bucket_view and pg.size & (pg.size - 1) == 0)
        shm = create_shm_allreduce(pg, numel, dtype, want, False if inwin else self._shm_whole, self._shm_buffers)
        if shm is None:
            return
        self._shm = shm
        nparams = len(self._params)
        self._shm_lay = [_Layout(shm, self._params, order, b) for b in range(shm.buffers)]
        self._shm_span = [None] * nparams  # param i's (offset, numel) in the window
        off = 0
        for i in order:
            self._shm_span[i] = (off, self._params[i].numel())
            off += self._params[i].numel()
        self._shm_numel = numel
        self._shm_inwin = inwin  # .grad in the window: see _shm_grads_in_window (off for good once retired)
        if inwin:
            own = [self._params[i] for i in range(nparams)]
            span = self._shm_span
            self._shm_wg = [_WindowGrads(shm.segment(shm.rank, b), own, span) for b in range(shm.buffers)]
            self._shm_handed = [False] * shm.buffers  # buffer b's views were handed out as .grad
            raw = shm.window(shm.rank)
            self._shm_win_lo = int(raw.__array_interface__["data"][0])
            self._shm_win_hi = self._shm_win_lo + raw.nbytes
        self._shm_src = [None] * nparams  # this iteration's gradients, still to be scaled into the window
        self._shm_dst = [None] * nparams  # this iteration's flat destinations of the sums
        self._shm_new = {}  # copy mode: param -> the Tensor that becomes .grad (for one in the window, or non-contiguous)
        self._shm_st = _ShmIteration(nparams)
        self._shm_priv = [None]  # [_Private]: a list, so finish swaps it without Module.__setattr__
        # An op that computes a parameter's whole gradient may write it, scaled by 1 / world size,
        # straight into the window (engine.take_grad_destination; F.linear does): no temporary, no
        # pass that scales and copies it. Only for a power-of-two world: the scale is then exact,
        # the bits those of the copy.
        self._shm_scale = 1.0 / shm.n
        self._shm_ctype = self._params[0].dtype._c
        if shm.n & (shm.n - 1) == 0:
            for i, p in enumerate(self._params):
                _edge(p)[0].dest = self._shm_dest_fn(i)
        if self.gradient_as_bucket_view:
            # .grad views DDP's own flat buffer (PyTorch's bucket), not the window: the user may
            # zero or accumulate into it while other ranks still read this rank's segment
            flat = np.zeros(numel, dtype)
            self._shm_flat = [None] * nparams
            self._shm_grads = [None] * nparams  # the view tensors handed out as .grad
            off = 0
            for i in order:
                m = self._params[i].numel()
                self._shm_flat[i] = flat[off:off + m]
                off += m
            self._shm_flat_all = flat

    def _shm_dest_fn(self, i: int):
        def dest():
            """AccumulateGrad.dest of parameter i: its slice of this rank's segment and 1 / world."""
            st = self._shm_st
            if not self._it.armed or self._shm is None or len(self._params[i]._accum.post_hooks) != 1:
                return None  # no_sync, or another post-accumulate hook would see the scaled gradient
            if not st.writing:
                self._shm.wait_free()  # nobody still reads last iteration's data from this segment
                st.writing = True
            st.given[i] = True
            return _C.from_numpy(self._shm_lay[self._shm.cur].view[i]), self._shm_scale
        return dest

    def _shm_unset_dests(self) -> None:
        for p in self._params:
            if p._accum is not None:
                p._accum.dest = None

    def _shm_arm(self) -> None:
        st = self._shm_st
        st.given = [False] * len(self._params)
        st.in_window = 0
        st.writing = False

    def _shm_ready(self, i: int, p) -> None:
        """Post-accumulate hook body on the shared-memory path: notes gradient i (and where its
        sum goes); the last one runs the reduction."""
        it = self._it
        if it.ready[i]:
            raise RuntimeError(f"DistributedDataParallel: parameter {self._names[i]!r} received a second gradient in "
                               "one iteration (a second backward through the same forward, or a reentrant backward); "
                               "run forward again before each backward")
        st = self._shm_st
        it.ready[i] = True
        it.nready += 1
        c = p.grad._c
        in_window = st.given[i] and c.data_ptr() == self._shm_lay[self._shm.cur].ptr[i]  # the op wrote it there, scaled
        if in_window:
            st.in_window += 1
        else:
            g = c.numpy()
            if self._shm_defer:
                self._shm_src[i] = g
            else:
                if not st.writing:
                    self._shm.wait_free()  # nobody still reads last iteration's data from this segment
                    st.writing = True
                self._shm_copy_in(i, g)
        if self.gradient_as_bucket_view:
            self._shm_dst[i] = self._shm_flat[i]  # may be g itself (accumulated in place): read before the sums
        elif in_window:
            pass  # .grad becomes private memory at the end (_shm_finish)
        elif g.flags.c_contiguous and not (self._shm_inwin and self._shm_win_lo <= c.data_ptr() < self._shm_win_hi):
            self._shm_dst[i] = g.reshape(-1)
        else:
            a = _C.empty(list(c.shape), self._shm_ctype, "cpu")
            self._shm_new[i] = Tensor._wrap(a)
            self._shm_dst[i] = a.numpy().reshape(-1)
        if it.nready == len(self._params):
            self._shm_finish()

    def _shm_copy_in(self, i: int, g) -> None:
        """Gradient i (not written by its op) into this rank's segment, divided by the world size
        (an op's own gradient came scaled into memory of its own when the engine could not adopt it)."""
        view = self._shm_lay[self._shm.cur].view[i]
        if self._shm_st.given[i]:
            np.copyto(view, g)
        else:
            _divide_into(g, self._shm.n, view)

    def _shm_finish(self) -> None:
        shm = self._shm
        st = self._shm_st
        params = self._params
        if st.in_window == len(params) and not self.gradient_as_bucket_view:
            if self._shm_inwin:
                self._shm_finish_grads_in_window()
                return
            if shm.whole:
                self._shm_finish_all_in_window()
                return
        dst = self._shm_dst
        if self._shm_defer:
            st = self._shm_st
            if not st.writing:
                shm.wait_free()  # nobody still reads last iteration's data from this segment
                st.writing = True
            src = self._shm_src
            for i, g in enumerate(src):  # parameter 0 first: the first layer's, produced last, still in cache
                if g is not None:
                    self._shm_copy_in(i, g)
                    src[i] = None
        if st.in_window and not self.gradient_as_bucket_view:
            # those .grad move out of the window into one private flat tensor, laid out as the window
            priv = self._shm_private()
            for i in range(len(params)):
                if dst[i] is None:
                    dst[i] = priv.dst[i]
                    self._shm_new[i] = priv.grads[i]
        b = shm.cur
        lay = self._shm_lay[b]
        if self._shm_inwin:  # .grad views of the window may have been handed out in earlier iterations
            shm.arrive(self._shm_next_flag())
            retire = any(shm.flags())
        else:
            shm.arrive()
            retire = False
        if shm.whole:
            if self.gradient_as_bucket_view:  # one call over the whole window
                shm.sum_parts(lay.all, self._shm_flat_all)
            else:  # (every gradient in the window took _shm_finish_all_in_window)
                for i, parts in enumerate(lay.parts):
                    shm.sum_parts(parts, dst[i])
        else:
            shm.reduce()
            for i, lo, hi, piece in lay.pieces:
                np.copyto(dst[i][lo:hi], piece)
        shm.done()
        if retire:
            self._shm_retire(b)
        if self.gradient_as_bucket_view:
            views = self._shm_grads
            for i, p in enumerate(params):
                if p.grad is views[i]:
                    p.grad._c._bump_version()
                else:
                    p.grad = views[i] = from_numpy(self._shm_flat[i].reshape(tuple(p.shape)))
        else:
            new = self._shm_new
            for i, p in enumerate(params):
                t = new.get(i)
                if t is not None:
                    p.grad = t
                p.grad._c._bump_version()
            new.clear()
        for i in range(len(dst)):
            dst[i] = None
        if not self._reduced_once:
            self._reduced_once = True
        self._it.armed = False

    def _shm_next_flag(self) -> int:
        """.grad in the window, before arrive: the buffer the next iteration writes must be free.
        Its views, handed out as .grad two iterations ago, are released (a tensor the user kept
        gets a private copy); 1 (published with arrive) when memory exported another way still
        holds it: every rank then stops using that buffer and handing out views (_shm_retire)."""
        b = self._shm.cur ^ 1
        if not self._shm_handed[b]:
            return 0
        if self._shm_wg[b].release():
            self._shm_handed[b] = False
            return 0
        return 1

    def _shm_retire(self, b: int) -> None:
        """Some rank's user holds memory of a window buffer that .grad viewed (a NumPy array, a
        view): from now on every rank uses buffer ``b`` (this iteration's, whose views nobody got)
        alone and sends the sums to private memory; the held buffer is never written again."""
        self._shm.pin(b)
        self._shm_inwin = False

    def _shm_gather(self, lay) -> None:
        """Chunked scheme, after reduce: every other owner's reduced chunk into this rank's segment."""
        for mine, theirs in lay.gather:
            np.copyto(mine, theirs)

    def _shm_finish_grads_in_window(self) -> None:
        """_shm_finish when every op wrote its gradient into the window and .grad lives there
        (_shm_grads_in_window): reduce this rank's chunk in place, copy the others' reduced chunks
        into this rank's segment, wait until nobody reads it any more, and its views become .grad."""
        shm = self._shm
        params = self._params
        b = shm.cur
        shm.arrive(self._shm_next_flag())
        if any(shm.flags()):  # a rank could not free its next buffer: private sums from now on
            priv = self._shm_private()
            shm.reduce()
            for i, lo, hi, piece in self._shm_lay[b].pieces:
                np.copyto(priv.dst[i][lo:hi], piece)
            shm.done()
            self._shm_retire(b)
            grads = priv.grads
        else:
            shm.reduce()
            self._shm_gather(self._shm_lay[b])
            shm.done()
            shm.wait_done()  # .grad may now change in place (zero_grad, clipping): nobody reads it
            grads = self._shm_wg[b].grads
            self._shm_handed[b] = True
        for p, g in zip(params, grads):
            p.grad = g
            g._c._bump_version()
        self._reduced_once = True
        self._it.armed = False

    def _shm_private(self) -> _Private:
        """Last iteration's private flat tensor when nobody else holds it, else a new one."""
        priv = self._shm_priv[0]
        if priv is None or not priv.free():
            priv = self._shm_priv[0] = _Private(self._params, self._shm_span, self._shm_numel, self._shm_ctype)
        return priv

    def _shm_finish_all_in_window(self) -> None:
        """_shm_finish when every op wrote its gradient into the window (a model of Linear layers,
        whole scheme, copy mode): one sum over the whole window into the private flat tensor, whose
        views become .grad; none of the general path's per-parameter copies, destinations or dicts
        (about 3 us of Python per step)."""
        shm = self._shm
        params = self._params
        priv = self._shm_private()
        lay = self._shm_lay[shm.cur]
        shm.arrive()
        shm.sum_parts(lay.all, priv.out)
        shm.done()
        for p, g in zip(params, priv.grads):
            p.grad = g
            g._c._bump_version()
        self._reduced_once = True
        self._it.armed = False
