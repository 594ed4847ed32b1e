"""Scaled dot-product attention and positional encodings. C++: cpp/ops/attention.cpp.

``F.scaled_dot_product_attention`` is one fused op: a single C++ call computes
softmax(scale * Q K^T + mask) (with dropout) @ V over every batch item and keeps the
probabilities for the backward, which is a single C++ call too (dQ, dK, dV).
"""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from .. import _dtype as D
from ..autograd.function import Function
from ..tensor import Tensor
from .creation import empty, tensor
from .elementwise import _stand_in
from .join import cat
from .reduce import sum_to

W = Tensor._wrap

__all__: list = []
FUNCTIONAL: list = ["scaled_dot_product_attention", "sinusoidal_positional_encoding"]
TENSOR_METHODS: dict = {}

_OP = "scaled_dot_product_attention"


def _sum_to(g, like: Tensor):
    """A gradient with the broadcast batch shape, summed back to the input's shape."""
    if g is None:
        return None
    g = W(g)
    shape = like if isinstance(like, tuple) else tuple(like.shape)
    if tuple(g.shape) != shape:
        g = sum_to(g, shape)
    return g


class ScaledDotProductAttention(Function):
    @staticmethod
    def forward(ctx, q, k, v, mask, dropout_p, is_causal, scale, need_weights, safe_softmax):
        out, probs, weights, seed, offset = _C.sdpa_forward(
            q._c, k._c, v._c, None if mask is None else mask._c, dropout_p, is_causal, scale, need_weights,
            safe_softmax)
        ctx.save_for_backward(q, k, v)
        # backward reads only the mask's shape (and a float mask's place in the graph)
        ctx.mask = None if mask is None else _stand_in(mask._c)
        ctx.probs = probs
        ctx.state = (dropout_p, seed, offset, scale)
        if need_weights:
            return W(out), W(weights if weights is not None else probs)
        return W(out)

    @staticmethod
    def backward(ctx, dout, dweights=None):
        q, k, v = ctx.saved_tensors
        p, seed, offset, scale = ctx.state
        nq, nk, nv, nm = (bool(n) for n in ctx.needs_input_grad[:4])
        dq, dk, dv, dm = _C.sdpa_backward(dout._c, None if dweights is None else dweights._c, q._c, k._c, v._c,
                                          ctx.probs, p, seed, offset, scale, nq, nk, nv, nm)
        return (_sum_to(dq, q) if nq else None, _sum_to(dk, k) if nk else None, _sum_to(dv, v) if nv else None,
                _sum_to(dm, tuple(ctx.mask.shape)) if nm else None, None, None, None, None, None)

    @staticmethod
    def backward_graph(ctx, dout, dweights=None):
        """create_graph=True: the backward's formulas (see cpp/ops/attention.h) as differentiable lamina
        ops. P is rebuilt from the saved probabilities P0 as softmax(log P0 + A - A.detach()) with
        A = scale * Q K^T (+ a float mask): the values are P0 (masking, causality and fully masked
        rows included) and every derivative is softmax's. Dropout reuses the forward's mask."""
        qs, ks, vs = ctx.saved_tensors
        p, seed, offset, scale = ctx.state
        nq, nk, nv, nm = (bool(n) for n in ctx.needs_input_grad[:4])
        q, k, v = ctx.input(0, qs._c), ctx.input(1, ks._c), ctx.input(2, vs._c)
        p0 = W(ctx.probs)
        prob = p0
        if nq or nk or nm:
            a = q.matmul(k.transpose(-2, -1)) * scale
            if nm:
                a = a + ctx.input(3, ctx.mask)
            e = p0 * (a - a.detach()).exp()
            z = e.sum(-1, keepdim=True)
            z0 = z.detach()
            prob = e / z.where(z0 != 0, 1.0)  # an all-masked row: P0 = 0 (safe softmax) or NaN
        drop = None
        if p > 0.0:
            drop = W(_C.dropout_mask(list(ctx.probs.shape), ctx.probs.dtype, p, seed, offset))
        pd = prob if drop is None else prob * drop  # the probabilities that multiplied V
        dq = dk = dv = dm = None
        if nv:
            dv = pd.transpose(-2, -1).matmul(dout)
        if nq or nk or nm:
            dpd = dout.matmul(v.transpose(-2, -1))
            if dweights is not None:
                dpd = dpd + dweights
            dp = dpd if drop is None else dpd * drop
            ds = prob * (dp - (dp * prob).sum(-1, keepdim=True))
            if nq:
                dq = ds.matmul(k) * scale
            if nk:
                dk = ds.transpose(-2, -1).matmul(q) * scale
            if nm:
                dm = ds
        return dq, dk, dv, dm, None, None, None, None, None


def _heads(x: Tensor, N: int, T: int, H: int, hd: int, batch_first: bool) -> Tensor:
    """[N, T, H*hd] (batch_first) or [T, N, H*hd] -> the [N, H, T, hd] view of its heads."""
    if batch_first:
        return x.reshape(N, T, H, hd).permute(0, 2, 1, 3)
    return x.reshape(T, N, H, hd).permute(1, 2, 0, 3)


def _merge_heads(g: Tensor, N: int, T: int, H: int, hd: int, batch_first: bool) -> Tensor:
    """_heads' inverse as a copy: [N, H, T, hd] -> [N, T, H*hd] (batch_first) or [T, N, H*hd]."""
    if batch_first:
        return g.permute(0, 2, 1, 3).reshape(N, T, H * hd)
    return g.permute(2, 0, 1, 3).reshape(T, N, H * hd)


class _SdpaShim:
    """The ctx ScaledDotProductAttention.backward_graph reads, built from a PackedSelfAttention ctx:
    its inputs are differentiable head views of the packed qkv."""

    def __init__(self, ctx, heads_c, heads_in):
        self.saved_tensors = tuple(W(c) for c in heads_c)
        self.state, self.probs, self.mask = ctx.state, ctx.probs, None
        self.needs_input_grad = (True, True, True, False)
        self._heads_in = heads_in

    def input(self, i, _c):
        return self._heads_in[i]


class PackedSelfAttention(Function):
    """MultiheadAttention's self-attention on its packed in-projection qkv ([N, L, 3E] batch_first,
    else [L, N, 3E]) -> [.., E] with the heads merged. The C++ op reads q, k, v as strided head
    views of qkv, writes its output through a head view of the result, and the backward writes dq,
    dk, dv through head views of one dqkv: no merge-heads copies, no contiguous dout and no cat for
    the chunk's backward (five 2-6 MB copies per step at b32 T128 d128 h4)."""

    @staticmethod
    def forward(ctx, qkv, mask, H, batch_first, dropout_p, scale):
        shp = tuple(qkv.shape)
        E = shp[-1] // 3
        N, L = (shp[0], shp[1]) if batch_first else (shp[1], shp[0])
        hd = E // H
        geom = (N, L, H, hd, batch_first)
        out = empty(*shp[:-1], E, dtype=qkv.dtype)
        q, k, v = (_heads(t, *geom) for t in qkv.chunk(3, dim=-1))
        _, probs, _, seed, offset = _C.sdpa_forward(q._c, k._c, v._c, None if mask is None else mask._c, dropout_p,
                                                    False, scale, False, True, _heads(out, *geom)._c)
        ctx.save_for_backward(qkv)
        ctx.probs, ctx.state, ctx.geom = probs, (dropout_p, seed, offset, scale), geom
        return out

    @staticmethod
    def backward(ctx, dout):
        (qkv,) = ctx.saved_tensors
        p, seed, offset, scale = ctx.state
        q, k, v = (_heads(t, *ctx.geom) for t in qkv.chunk(3, dim=-1))
        dqkv = empty(*qkv.shape, dtype=qkv.dtype)
        dq, dk, dv = (_heads(t, *ctx.geom) for t in dqkv.chunk(3, dim=-1))
        _C.sdpa_backward(_heads(dout, *ctx.geom)._c, None, q._c, k._c, v._c, ctx.probs, p, seed, offset, scale,
                         True, True, True, False, dq._c, dk._c, dv._c)
        return dqkv, None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, dout):
        """create_graph=True: ScaledDotProductAttention's differentiable backward on head views of
        the packed input, the head gradients merged and concatenated with lamina ops."""
        (qkv_saved,) = ctx.saved_tensors
        qkv = ctx.input(0, qkv_saved._c)
        geom = ctx.geom
        heads_in = [_heads(t, *geom) for t in qkv.chunk(3, dim=-1)]
        heads_c = [_heads(t, *geom)._c for t in qkv_saved.chunk(3, dim=-1)]
        shim = _SdpaShim(ctx, heads_c, heads_in)
        dq, dk, dv = ScaledDotProductAttention.backward_graph(shim, _heads(dout, *geom))[:3]
        return cat([_merge_heads(g, *geom) for g in (dq, dk, dv)], dim=-1), None, None, None, None, None


def _packed_self_attention(qkv: Tensor, mask, num_heads: int, batch_first: bool, dropout_p: float) -> Tensor:
    """MultiheadAttention's fast path (self-attention, no weights returned, mask not differentiated)."""
    E = qkv.shape[-1] // 3
    return PackedSelfAttention.apply(qkv, mask, int(num_heads), bool(batch_first), float(dropout_p),
                                     1.0 / math.sqrt(E // num_heads) if E else 1.0)


def _attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
               need_weights=False, safe_softmax=True):
    """Checks arguments and runs the fused op; returns out, or (out, weights) with need_weights."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{_OP}: {name} must be a Tensor, got {type(t).__name__}")
    dropout_p = float(dropout_p)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{_OP}: dropout_p has to be between 0 and 1, but got {dropout_p}")
    if attn_mask is not None:
        if is_causal:
            raise ValueError(f"{_OP}: attn_mask {list(attn_mask.shape)} and is_causal=True cannot both be set")
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{_OP}: attn_mask must be a Tensor, got {type(attn_mask).__name__}")
        if attn_mask.dtype is not D.bool_ and attn_mask.dtype is not query.dtype:
            if not attn_mask.dtype.is_floating_point:
                raise TypeError(f"{_OP}: attn_mask must be bool or floating point, got {attn_mask.dtype}")
            attn_mask = attn_mask.to(query.dtype)
    if scale is None:
        e = query.shape[-1] if query.ndim else 0
        scale = 1.0 / math.sqrt(e) if e > 0 else 1.0
    return ScaledDotProductAttention.apply(query, key, value, attn_mask, dropout_p, bool(is_causal), float(scale),
                                           bool(need_weights), bool(safe_softmax))


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, fused (PyTorch semantics).

    query [..., L, E], key [..., S, E], value [..., S, Ev] -> [..., L, Ev]; the leading batch
    dimensions broadcast. ``attn_mask`` is bool (True = takes part in attention) or float (added to
    the scores, and differentiable: e.g. a learned relative-position bias), broadcastable to
    [..., L, S].
    ``is_causal`` masks keys after the query position (upper-left aligned, s <= l is kept) and cannot
    be combined with ``attn_mask``. ``scale`` defaults to 1/sqrt(E). ``dropout_p`` drops attention
    probabilities (always applied when > 0, like PyTorch's functional; reproducible with
    ``lamina.manual_seed``). A query row whose keys are all masked gives an all-zero output row and
    zero gradients, as PyTorch's scaled_dot_product_attention does (its softmax would give NaN).
    """
    if enable_gqa:
        raise NotImplementedError(f"{_OP}: enable_gqa=True is not supported")
    return _attention(query, key, value, attn_mask, dropout_p, is_causal, scale)


def sinusoidal_positional_encoding(length: int, d_model: int, dtype=None) -> Tensor:
    """The sinusoidal table of Vaswani et al. (2017), shape [length, d_model]:
    pe[pos, 2i] = sin(pos / 10000^(2i/d_model)), pe[pos, 2i+1] = cos(pos / 10000^(2i/d_model)).
    An odd d_model keeps its last (sine) column; computed in float64, then cast to ``dtype``."""
    length, d_model = int(length), int(d_model)
    if length < 0 or d_model < 0:
        raise ValueError(f"sinusoidal_positional_encoding: length and d_model must be >= 0, got {length} "
                         f"and {d_model}")
    pos = np.arange(length, dtype=np.float64)[:, None]
    two_i = np.arange(0, d_model, 2, dtype=np.float64)
    angle = pos / np.power(10000.0, two_i / max(d_model, 1))
    pe = np.zeros((length, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    dt = D.get_default_dtype() if dtype is None else dtype
    return tensor(pe, dtype=dt)
