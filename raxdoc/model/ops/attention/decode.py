"""Full-attention decode over the slot pool: one new token per row, each row over its own prefix.

Four implementations of the same step, chosen once per runner:

- `FlashKVCacheAttention`: flash-attn's `flash_attn_with_kvcache` appends the new K/V at each
  row's length into the slot buffers (`cache_batch_idx` = slot ids, `cache_seqlens` = lengths)
  and attends over exactly that prefix. Static shapes, no host sync: CUDA-graph safe. Needs
  flash-attn, CUDA and fp16/bf16 buffers.
- `GatherAttention`: plain torch anywhere. The new K/V go in with one `index_put_`, every row's
  K/V are gathered up to a static `span` (the batch's longest prefix rounded up by the runner)
  and one masked SDPA runs for the whole batch. No Python loop over rows, no host sync, so it
  can be graph-captured too (one graph per span bucket). It copies every row's K/V up to the
  span before attending: at 256 rows x 2k-4k keys that copy, not the attention, is the cost.
- `TritonSlotAttention`: our Triton kernel (`slot_attention_kernel.py`) reads each row's keys
  straight from its slot, no gather copy; lengths from a device tensor, so one graph per batch
  size. The default on CUDA without flash-attn.
- `AtenFlashAttention` (opt-in, "aten_flash"): PyTorch's own bundled flash-attention, varlen with
  `seqused_k`, reading each row's prefix in place from the flattened pool (row b's keys start at
  slot b's first position). No copy, no extra package, no kernel of ours, but a private ATen op
  (`_flash_attention_forward`): the fallback (and second opinion) should the Triton kernel fail
  on a GPU, opt-in until a GPU run has compared them.

Row i appends at position `past[i]` and sees keys `0 .. past[i]`. Padding rows point at the
pool's spare slot with `past = 0`: they write only there. Not here: prefill attention (varlen,
`slot_cache.py`), choosing spans or batch sizes (`cuda_graphs.py`).
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F

from raxdoc.engine.config import DECODE_ATTENTION
from raxdoc.model.ops.attention.varlen import bundled_flash_available

try:  # optional CUDA kernel; absent on CPU machines
    from flash_attn import flash_attn_with_kvcache  # type: ignore
except ImportError:  # flash-attn is an optional dependency
    flash_attn_with_kvcache = None


def flash_kvcache_usable(buffer: torch.Tensor) -> bool:
    """Whether the flash-attn kv-cache kernel can serve a pool whose K buffer is `buffer`."""
    return (flash_attn_with_kvcache is not None and buffer.is_cuda
            and buffer.dtype in (torch.float16, torch.bfloat16))


class GatherAttention:
    """Append + gather-to-span + masked SDPA; `span` must cover max(past) + 1."""

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


class FlashKVCacheAttention:
    """flash-attn kv-cache kernel: append and attend in one call, reading only each row's prefix."""

    name = "flash_kvcache"
    uses_span = False  # reads each row's own length: one graph per batch size

    def __call__(self, k_cache: torch.Tensor, v_cache: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                 v: torch.Tensor, slots: torch.Tensor, past: torch.Tensor, span: int, scale: float) -> torch.Tensor:
        # The kernel takes int32 lengths / indices; `span` is not needed (it reads cache_seqlens).
        return flash_attn_with_kvcache(q, k_cache, v_cache, k=k, v=v, cache_seqlens=past.to(torch.int32),
                                       cache_batch_idx=slots.to(torch.int32), softmax_scale=scale, causal=True)


class TritonSlotAttention:
    """Append with `index_put_`, then split-K attention over each row's own slot and length."""

    name = "triton_slots"
    uses_span = False  # reads each row's own length: one graph per batch size

    def __init__(self) -> None:
        from raxdoc.model.ops.attention.slot_decode_kernel import slot_decode_attention  # imports Triton

        self._attend = slot_decode_attention

    def __call__(self, k_cache: torch.Tensor, v_cache: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                 v: torch.Tensor, slots: torch.Tensor, past: torch.Tensor, span: int, scale: float) -> torch.Tensor:
        k_cache.index_put_((slots, past), k[:, 0])
        v_cache.index_put_((slots, past), v[:, 0])
        return self._attend(k_cache, v_cache, q[:, 0], slots, past + 1, scale)[:, None]


def aten_flash_usable(buffer: torch.Tensor) -> bool:
    """Whether PyTorch's bundled flash-attention can serve a pool whose K buffer is `buffer`."""
    return bundled_flash_available(buffer)


class AtenFlashAttention:
    """Append, then varlen flash-attention over each row's prefix, read in place from the pool."""

    name = "aten_flash"
    uses_span = False  # reads each row's own length (seqused_k): one graph per batch size

    def __call__(self, k_cache: torch.Tensor, v_cache: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                 v: torch.Tensor, slots: torch.Tensor, past: torch.Tensor, span: int, scale: float) -> torch.Tensor:
        """Same contract as `GatherAttention`; `span` is unused."""
        k_cache.index_put_((slots, past), k[:, 0])
        v_cache.index_put_((slots, past), v[:, 0])
        S, L, hkv, D = k_cache.shape
        B, _, H, _ = q.shape
        # Row b's keys begin at slots[b] * L of the flattened pool and seqused_k[b] = past[b] + 1 of
        # them are real; the kernel reads only those (the closing entry of cu_k is never read).
        starts = slots.to(torch.int32) * L
        cu_k = torch.cat([starts, starts.new_full((1,), S * L)])
        cu_q = torch.arange(B + 1, dtype=torch.int32, device=q.device)  # one query token per row
        out = torch.ops.aten._flash_attention_forward(
            q.reshape(B, H, D), k_cache.view(S * L, hkv, D), v_cache.view(S * L, hkv, D), cu_q, cu_k,
            1, L, 0.0, False, False, scale=scale, seqused_k=(past + 1).to(torch.int32))[0]
        return out.view(B, 1, H, D)


def triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


CHOICES = DECODE_ATTENTION


def pick_decode_attention(k_buffer: torch.Tensor, prefer: str = "auto"):
    """`prefer`: "auto" (flash-attn when usable, else the Triton kernel on CUDA, else gather), or one
    of "gather", "flash_kvcache", "triton_slots", "aten_flash" (an error when it cannot run)."""
    if prefer not in CHOICES:
        raise ValueError(f"decode attention must be one of {CHOICES}, got {prefer!r}")
    if prefer == "gather":
        return GatherAttention()
    if prefer == "aten_flash":
        if not aten_flash_usable(k_buffer):
            raise RuntimeError("aten_flash decode attention needs CUDA (sm80+), a fp16/bf16 pool and "
                               "torch.ops.aten._flash_attention_forward")
        return AtenFlashAttention()
    if prefer == "triton_slots":
        if not triton_installed():
            raise RuntimeError("triton_slots decode attention needs Triton")
        return TritonSlotAttention()
    if flash_kvcache_usable(k_buffer):
        return FlashKVCacheAttention()
    if prefer == "flash_kvcache":
        raise RuntimeError("flash_kvcache decode attention needs flash-attn, CUDA and a fp16/bf16 pool")
    if k_buffer.is_cuda and triton_installed():
        return TritonSlotAttention()
    return GatherAttention()
