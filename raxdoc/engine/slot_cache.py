"""Per-step views of the `CachePool` in the shape the model's layers expect.

The model's layers take a state object per layer (see `raxdoc.model.cache`):
Gated DeltaNet layers read and assign `conv` and `recurrent`, full-attention
layers call `attend(q, k, v, scale, cu_seqlens)`. `SlotCache` builds those for
one step's batch of slots, from device index tensors only (no host lists, no
host syncs, so a decode step can be graph-captured):

- prefill (`SlotCache.prefill`): fresh slots, so Gated DeltaNet starts from
  zero state (None: the ops skip the gather) and hands back one final state per
  packed sequence; K/V of all packed tokens go into their slots with one
  `index_put_` (slot and position of every token), attention is varlen.
- decode (`SlotCache.decode`): the recurrent state and the conv window are updated
  in their pools by slot index (`ops.fused_recurrent_gated_delta_rule_update`,
  `ops.causal_conv1d_update_pooled`); attention is a `decode_attention` kernel
  over each row's prefix.

`commit()` writes a prefill's final states into the slots with `index_copy_`. Plain torch; no
scheduling, no positions (the runner's job).
"""

from __future__ import annotations

import torch

from raxdoc.engine.cache_pool import AttentionLayerCache, CachePool, LinearLayerCache
from raxdoc.model.ops.attention.varlen import varlen_attention


class SlotLinearState:
    """A prefill (`fresh`) starts from zero state (None tells the ops so) and hands back final
    states to write into the slots; a decode step updates the recurrent state and the conv window
    in their pools in place (`pool`, `conv_pool`, `slots`: the ops read and write rows by index)."""

    def __init__(self, layer: LinearLayerCache, idx: torch.Tensor, fresh: bool) -> None:
        self._layer, self._idx = layer, idx
        self.conv: torch.Tensor | None = None  # (B, conv_dim, kernel) after a prefill
        self.recurrent: torch.Tensor | None = None  # (B, Hv, Dk, Dv) after a prefill
        self.pool: torch.Tensor | None = None if fresh else layer.recurrent  # (S, Hv, Dk, Dv)
        self.conv_pool: torch.Tensor | None = None if fresh else layer.conv  # (S, conv_dim, kernel)
        self.slots: torch.Tensor | None = None if fresh else idx

    def commit(self) -> None:
        # A prefill hands back final states to write; a decode step already updated the pools.
        if self.conv is not None:
            self._layer.conv.index_copy_(0, self._idx, self.conv.to(self._layer.conv.dtype))
        if self.recurrent is not None:
            self._layer.recurrent.index_copy_(0, self._idx, self.recurrent.to(self._layer.recurrent.dtype))


class PrefillAttentionState:
    """Packed (1, N, H, D) + cu_seqlens of fresh sequences; token j goes to (slot[j], pos[j])."""

    def __init__(self, layer: AttentionLayerCache, token_slots: torch.Tensor, token_pos: torch.Tensor) -> None:
        self._layer, self._slots, self._pos = layer, token_slots, token_pos

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
               cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        if cu_seqlens is None:
            raise ValueError("prefill attention state needs cu_seqlens (packed sequences)")
        self._layer.k.index_put_((self._slots, self._pos), k[0])
        self._layer.v.index_put_((self._slots, self._pos), v[0])
        return varlen_attention(q[0], k[0], v[0], cu_seqlens, causal=True, scale=scale)[None]


class DecodeAttentionState:
    """(B, 1, H, D) queries; row i appends at `past[i]` in slot `slots[i]` and sees its prefix."""

    def __init__(self, layer: AttentionLayerCache, kernel, slots: torch.Tensor, past: torch.Tensor,
                 span: int) -> None:
        self._layer, self._kernel = layer, kernel
        self._slots, self._past, self._span = slots, past, span

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
               cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        if cu_seqlens is not None:
            raise ValueError("decode attention state takes one token per row, not packed sequences")
        return self._kernel(self._layer.k, self._layer.v, q, k, v, self._slots, self._past, self._span, scale)


class SlotCache:
    """`layers[i]` for every decoder layer, over one step's slots."""

    def __init__(self, pool: CachePool, layers: list) -> None:
        self.pool = pool
        self.layers = layers

    @classmethod
    def prefill(cls, pool: CachePool, slots: torch.Tensor, token_slots: torch.Tensor,
                token_pos: torch.Tensor) -> "SlotCache":
        """`slots` (S,) one per packed sequence; `token_slots`, `token_pos` (N,) one per packed token."""
        return cls(pool, [SlotLinearState(view, slots, fresh=True) if isinstance(view, LinearLayerCache)
                          else PrefillAttentionState(view, token_slots, token_pos)
                          for view in map(pool.layer_state, range(len(pool.dims.layer_types)))])

    @classmethod
    def decode(cls, pool: CachePool, slots: torch.Tensor, past: torch.Tensor, span: int, kernel) -> "SlotCache":
        """`slots`, `past` (B,) long on the pool's device; `span` >= max(past) + 1 for gather kernels."""
        return cls(pool, [SlotLinearState(view, slots, fresh=False) if isinstance(view, LinearLayerCache)
                          else DecodeAttentionState(view, kernel, slots, past, span)
                          for view in map(pool.layer_state, range(len(pool.dims.layer_types)))])

    def commit(self) -> None:
        for state in self.layers:
            if isinstance(state, SlotLinearState):
                state.commit()
