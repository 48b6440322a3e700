"""Full-attention decode over a slot pool: one new token per row, each row over its own prefix.

Four implementations of the same step (same call contract), the reference and three fast ones:

- `GatherAttention` (`naive.py`, the reference): plain torch anywhere; gathers every row's K/V up
  to a static span and runs one masked SDPA.
- `FlashKVCacheAttention`: flash-attn's `flash_attn_with_kvcache` appends the new K/V at each
  row's length into the slot buffers (`cache_batch_idx` = slot ids, `cache_seqlens` = lengths)
  and attends over exactly that prefix. Static shapes, no host sync: CUDA-graph safe. Needs
  flash-attn, CUDA and fp16/bf16 buffers.
- `TritonSlotAttention`: our Triton kernel (`slot_decode_kernel.py`) reads each row's keys
  straight from its slot, no gather copy; lengths from a device tensor, so one graph per batch
  size. The default on CUDA without flash-attn.
- `AtenFlashAttention` (opt-in, "aten_flash"): PyTorch's own bundled flash-attention, varlen with
  `seqused_k`, reading each row's prefix in place from the flattened pool (row b's keys start at
  slot b's first position). No copy, no extra package, no kernel of ours, but a private ATen op
  (`_flash_attention_forward`): the fallback (and second opinion) should the Triton kernel fail
  on a GPU, opt-in until a GPU run has compared them.

`pick_decode_attention` builds the one `backend.decode_attention_kernel` chooses (so
`RAXDOC_OPS=torch` always gets the reference); flash-attn and Triton are imported only by the
kernel that needs them, when it is built. Row i appends at position `past[i]` and sees keys
`0 .. past[i]`. Padding rows point at the pool's spare slot with `past = 0`: they write only
there. Not here: prefill attention (`varlen.py`), choosing spans or batch sizes (the engine).
"""

from __future__ import annotations

import torch

from raxdoc.model.ops.attention.naive import GatherAttention
from raxdoc.model.ops.backend import decode_attention_kernel


class FlashKVCacheAttention:
    """flash-attn kv-cache kernel: append and attend in one call, reading only each row's prefix."""

    name = "flash_kvcache"
    uses_span = False  # reads each row's own length: one graph per batch size

    def __init__(self) -> None:
        from flash_attn import flash_attn_with_kvcache  # type: ignore

        self._attend = flash_attn_with_kvcache

    def __call__(self, k_cache: torch.Tensor, v_cache: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                 v: torch.Tensor, slots: torch.Tensor, past: torch.Tensor, span: int, scale: float) -> torch.Tensor:
        # The kernel takes int32 lengths / indices; `span` is not needed (it reads cache_seqlens).
        return self._attend(q, k_cache, v_cache, k=k, v=v, cache_seqlens=past.to(torch.int32),
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


KERNELS = {cls.name: cls for cls in (GatherAttention, FlashKVCacheAttention, TritonSlotAttention, AtenFlashAttention)}


def pick_decode_attention(k_buffer: torch.Tensor, prefer: str | None = None):
    """The kernel for a pool whose K buffer is `k_buffer`. `prefer`: None = `RAXDOC_DECODE_ATTENTION`,
    "auto", or a kernel by name (an error when it cannot run); see `backend.decode_attention_kernel`."""
    return KERNELS[decode_attention_kernel(k_buffer, prefer)]()
