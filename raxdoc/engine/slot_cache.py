"""Per-step views of the `CachePool` in the shape the model's layers expect.

The model's layers take a state object per layer (see `raxdoc.model.cache`) and only call its
methods: Gated DeltaNet layers `causal_conv(...)` then `gated_delta_rule(...)`, full-attention
layers `attend(q, k, v, scale, cu_seqlens)`. `SlotCache` builds those for one step's batch of
slots, from device index tensors only (no host lists, no host syncs, so a decode step can be
graph-captured):

- prefill (`SlotCache.prefill`): fresh slots, so Gated DeltaNet starts from zero state (None: the
  ops skip the gather) over the packed sequences (varlen `ops.causal_conv1d` /
  `ops.chunk_gated_delta_rule`), and each sequence's final state goes into its slot with one
  `index_copy_`; K/V of all packed tokens go into their slots with one `index_put_` (slot and
  position of every token), attention is varlen.
- decode (`SlotCache.decode`): the conv window and the recurrent state are updated in their pools
  by slot index (`ops.causal_conv1d_update_pooled`, `ops.fused_recurrent_gated_delta_rule_update`:
  no gather, no scatter, no new buffer); attention is a `decode_attention` kernel over each row's
  prefix.

Every write lands in the pool during the forward: nothing to commit afterwards. Plain torch; no
scheduling, no positions (the runner's job).
"""

from __future__ import annotations

import torch

from raxdoc.engine.cache_pool import AttentionLayerCache, CachePool, LinearLayerCache
from raxdoc.model import ops
from raxdoc.model.ops.attention.varlen import varlen_attention


class PrefillLinearState:
    """Packed (1, N, ...) fresh sequences split by cu_seqlens; sequence i's final state goes to slot `slots[i]`."""

    def __init__(self, layer: LinearLayerCache, slots: torch.Tensor) -> None:
        self._layer, self._slots = layer, slots

    def causal_conv(self, x: torch.Tensor, weight: torch.Tensor, *, activation: str,
                    cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        y, final = ops.causal_conv1d(x, weight, activation=activation, output_final_state=True,
                                     cu_seqlens=cu_seqlens)  # final (S, conv_dim, kernel)
        self._layer.conv.index_copy_(0, self._slots, final.to(self._layer.conv.dtype))
        return y

    def gated_delta_rule(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, g: torch.Tensor,
                         beta: torch.Tensor, *, scale: float, use_qk_l2norm_in_kernel: bool,
                         cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        o, final = ops.chunk_gated_delta_rule(q, k, v, g, beta, scale=scale, output_final_state=True,
                                              use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel,
                                              cu_seqlens=cu_seqlens)  # final (S, Hv, Dk, Dv)
        self._layer.recurrent.index_copy_(0, self._slots, final.to(self._layer.recurrent.dtype))
        return o


class DecodeLinearState:
    """(B, 1, ...) one token per row; row i reads and updates the conv window and recurrent state
    of slot `slots[i]` in place."""

    def __init__(self, layer: LinearLayerCache, slots: torch.Tensor) -> None:
        self._layer, self._slots = layer, slots

    def causal_conv(self, x: torch.Tensor, weight: torch.Tensor, *, activation: str,
                    cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        if cu_seqlens is not None:
            raise ValueError("decode linear state takes one token per row, not packed sequences")
        return ops.causal_conv1d_update_pooled(x, self._layer.conv, self._slots, weight, activation=activation)

    def gated_delta_rule(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, g: torch.Tensor,
                         beta: torch.Tensor, *, scale: float, use_qk_l2norm_in_kernel: bool,
                         cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        return ops.fused_recurrent_gated_delta_rule_update(q, k, v, g, beta, self._layer.recurrent, self._slots,
                                                           scale=scale,
                                                           use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel)


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
        return cls(pool, [PrefillLinearState(view, slots) if isinstance(view, LinearLayerCache)
                          else PrefillAttentionState(view, token_slots, token_pos)
                          for view in map(pool.layer_state, range(len(pool.dims.layer_types)))])

    @classmethod
    def decode(cls, pool: CachePool, slots: torch.Tensor, past: torch.Tensor, span: int, kernel) -> "SlotCache":
        """`slots`, `past` (B,) long on the pool's device; `span` >= max(past) + 1 for gather kernels."""
        return cls(pool, [DecodeLinearState(view, slots) if isinstance(view, LinearLayerCache)
                          else DecodeAttentionState(view, kernel, slots, past, span)
                          for view in map(pool.layer_state, range(len(pool.dims.layer_types)))])
