"""ONNX Attention (opsets 23+) as lamina ops: 3-D or 4-D Q/K/V, grouped-query heads, scale,
softcap, attn_mask (bool or additive, padded to the key length), is_causal and sliding windows
(offset by the past length or by nonpad_kv_seqlen), past/present key-value caches and every
qk_matmul_output_mode. The causal, window and padding masks depend only on shapes and the integer
nonpad_kv_seqlen input, so they are built in NumPy; the attention itself is lamina's matmul,
softmax and where.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops import activation as A
from ..ops import compare as Cmp
from ..ops import indexing as I
from ..ops import join as J
from ..ops import matmul as M
from ..ops import reduce as R
from ..ops import shape as S
from ..ops import softmax as SM
from ..ops import unary as U
from ..tensor import Tensor
from ._import_common import NodeContext, op, to_lamina


def _heads(x: Tensor, n: int) -> Tensor:
    """[B, S, n*D] -> [B, n, S, D]"""
    b, s, hd = x.shape
    return S.permute(S.reshape(x, [b, s, n, hd // n]), 0, 2, 1, 3)


def _allowed_bias(allowed: np.ndarray, dtype) -> np.ndarray:
    return np.where(allowed, 0.0, -np.inf).astype(dtype)


def _frontier(q: int, kv: int, offset):
    """(i + offset) - j for query i, key j; offset a scalar or one per batch row ([B, 1, q, kv])."""
    i, j = np.arange(q)[:, None], np.arange(kv)[None, :]
    if np.ndim(offset):
        return (i + np.reshape(offset, (-1, 1, 1)) - j)[:, None]
    return i + int(offset) - j


def _mask_bias(ctx, mask, kv: int, dt):
    m = ctx.tensor(mask)
    pad = kv - m.shape[-1]
    if m.dtype.name == "bool":
        if pad > 0:
            m = I.pad(m.to(dt), [0, pad], "constant", 0.0).to(m.dtype)
        return U.where(m, to_lamina(np.zeros((), dt._np)), to_lamina(np.array(-np.inf, dt._np)))
    m = m if m.dtype is dt else m.to(dt)
    return I.pad(m, [0, pad], "constant", -math.inf) if pad > 0 else m


@op("Attention")
def _attention(ctx: NodeContext, ins):
    ins = list(ins) + [None] * (7 - len(ins))
    q = ctx.tensor(ins[0])
    k, v = ctx.tensor(ins[1], like=q), ctx.tensor(ins[2], like=q)
    if not q.dtype.is_floating_point:
        raise ctx.unsupported(f"Attention on {q.dtype}")
    dt = q.dtype
    three_d = q.ndim == 3
    if three_d:
        qh, kvh = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
        q, k, v = _heads(q, qh), _heads(k, kvh), _heads(v, kvh)
    past_k, past_v = ctx.tensor(ins[4], like=q), ctx.tensor(ins[5], like=q)
    if (past_k is None) != (past_v is None):
        raise ctx.error("past_key and past_value must be given together")
    nonpad = None if ins[6] is None else np.asarray(ctx.ints(ins[6]), dtype=np.int64)
    past_len = past_k.shape[2] if past_k is not None else 0
    if past_k is not None:
        k, v = J.cat([past_k, k], 2), J.cat([past_v, v], 2)
    present_k, present_v = k, v
    b, hq, sq, _ = q.shape
    skv = k.shape[2]
    scale = ctx.attr("scale")
    s = math.sqrt(1.0 / math.sqrt(q.shape[3]) if scale is None else scale)  # applied to Q and K, as the spec

    # the additive bias [.., sq, skv]: attn_mask, then causal / window / key-padding masks
    bias = None if ins[3] is None else _mask_bias(ctx, ins[3], skv, dt)
    offset = (nonpad - sq) if (past_k is None and nonpad is not None) else past_len
    const = np.zeros((sq, skv), dt._np)
    if ctx.attr("is_causal", 0):
        const = const + _allowed_bias(_frontier(sq, skv, offset) >= 0, dt._np)
    left, right = ctx.attr("left_window_size", -1), ctx.attr("right_window_size", -1)
    if left >= 0 or right >= 0:
        diff = _frontier(sq, skv, offset)
        ok = np.ones_like(diff, dtype=bool)
        if left >= 0:
            ok &= diff <= left
        if right >= 0:
            ok &= -diff <= right
        const = const + _allowed_bias(ok, dt._np)
    if nonpad is not None:
        keep = (np.arange(skv)[None, :] < nonpad[:, None]).reshape(b, 1, 1, skv)
        const = const + _allowed_bias(keep, dt._np)
    bias = to_lamina(const) if bias is None else bias + to_lamina(const)

    rep = hq // k.shape[1]
    if rep > 1:  # grouped-query attention: each key/value head serves `rep` query heads
        bk, hk, sk, dk = k.shape
        k = S.reshape(S.expand(S.reshape(k, [bk, hk, 1, sk, dk]), bk, hk, rep, sk, dk), [bk, hk * rep, sk, dk])
        dv = v.shape[3]
        v = S.reshape(S.expand(S.reshape(v, [bk, hk, 1, sk, dv]), bk, hk, rep, sk, dv), [bk, hk * rep, sk, dv])
    qk = M.matmul(q * s, S.transpose(k * s, 2, 3))
    softcap = ctx.attr("softcap", 0.0)
    if softcap and softcap > 0:
        qk = A.tanh(qk / softcap) * softcap
    scores = qk + bias
    mode = ctx.attr("qk_matmul_output_mode", 0)
    # rows whose every key is masked give zeros (not 0/0): softmax of a finite stand-in, then where
    dead = Cmp.eq(R.amax(bias, -1, keepdim=True), -math.inf)
    probs = SM.softmax(U.where(dead, qk * 0.0, scores), -1)
    probs = U.where(dead, probs * 0.0, probs)
    y = M.matmul(probs, v)
    if three_d:
        y = S.reshape(S.permute(y, 0, 2, 1, 3), [b, sq, -1])
    qk_out = scores if mode == 2 else probs if mode == 3 else qk
    return [y, present_k, present_v, qk_out]


@op("RotaryEmbedding")
def _rotary(ctx, ins):
    """Rotary position embedding: the first rotary_embedding_dim features of each head rotated by
    the cached cos/sin (rows picked by position_ids when given), halves or interleaved pairs."""
    ins = list(ins) + [None] * (4 - len(ins))
    x = ctx.tensor(ins[0])
    cos, sin = ctx.tensor(ins[1], like=x), ctx.tensor(ins[2], like=x)
    four_d = x.ndim == 4
    shape = list(x.shape)
    if four_d:
        x = S.permute(x, 0, 2, 1, 3)  # [B, S, H, D]
    else:
        x = S.reshape(x, shape[:2] + [ctx.attr("num_heads"), -1])
    b, s, _, d = x.shape
    rd = ctx.attr("rotary_embedding_dim", 0) or d
    if ins[3] is not None:
        pos = ctx.tensor(ins[3])
        cos = S.reshape(I.index_select(cos, 0, S.reshape(pos, [-1])), [b, s, -1])
        sin = S.reshape(I.index_select(sin, 0, S.reshape(pos, [-1])), [b, s, -1])
    cos, sin = S.unsqueeze(cos, 2), S.unsqueeze(sin, 2)
    rot = x[..., :rd]
    if ctx.attr("interleaved", 0):
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
    else:
        x1, x2 = rot[..., : rd // 2], rot[..., rd // 2:]
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    if ctx.attr("interleaved", 0):
        rot = S.reshape(J.stack([real, imag], -1), list(rot.shape))
    else:
        rot = J.cat([real, imag], -1)
    out = J.cat([rot, x[..., rd:]], -1) if rd < d else rot
    return S.permute(out, 0, 2, 1, 3) if four_d else S.reshape(out, shape)
