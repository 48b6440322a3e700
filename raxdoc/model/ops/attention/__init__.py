"""Attention kernels of the full-attention layers and the ViT, each beside its plain-torch reference.

- `naive`: the references: `sdpa`, `naive_varlen_attention` (one SDPA per packed segment) and
  `GatherAttention` (decode over a slot pool by gather + masked SDPA);
- `varlen`: `varlen_attention`, packed prefill attention (flash-attn's or PyTorch's bundled varlen
  flash kernel on CUDA, else the reference);
- `decode`: the fast decode kernels (flash-attn's kv-cache kernel, our Triton split-K kernel,
  PyTorch's bundled flash) and `pick_decode_attention`;
- `slot_decode_kernel`: the Triton kernel itself (imported only when `TritonSlotAttention` is built).

Which path runs is decided in `raxdoc.model.ops.backend` (from `raxdoc.settings` and the tensors'
device), never by callers. Importing this package imports no flash-attn or Triton.
"""

from raxdoc.model.ops.attention.decode import (
    AtenFlashAttention,
    FlashKVCacheAttention,
    TritonSlotAttention,
    pick_decode_attention,
)
from raxdoc.model.ops.attention.naive import GatherAttention, naive_varlen_attention, sdpa
from raxdoc.model.ops.attention.varlen import varlen_attention

__all__ = [
    "AtenFlashAttention",
    "FlashKVCacheAttention",
    "GatherAttention",
    "TritonSlotAttention",
    "naive_varlen_attention",
    "pick_decode_attention",
    "sdpa",
    "varlen_attention",
]
