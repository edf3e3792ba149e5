"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

Composites, as PyTorch's math path: scores ``q @ k^T`` batched over (batch, heads) in one
matmul, the masks applied in one elementwise op, softmax, dropout, ``@ v``: no loop over
heads. Mask conventions, easy to get backwards: a boolean ``attn_mask`` of SDPA is True
where a query may attend; the boolean ``attn_mask`` and ``key_padding_mask`` of
MultiheadAttention are True where it may not. Float masks are added to the scores.
"""
from __future__ import annotations

import math
import warnings

from ..composite import amax, cat, exp, matmul, where
from ..composite import sum as _sum
from ..creation import arange, zeros
from ..fused import fused
from ..ir import dtypes as dt
from ..ir.errors import DTypeError, ShapeError
from ..tensor import Tensor, _t
from . import functional as F  # (functional re-exports this module: its names at call time)
from ._errors import AttentionAssertion

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

_NEG_INF = float("-inf")


# ---------------------------------------------------------------- the attention core

def _as_bias(mask: Tensor, attend: bool, dtype: dt.DType) -> Tensor:
    """A boolean mask as the float added to the scores: 0 where it is ``attend``, -inf
    elsewhere. Added, not selected with where(): the sum passes its gradient unchanged."""
    zero = zeros((), dtype=dtype, device=mask.device)
    return where(mask, zero, _NEG_INF) if attend else where(mask, _NEG_INF, zero)


def _causal_bias(q: Tensor, k: Tensor) -> Tensor:
    """(L, S): 0 on and below the diagonal, -inf above (the upper-left causal mask)."""
    rows = arange(q.shape[-2], device=q.device).unsqueeze(-1)
    return _as_bias(arange(k.shape[-2], device=q.device) <= rows, True, q.dtype)


def _softmax_rows(s: Tensor, zero_masked_rows: bool) -> Tensor:
    """softmax over the last dim. With ``zero_masked_rows``, rows that are all -inf (fully
    masked) give zeros, as PyTorch's SDPA (its _safe_softmax); else NaN, as its softmax.
    Times the reciprocal of the sum, as PyTorch's kernel: one big op fewer in backward."""
    m = amax(s.detach(), -1, keepdim=True)
    if zero_masked_rows:
        m = where(m == _NEG_INF, 0.0, m)  # such a row shifts by 0: exp gives zeros
    e = exp(s - m)
    z = _sum(e, -1, keepdim=True)
    return e * (1.0 / (where(z == 0.0, 1.0, z) if zero_masked_rows else z))


def _attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None, dropout_p: float,
            scale: float, zero_masked_rows: bool) -> tuple[Tensor, Tensor]:
    """(softmax(q k^T scale + bias) @ v, the weights), over any leading (batch, head) dims."""
    s = matmul(q * scale, k.transpose(-2, -1))  # q is the smaller of q and the scores
    if bias is not None:
        s = s + bias
    w = _softmax_rows(s, zero_masked_rows)
    if dropout_p > 0.0:
        w = F.dropout(w, dropout_p)
    return matmul(w, v), w


# ---------------------------------------------------------------- scaled_dot_product_attention

def _check_sdpa(q: Tensor, k: Tensor, v: Tensor, attn_mask, is_causal: bool,
                enable_gqa: bool) -> None:
    who = "scaled_dot_product_attention()"
    shapes = f"(query {list(q.shape)}, key {list(k.shape)}, value {list(v.shape)})"
    if q.dtype is not k.dtype or q.dtype is not v.dtype:
        raise DTypeError(f"{who}: Expected query, key, and value to have the same dtype, but "
                         f"got query.dtype: {q.dtype.name} key.dtype: {k.dtype.name} and "
                         f"value.dtype: {v.dtype.name} instead.")
    if q.dtype.kind != dt.FLOAT:
        raise DTypeError(f"{who}: expected floating point query, key and value, got "
                         f"{q.dtype.name}")
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ShapeError(f"{who}: query, key and value must be at least 2-D {shapes}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{who}: query and key must have the same embedding size E and key "
                         f"and value the same sequence length S: expected query (..., L, E), "
                         f"key (..., S, E), value (..., S, Ev) {shapes}")
    if enable_gqa and (min(q.ndim, k.ndim) < 3 or q.shape[-3] % k.shape[-3] or
                       k.shape[-3] != v.shape[-3]):
        raise ShapeError(f"{who}: enable_gqa needs the query's heads (dim -3) to be a "
                         f"multiple of the key's and value's, which must be equal {shapes}")
    if attn_mask is not None:
        if is_causal:
            raise ShapeError(f"{who}: Explicit attn_mask should not be set when "
                             "is_causal=True")
        m = _t(attn_mask)
        if m.dtype is not dt.bool_ and m.dtype.kind != dt.FLOAT:
            raise DTypeError(f"{who}: Expected attn_mask dtype to be bool or float or to match "
                             f"query dtype, but got attn_mask.dtype: {m.dtype.name} and "
                             f"query.dtype: {q.dtype.name} instead.")
        tgt, src = q.shape[-2], k.shape[-2]
        if m.ndim and m.shape[-1] not in (1, src) or m.ndim > 1 and m.shape[-2] not in (1, tgt):
            raise ShapeError(f"{who}: attn_mask of shape {list(m.shape)} does not broadcast to "
                             f"the attention weights (..., L={tgt}, S={src}) {shapes}")


def _repeat_heads(x: Tensor, heads: int) -> Tensor:
    """(..., h, S, E) -> (..., heads, S, E), each head repeated heads // h times in place
    (repeat_interleave on dim -3, for grouped-query attention)."""
    h = x.shape[-3]
    if h == heads:
        return x
    lead = tuple(x.shape[:-3])
    x = x.unsqueeze(-3).expand(*lead, h, heads // h, *x.shape[-2:])
    return x.reshape(*lead, heads, *x.shape[-2:])


@fused(grad_name="ScaledDotProductEfficientAttention")
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value``, PyTorch's SDPA: query (N, ..., L, E),
    key (N, ..., S, E), value (N, ..., S, Ev); ``attn_mask`` broadcasts to (N, ..., L, S), a
    bool one True where attention is allowed, a float one added; ``is_causal`` is the
    upper-left lower-triangular mask; ``scale`` defaults to 1/sqrt(E). Dropout is applied
    whenever ``dropout_p`` > 0 (pass 0 in eval mode). Fully masked rows give zeros."""
    q, k, v = _t(query), _t(key), _t(value)
    _check_sdpa(q, k, v, attn_mask, is_causal, enable_gqa)
    if enable_gqa:
        k, v = _repeat_heads(k, q.shape[-3]), _repeat_heads(v, q.shape[-3])
    bias = _causal_bias(q, k) if is_causal else None
    if attn_mask is not None:
        mask = _t(attn_mask)
        bias = _as_bias(mask, True, q.dtype) if mask.dtype is dt.bool_ else \
            mask if mask.dtype is q.dtype else mask.type(q.dtype)  # added in q's type
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    out, _ = _attend(q, k, v, bias, dropout_p, scale, zero_masked_rows=True)
    return out


# ---------------------------------------------------------------- multi-head attention

def _mha_check_dims(who: str, query: Tensor, key: Tensor, value: Tensor, key_padding_mask,
                    attn_mask) -> bool:
    """PyTorch's _mha_shape_check: whether the input is batched (3-D) or not (2-D)."""
    q, kpm, am = query.ndim, key_padding_mask, attn_mask
    if q not in (2, 3):
        raise AttentionAssertion(f"{who}: query should be unbatched 2D or batched 3D tensor "
                                 f"but received {q}-D query tensor of shape "
                                 f"{list(query.shape)}")
    name = "batched (3-D)" if q == 3 else "unbatched (2-D)"
    if key.ndim != q or value.ndim != q:
        raise AttentionAssertion(f"{who}: For {name} `query`, expected `key` and `value` to be "
                                 f"{q}-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                 f"respectively")
    if kpm is not None and _t(kpm).ndim != q - 1:
        raise AttentionAssertion(f"{who}: For {name} `query`, expected `key_padding_mask` to "
                                 f"be `None` or {q - 1}-D but found {_t(kpm).ndim}-D tensor "
                                 "instead")
    if am is not None and _t(am).ndim not in (2, 3):
        raise AttentionAssertion(f"{who}: For {name} `query`, expected `attn_mask` to be "
                                 f"`None`, 2-D or 3-D but found {_t(am).ndim}-D tensor instead")
    return q == 3


def _canonical_mask(who: str, mask, name: str, dtype: dt.DType,
                    other=None, other_name: str = "") -> Tensor | None:
    """A bool mask (True: masked out) as a float one (-inf there, 0 elsewhere); a float mask
    as it is, in ``dtype``. PyTorch's _canonical_mask, with its warning for mixed types."""
    if mask is None:
        return None
    m = _t(mask)
    if m.dtype is not dt.bool_ and m.dtype.kind != dt.FLOAT:
        raise AttentionAssertion(f"{who}: only bool and floating types of {name} are "
                                 f"supported, got {m.dtype.name}")
    if other is not None and _t(other).dtype is not m.dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use same "
                      "type for both instead.", stacklevel=4)
    if m.dtype is dt.bool_:
        return _as_bias(m, False, dtype)
    return m if m.dtype is dtype else m.type(dtype)


def _heads(x: Tensor, n: int, num_heads: int, batch_first: bool) -> tuple[Tensor, ...]:
    """A projection (B, L, n E) or (L, B, n E) as n tensors (B, heads, L, head_dim): views."""
    a, b, width = x.shape
    x = x.reshape(a, b, n, num_heads, width // (n * num_heads))
    x = x.permute(2, 0, 3, 1, 4) if batch_first else x.permute(2, 1, 3, 0, 4)
    return x.unbind(0)


def _project(query: Tensor, key: Tensor, value: Tensor, w: dict, num_heads: int,
             batch_first: bool) -> tuple[Tensor, Tensor, Tensor]:
    """The in-projections, as (B, heads, L or S, head_dim): one matmul for self-attention
    (query, key and value one tensor), two when key is value, three otherwise."""
    weight, bias = w["in_proj_weight"], w["in_proj_bias"]
    if weight is not None and key is value:
        if query is key:
            return _heads(F.linear(query, weight, bias), 3, num_heads, batch_first)
        e = weight.shape[0] // 3
        q = F.linear(query, weight[:e], None if bias is None else bias[:e])
        kv = F.linear(key, weight[e:], None if bias is None else bias[e:])
        return (*_heads(q, 1, num_heads, batch_first), *_heads(kv, 2, num_heads, batch_first))
    if weight is not None:
        ws = weight.chunk(3)
    else:
        ws = (w["q_proj_weight"], w["k_proj_weight"], w["v_proj_weight"])
    bs = (None,) * 3 if bias is None else bias.chunk(3)
    return tuple(_heads(F.linear(x, wi, bi), 1, num_heads, batch_first)[0]
                 for x, wi, bi in zip((query, key, value), ws, bs))


def _check_projection_weights(who: str, w: dict, query: Tensor, key: Tensor,
                              value: Tensor) -> None:
    if w["in_proj_weight"] is not None:
        return
    e, specs = query.shape[-1], (("q", query), ("k", key), ("v", value))
    for name, x in specs:
        p = w[f"{name}_proj_weight"]
        if p is None:
            raise AttentionAssertion(f"{who}: use_separate_proj_weight is True but "
                                     f"{name}_proj_weight is None")
        if tuple(p.shape) != (e, x.shape[-1]):
            what = {"q": "query", "k": "key", "v": "value"}[name]
            raise AttentionAssertion(f"{who}: expecting {what} weights shape of "
                                     f"{(e, x.shape[-1])}, but got {tuple(p.shape)} ({what} "
                                     f"of shape {list(x.shape)})")


def _check_attn_mask(who: str, mask: Tensor, bsz: int, num_heads: int, tgt: int,
                     src: int) -> Tensor:
    """A 2-D (L, S) or 3-D (B * heads, L, S) attn_mask as (1 or B, 1 or heads, L, S)."""
    want = (tgt, src) if mask.ndim == 2 else (bsz * num_heads, tgt, src)
    if tuple(mask.shape) != want:
        raise ShapeError(f"{who}: The shape of the {mask.ndim}D attn_mask is "
                         f"{list(mask.shape)}, but should be {want}.")
    return mask if mask.ndim == 2 else mask.reshape(bsz, num_heads, tgt, src)


def _check_key_padding_mask(who: str, kpm: Tensor, bsz: int, src: int) -> None:
    for i, want in enumerate((bsz, src)):
        if kpm.shape[i] != want:
            raise AttentionAssertion(f"{who}: Expected key_padded_mask.shape[{i}] to be "
                                     f"{want}, but got {kpm.shape[i]} (key_padding_mask of "
                                     f"shape {list(kpm.shape)}, expected ({bsz}, {src}))")


def _extend_keys(k: Tensor, v: Tensor, masks: list, w: dict, add_zero_attn: bool,
                 num_heads: int) -> tuple[Tensor, Tensor, list]:
    """bias_k/bias_v, then a zero key and value, appended to the sequence (dim -2) of
    k and v (B, heads, S, head_dim); each mask gets a 0 (attend) column per added key."""
    bsz, _, _, head_dim = k.shape
    extra = []
    if w["bias_k"] is not None:
        extra.append((w["bias_k"].reshape(1, num_heads, 1, head_dim),
                      w["bias_v"].reshape(1, num_heads, 1, head_dim)))
    if add_zero_attn:
        z = zeros((1, num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        extra.append((z, z))
    for bk, bv in extra:
        shape = (bsz, num_heads, 1, head_dim)
        k, v = cat([k, bk.expand(*shape)], -2), cat([v, bv.expand(*shape)], -2)
        masks = [None if m is None else F.pad(m, (0, 1)) for m in masks]
    return k, v, masks


def _merge_masks(who: str, attn_mask, kpm, is_causal: bool, need_weights: bool,
                 dtype: dt.DType) -> tuple[Tensor | None, Tensor | None, bool]:
    """PyTorch's choice between the is_causal hint and the masks, and its canonical masks:
    (attn_mask, key_padding_mask, causal)."""
    kpm = _canonical_mask(who, kpm, "key_padding_mask", dtype, attn_mask, "attn_mask")
    if is_causal and attn_mask is None:
        raise ShapeError(f"{who}: Need attn_mask if specifying the is_causal hint. You may use "
                         "the Transformer module method `generate_square_subsequent_mask` to "
                         "create this mask.")
    if is_causal and kpm is None and not need_weights:
        return None, None, True  # the hint stands for the mask (SDPA's is_causal)
    return _canonical_mask(who, attn_mask, "attn_mask", dtype), kpm, False


def _mha(query, key, value, num_heads: int, w: dict, *, embed_dim: int, add_zero_attn: bool,
         dropout_p: float, training: bool, key_padding_mask, need_weights: bool, attn_mask,
         average_attn_weights: bool, is_causal: bool, batch_first: bool, who: str,
         static_k=None, static_v=None) -> tuple[Tensor, Tensor | None]:
    """multi_head_attention_forward for (L, B, E) inputs, or (B, L, E) with ``batch_first``;
    ``w`` holds the parameters under their PyTorch names."""
    query, key, value = _t(query), _t(key), _t(value)
    batched = _mha_check_dims(who, query, key, value, key_padding_mask, attn_mask)
    if not batched:  # one sequence: a batch of one, batch first
        query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        if key_padding_mask is not None:
            key_padding_mask = _t(key_padding_mask).unsqueeze(0)
        batch_first = True
    seq = 1 if batch_first else 0
    mask, kpm, causal = _merge_masks(who, attn_mask, key_padding_mask, is_causal, need_weights,
                                     query.dtype)
    e = query.shape[2]
    _check_mha_shapes(who, query, key, value, e, embed_dim, num_heads, w, seq)
    q, k, v = _project(query, key, value, w, num_heads, batch_first)
    if mask is not None:
        mask = _check_attn_mask(who, mask, query.shape[1 - seq], num_heads, query.shape[seq],
                                key.shape[seq])
    k, v = _static_keys(who, k, v, static_k, static_v, w)
    k, v, bias = _keys_and_bias(who, q, k, v, mask, kpm, causal, w, add_zero_attn)
    out, weights = _attend(q, k, v, bias, dropout_p if training else 0.0,
                           1.0 / math.sqrt(e // num_heads), zero_masked_rows=not need_weights)
    out = out.permute(0, 2, 1, 3) if batch_first else out.permute(2, 0, 1, 3)
    out = F.linear(out.reshape(*out.shape[:2], e), w["out_proj_weight"], w["out_proj_bias"])
    if not need_weights:
        return (out if batched else out.squeeze(0)), None
    if average_attn_weights:
        weights = weights.mean(1)
    return (out, weights) if batched else (out.squeeze(0), weights.squeeze(0))


def _static_keys(who: str, k: Tensor, v: Tensor, static_k, static_v,
                 w: dict) -> tuple[Tensor, Tensor]:
    """static_k / static_v (B * heads, S, head_dim), given in place of the projections."""
    bsz, heads, _, head_dim = k.shape
    if w["bias_k"] is not None and (static_k is not None or static_v is not None):
        raise AttentionAssertion(f"{who}: bias cannot be added to static key or value.")
    out = []
    for name, x, proj in (("static_k", static_k, k), ("static_v", static_v, v)):
        if x is None:
            out.append(proj)
            continue
        x = _t(x)
        if x.ndim != 3 or x.shape[0] != bsz * heads or (name == "static_k" and
                                                         x.shape[2] != head_dim):
            raise AttentionAssertion(f"{who}: expecting {name} of shape ({bsz * heads}, S, "
                                     f"{head_dim if name == 'static_k' else 'Ev'}), but got "
                                     f"{list(x.shape)}")
        out.append(x.reshape(bsz, heads, x.shape[1], x.shape[2]))
    return out[0], out[1]


def _keys_and_bias(who: str, q: Tensor, k: Tensor, v: Tensor, mask, kpm, causal: bool,
                   w: dict, add_zero_attn: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """k and v with bias_k/bias_v and the zero key appended, and the one bias that the
    masks (attn_mask (L, S) or (B, heads, L, S), key_padding_mask (B, S)) add up to."""
    bsz, heads, src_len, _ = k.shape
    if kpm is not None:
        _check_key_padding_mask(who, kpm, bsz, src_len)
    k, v, (mask, kpm) = _extend_keys(k, v, [mask, kpm], w, add_zero_attn, heads)
    if kpm is not None:  # (B, S) -> (B, 1, 1, S): the same keys for every head and query
        kpm = kpm.reshape(bsz, 1, 1, kpm.shape[-1])
        mask = kpm if mask is None else mask + kpm
    return k, v, _causal_bias(q, k) if causal else mask


def _check_mha_shapes(who: str, query: Tensor, key: Tensor, value: Tensor, e: int,
                      embed_dim: int, num_heads: int, w: dict, seq: int) -> None:
    if e != embed_dim:
        raise AttentionAssertion(f"{who}: was expecting embedding dimension of {embed_dim}, "
                                 f"but got {e} (query of shape {list(query.shape)})")
    if e % num_heads:
        raise AttentionAssertion(f"{who}: embed_dim {e} not divisible by num_heads "
                                 f"{num_heads}")
    if w["in_proj_weight"] is None:
        if key.shape[:2] != value.shape[:2]:
            raise AttentionAssertion(f"{who}: key's sequence and batch dims "
                                     f"{list(key.shape[:2])} do not match value's "
                                     f"{list(value.shape[:2])}")
    elif key.shape != value.shape:
        raise AttentionAssertion(f"{who}: key shape {list(key.shape)} does not match value "
                                 f"shape {list(value.shape)}")
    if key.shape[1 - seq] != query.shape[1 - seq]:
        raise ShapeError(f"{who}: query has batch size {query.shape[1 - seq]} but key and "
                         f"value have {key.shape[1 - seq]} (query {list(query.shape)}, key "
                         f"{list(key.shape)}, value {list(value.shape)})")
    _check_projection_weights(who, w, query, key, value)


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Tensor | None, training: bool = True,
        key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """PyTorch's functional multi-head attention, on (L, B, E) inputs (or (L, E))."""
    if (bias_k is None) != (bias_v is None):
        raise AttentionAssertion("multi_head_attention_forward(): bias_k and bias_v must both "
                                 "be set or both be None")
    w = {"in_proj_weight": None if use_separate_proj_weight else in_proj_weight,
         "in_proj_bias": in_proj_bias, "q_proj_weight": q_proj_weight,
         "k_proj_weight": k_proj_weight, "v_proj_weight": v_proj_weight, "bias_k": bias_k,
         "bias_v": bias_v, "out_proj_weight": out_proj_weight, "out_proj_bias": out_proj_bias}
    if not use_separate_proj_weight and in_proj_weight is None:
        raise AttentionAssertion("multi_head_attention_forward(): use_separate_proj_weight is "
                                 "False but in_proj_weight is None")
    return _mha(query, key, value, num_heads, w, embed_dim=embed_dim_to_check,
                add_zero_attn=add_zero_attn, dropout_p=dropout_p, training=training,
                key_padding_mask=key_padding_mask, need_weights=need_weights,
                attn_mask=attn_mask, average_attn_weights=average_attn_weights,
                is_causal=is_causal, batch_first=False, static_k=static_k, static_v=static_v,
                who="multi_head_attention_forward()")
