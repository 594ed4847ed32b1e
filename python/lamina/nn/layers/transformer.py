"""Attention layers: MultiheadAttention, sinusoidal PositionalEncoding, TransformerEncoder(Layer).
PyTorch's parameter names and initialisation, so torch state_dicts load and give the same outputs;
the attention itself is the fused lamina.nn.functional.scaled_dot_product_attention."""
from __future__ import annotations

import copy

from ... import _dtype as D
from ..._state import _tracers as _TRACERS
from ...ops.attention import (
    _attention,
    _packed_self_attention,
    sinusoidal_positional_encoding,
)
from ...ops.creation import empty, full
from ...ops.unary import where
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..containers import ModuleList
from ..module import Module
from ..parameter import Parameter
from .dropout import Dropout
from .linear import Linear
from .norm import LayerNorm

__all__ = ["MultiheadAttention", "PositionalEncoding", "TransformerEncoderLayer", "TransformerEncoder"]


def _float_mask(mask: Tensor, dtype, name: str) -> Tensor:
    """PyTorch's layer convention (bool True = not allowed) as an additive float mask."""
    if mask.dtype is D.bool_:
        shape = tuple(mask.shape)
        return where(mask, full(shape, float("-inf"), dtype=dtype), full(shape, 0.0, dtype=dtype))
    if not mask.dtype.is_floating_point:
        raise TypeError(f"MultiheadAttention: only bool and floating types of {name} are supported, got {mask.dtype}")
    return mask.to(dtype)


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al.) with PyTorch's interface, parameters and init.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (attn_output, attn_weights or None).
    Layouts: [L, N, E] (or [N, L, E] with batch_first), unbatched [L, E]. Masks follow PyTorch's
    layer convention: bool True = *not* allowed to attend, float = added to the scores.
    ``is_causal`` is only a hint (as in PyTorch): ``attn_mask`` must hold the causal mask.
    A query whose keys are all masked gives NaN with need_weights=True (PyTorch's softmax path) and
    zeros with need_weights=False (PyTorch's scaled_dot_product_attention path).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads != 0:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported in lamina")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        dt = D.get_default_dtype() if dtype is None else dtype
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * E, E, dtype=dt, device=device))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty(E, E, dtype=dt, device=device))
            self.k_proj_weight = Parameter(empty(E, self.kdim, dtype=dt, device=device))
            self.v_proj_weight = Parameter(empty(E, self.vdim, dtype=dt, device=device))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * E, dtype=dt, device=device))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, device=device, dtype=dt)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def _name(self) -> str:
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def _merged_mask(self, attn_mask, key_padding_mask, N, L, S, dtype):
        """One mask in scaled_dot_product_attention's convention, broadcastable to [N, H, L, S]."""
        H = self.num_heads
        if attn_mask is not None:
            if attn_mask.ndim == 2:
                if tuple(attn_mask.shape) != (L, S):
                    raise RuntimeError(f"{self._name()}: the shape of the 2D attn_mask is {list(attn_mask.shape)}, "
                                       f"but should be {[L, S]}.")
            elif attn_mask.ndim == 3:
                if tuple(attn_mask.shape) != (N * H, L, S):
                    raise RuntimeError(f"{self._name()}: the shape of the 3D attn_mask is {list(attn_mask.shape)}, "
                                       f"but should be {[N * H, L, S]}.")
                attn_mask = attn_mask.reshape(N, H, L, S)
            else:
                raise RuntimeError(f"{self._name()}: attn_mask's dimension {attn_mask.ndim} is not supported "
                                   f"(expected 2 or 3)")
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (N, S):
                raise RuntimeError(f"{self._name()}: expected key_padding_mask of shape {[N, S]}, got "
                                   f"{list(key_padding_mask.shape)}")
            key_padding_mask = key_padding_mask.reshape(N, 1, 1, S)
        if key_padding_mask is None:
            if attn_mask is None:
                return None
            if attn_mask.dtype is D.bool_:
                return ~attn_mask  # sdpa's bool convention: True = attend
            return _float_mask(attn_mask, dtype, "attn_mask")
        kpm = _float_mask(key_padding_mask, dtype, "key_padding_mask")
        if attn_mask is None:
            return kpm if key_padding_mask.dtype is not D.bool_ else ~key_padding_mask
        return _float_mask(attn_mask, dtype, "attn_mask") + kpm

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{self._name()}: query, key and value must all be 3-D (batched) or 2-D (unbatched), "
                             f"got {list(query.shape)}, {list(key.shape)} and {list(value.shape)}")
        if is_causal and attn_mask is None:
            raise RuntimeError(f"{self._name()}: Need attn_mask if specifying the is_causal hint")
        batched = query.ndim == 3
        self_attn = query is key and key is value
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        bf = self.batch_first and batched
        if bf:
            N, L, S = query.shape[0], query.shape[1], key.shape[1]
        else:
            L, N, S = query.shape[0], query.shape[1], key.shape[0]
        E, H, hd = self.embed_dim, self.num_heads, self.head_dim
        if query.shape[-1] != E or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ValueError(f"{self._name()}: expected query, key and value with last dimensions "
                             f"{E}, {self.kdim} and {self.vdim}, got {list(query.shape)}, {list(key.shape)} and "
                             f"{list(value.shape)}")
        if tuple(key.shape[:2]) != tuple(value.shape[:2]) or (key.shape[1] if not bf else key.shape[0]) != N:
            raise ValueError(f"{self._name()}: key {list(key.shape)} and value {list(value.shape)} must match "
                             f"each other and the query {list(query.shape)} in batch and sequence dimensions")
        b = self.in_proj_bias
        mask = self._merged_mask(attn_mask, key_padding_mask, N, L, S, query.dtype)
        p = self.dropout if self.training else 0.0
        if (self_attn and self._qkv_same_embed_dim and not need_weights and not _TRACERS
                and (mask is None or not mask.requires_grad)):
            # the packed in-projection straight into the fused op and out of it with merged heads
            # (graph capture keeps the generic path: ONNX export maps ScaledDotProductAttention)
            out = _packed_self_attention(F.linear(query, self.in_proj_weight, b), mask, H, bf, p)
            out = self.out_proj(out)
            return (out.squeeze(1) if not batched else out), None
        bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
        if self._qkv_same_embed_dim:
            if self_attn:
                q, k, v = F.linear(query, self.in_proj_weight, b).chunk(3, dim=-1)
            else:
                wq, wk, wv = self.in_proj_weight.chunk(3)
                q, k, v = F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)
        else:
            q = F.linear(query, self.q_proj_weight, bq)
            k = F.linear(key, self.k_proj_weight, bk)
            v = F.linear(value, self.v_proj_weight, bv)

        def heads(x, T):  # -> [N, H, T, hd], a view whose [T, hd] matrices BLAS reads directly
            if bf:
                return x.reshape(N, T, H, hd).permute(0, 2, 1, 3)
            return x.reshape(T, N, H, hd).permute(1, 2, 0, 3)

        res = _attention(heads(q, L), heads(k, S), heads(v, S), mask, p, False, None, need_weights,
                         safe_softmax=not need_weights)
        out, w = res if need_weights else (res, None)
        out = out.permute(0, 2, 1, 3).reshape(N, L, E) if bf else out.permute(2, 0, 1, 3).reshape(L, N, E)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(1)
        if w is not None:
            if average_attn_weights:
                w = w.mean(dim=1)
            if not batched:
                w = w.squeeze(0)
        return out, w

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"batch_first={self.batch_first}")


class PositionalEncoding(Module):
    """Adds the sinusoidal table of Vaswani et al. (see F.sinusoidal_positional_encoding), then
    dropout. Input [T, N, d_model] (or [N, T, d_model] with batch_first, or unbatched [T, d_model]).
    The table (buffer ``pe`` [max_len, d_model]) is not saved in state_dicts: it is a constant."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0, batch_first: bool = False,
                 dtype=None) -> None:
        super().__init__()
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), bool(batch_first)
        self.dropout = Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(self.max_len, self.d_model, dtype),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        name = f"PositionalEncoding(d_model={self.d_model}, max_len={self.max_len})"
        if x.ndim not in (2, 3) or x.shape[-1] != self.d_model:
            raise ValueError(f"{name}: expected input [T, N, {self.d_model}] ([N, T, {self.d_model}] with "
                             f"batch_first, or [T, {self.d_model}]), got {list(x.shape)}")
        T = x.shape[1] if (self.batch_first and x.ndim == 3) else x.shape[0]
        if T > self.max_len:
            raise ValueError(f"{name}: input {list(x.shape)} has sequence length {T} > max_len {self.max_len}")
        pe = self.pe[:T]
        if pe.dtype is not x.dtype:
            pe = pe.to(x.dtype)
        if x.ndim == 3 and not self.batch_first:
            pe = pe.unsqueeze(1)
        return self.dropout(x + pe)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


def _activation(a):
    if isinstance(a, str):
        if a == "relu":
            return F.relu
        if a == "gelu":
            return F.gelu
        raise RuntimeError(f"TransformerEncoderLayer: activation should be relu/gelu, not {a}")
    if not callable(a):
        raise TypeError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, got {a!r}")
    return a


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with residual + LayerNorm (post-norm, or
    pre-norm with norm_first=True); PyTorch's submodule names, so its state_dicts load as is."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        self.batch_first = bool(batch_first)

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` deep copies of ``encoder_layer``, then an optional ``norm``.

    PyTorch: ``torch.nn.TransformerEncoder``.
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(int(num_layers))])
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        out = src
        for mod in self.layers:
            out = mod(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        if self.norm is not None:
            out = self.norm(out)
        return out

