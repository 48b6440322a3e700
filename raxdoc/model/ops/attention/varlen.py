"""Attention over packed variable-length segments (no padding between sequences or images).

Scope: one function, `varlen_attention`, over packed (N, H, D) tensors split by `cu_seqlens`, and
its two fast paths. `backend.prefill_attention_path` picks one: on CUDA in half precision it is one
varlen flash-attention call, flash-attn's `flash_attn_varlen_func` when installed, else the flash
kernel PyTorch bundles (`aten._flash_attention_forward`, sm80+), so a prefill of many pages or
images is one launch per layer rather than one SDPA per segment; elsewhere, under
`RAXDOC_OPS=torch` or with `RAXDOC_PREFILL_ATTENTION=sdpa`, it is the reference,
`naive.naive_varlen_attention` (one SDPA per segment). flash-attn is imported only on its path.
Not here: KV caches, masks other than causal / full.
"""

from __future__ import annotations

import torch

from raxdoc.model.ops.attention.naive import naive_varlen_attention
from raxdoc.model.ops.backend import prefill_attention_path


def varlen_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor,
                     causal: bool, scale: float) -> torch.Tensor:
    """q (N, Hq, D), k/v (N, Hkv, D), segments [cu[i], cu[i+1]) attend only within themselves."""
    path = prefill_attention_path(q)
    if path == "sdpa":
        return naive_varlen_attention(q, k, v, cu_seqlens, causal, scale)
    cu = cu_seqlens.to(torch.int32)
    max_len = int((cu[1:] - cu[:-1]).max())  # one host sync, instead of one SDPA per segment
    if path == "flash_attn":
        from flash_attn import flash_attn_varlen_func  # type: ignore

        return flash_attn_varlen_func(q, k, v, cu, cu, max_len, max_len, softmax_scale=scale, causal=causal)
    return torch.ops.aten._flash_attention_forward(q, k, v, cu, cu, max_len, max_len, 0.0, causal, False,
                                                   scale=scale)[0]
