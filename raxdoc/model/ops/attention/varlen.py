"""Attention over packed variable-length segments (no padding between sequences or images).

Scope: one function, ``varlen_attention``, over packed (N, H, D) tensors split by ``cu_seqlens``.
On CUDA in half precision it is one varlen flash-attention call: flash-attn's
``flash_attn_varlen_func`` when installed, else the flash kernel PyTorch bundles
(``aten._flash_attention_forward``, sm80+), so a prefill of many pages or images is one launch per
layer rather than one SDPA per segment. Elsewhere, with ``RAXDOC_OPS=torch`` (parity runs) or
``RAXDOC_PREFILL_ATTENTION=sdpa`` (a fallback switch), it runs SDPA per segment.
Not here: KV caches or masks other than causal / full.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

try:  # optional CUDA fast path; absent on CPU machines
    from flash_attn import flash_attn_varlen_func  # type: ignore
except ImportError:  # flash-attn is an optional dependency
    flash_attn_varlen_func = None


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, scale: float,
         mask: torch.Tensor | None = None) -> torch.Tensor:
    """q (B, Tq, Hq, D), k/v (B, Tk, Hkv, D) -> (B, Tq, Hq, D); K/V heads are shared by query groups."""
    rep = q.shape[2] // k.shape[2]
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
    if rep > 1:
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None, scale=scale)
    return out.transpose(1, 2)


def varlen_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor,
                     causal: bool, scale: float) -> torch.Tensor:
    """q (N, Hq, D), k/v (N, Hkv, D), segments [cu[i], cu[i+1]) attend only within themselves."""
    if flash_attn_varlen_func is not None and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
        cu = cu_seqlens.to(torch.int32)
        max_len = int((cu[1:] - cu[:-1]).max())
        return flash_attn_varlen_func(q, k, v, cu, cu, max_len, max_len, softmax_scale=scale, causal=causal)
    if _aten_flash_usable(q):
        cu = cu_seqlens.to(torch.int32)
        max_len = int((cu[1:] - cu[:-1]).max())  # one host sync, instead of one SDPA per segment
        return torch.ops.aten._flash_attention_forward(q, k, v, cu, cu, max_len, max_len, 0.0, causal, False,
                                                       scale=scale)[0]
    bounds = cu_seqlens.tolist()
    outs = [sdpa(q[None, a:b], k[None, a:b], v[None, a:b], causal, scale)[0] for a, b in zip(bounds, bounds[1:])]
    return torch.cat(outs, dim=0)


PREFILL_ATTENTION_ENV = "RAXDOC_PREFILL_ATTENTION"  # auto | sdpa (per segment, never the bundled kernel)


def bundled_flash_available(t: torch.Tensor) -> bool:
    """Whether PyTorch's bundled flash kernel can take `t`: CUDA, fp16/bf16, sm80+, op present."""
    return (t.is_cuda and t.dtype in (torch.float16, torch.bfloat16)
            and hasattr(torch.ops.aten, "_flash_attention_forward")
            and torch.cuda.get_device_capability(t.device) >= (8, 0))


def _aten_flash_usable(q: torch.Tensor) -> bool:
    """The bundled kernel for prefill: available, not a `RAXDOC_OPS=torch` parity run and not
    `RAXDOC_PREFILL_ATTENTION=sdpa`."""
    if os.environ.get("RAXDOC_OPS", "auto").strip().lower() == "torch":
        return False
    if os.environ.get(PREFILL_ATTENTION_ENV, "auto").strip().lower() == "sdpa":  # the fallback switch
        return False
    return bundled_flash_available(q)
