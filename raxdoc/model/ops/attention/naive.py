"""Attention in plain torch: the references the fast attention paths are tested against.

- `sdpa`: batch-first SDPA with grouped K/V heads (GQA), causal, full or with a mask;
- `naive_varlen_attention`: packed variable-length segments, one SDPA per segment;
- `GatherAttention`: decode over a slot pool, one new token per row: append with `index_put_`,
  gather every row's K/V up to a static `span`, one masked SDPA for the whole batch.

They run anywhere (CPU included) and are what `RAXDOC_OPS=torch` uses. Not here: choosing a path
(`raxdoc.model.ops.backend`), the fast paths (`varlen.py`, `decode.py`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, scale: float,
         mask: torch.Tensor | None = None) -> torch.Tensor:
    """q (B, Tq, Hq, D), k/v (B, Tk, Hkv, D) -> (B, Tq, Hq, D); K/V heads are shared by query groups."""
    rep = q.shape[2] // k.shape[2]
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
    if rep > 1:
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None, scale=scale)
    return out.transpose(1, 2)


def naive_varlen_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor,
                           causal: bool, scale: float) -> torch.Tensor:
    """q (N, Hq, D), k/v (N, Hkv, D): segments [cu[i], cu[i+1]) attend only within themselves."""
    bounds = cu_seqlens.tolist()
    outs = [sdpa(q[None, a:b], k[None, a:b], v[None, a:b], causal, scale)[0] for a, b in zip(bounds, bounds[1:])]
    return torch.cat(outs, dim=0)


class GatherAttention:
    """Append + gather-to-span + masked SDPA; `span` must cover max(past) + 1.

    No Python loop over rows and no host sync, so it can be graph-captured (one graph per span
    bucket). It copies every row's K/V up to the span before attending: at 256 rows x 2k-4k keys
    that copy, not the attention, is the cost (the fast kernels in `decode.py` avoid it).
    """

    name = "gather"
    uses_span = True  # graphs are keyed by span too

    def __call__(self, k_cache: torch.Tensor, v_cache: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                 v: torch.Tensor, slots: torch.Tensor, past: torch.Tensor, span: int, scale: float) -> torch.Tensor:
        """caches (S, L, Hkv, D); q (B, 1, H, D), k/v (B, 1, Hkv, D); slots, past (B,) long -> (B, 1, H, D)."""
        k_cache.index_put_((slots, past), k[:, 0])
        v_cache.index_put_((slots, past), v[:, 0])
        B, _, H, D = q.shape
        hkv = k_cache.shape[2]
        keys = k_cache[slots, :span].transpose(1, 2)  # (B, Hkv, span, D)
        values = v_cache[slots, :span].transpose(1, 2)
        mask = torch.arange(span, device=q.device)[None, :] <= past[:, None]  # (B, span)
        # One query token: the H // Hkv query heads sharing a K/V head become rows of one query
        # block over that head (head h -> kv head h // rep), so no backend materialises repeated
        # K/V (at 64 rows x 4k keys a repeat would cost gigabytes of graph-pool memory).
        grouped = q[:, 0].reshape(B, hkv, H // hkv, D)  # (B, Hkv, rep, D)
        out = F.scaled_dot_product_attention(grouped, keys, values, attn_mask=mask[:, None, None, :], scale=scale)
        return out.reshape(B, 1, H, D)
