"""Per-step views of the `CachePool` in the shape the model's layers expect.

The model's layers take a state object per layer (see `raxdoc.model.cache`):
Gated DeltaNet layers read and assign `conv` and `recurrent`, full-attention
layers call `attend(q, k, v, scale, cu_seqlens)`. `SlotCache` builds those
for one step's batch of slots: linear states hold gathered copies of the
slots' rows and are written back with `commit()`; attention states write the
new K/V into the slots' rows at their positions and attend over each slot's
prefix. Plain torch; no scheduling, no positions (the runner's job).
"""

from __future__ import annotations

import torch

from raxdoc.engine.cache_pool import AttentionLayerCache, CachePool, LinearLayerCache
from raxdoc.model.varlen import sdpa, varlen_attention


class SlotLinearState:
    def __init__(self, layer: LinearLayerCache, idx: torch.Tensor, fresh: bool) -> None:
        self._layer, self._idx = layer, idx
        # A fresh prefill starts from zero state: None tells the ops so (no gather needed).
        self.conv: torch.Tensor | None = None if fresh else layer.conv[idx]  # (B, conv_dim, kernel)
        self.recurrent: torch.Tensor | None = None if fresh else layer.recurrent[idx]  # (B, Hv, Dk, Dv)

    def commit(self) -> None:
        self._layer.conv.index_copy_(0, self._idx, self.conv.to(self._layer.conv.dtype))
        self._layer.recurrent.index_copy_(0, self._idx, self.recurrent.to(self._layer.recurrent.dtype))


class SlotAttentionState:
    """K/V rows of the step's slots. Prefill: packed (1, N, H, D) + cu_seqlens, fresh slots.
    Decode: (B, 1, H, D), `past[i]` tokens already cached for row i."""

    def __init__(self, layer: AttentionLayerCache, slots: list[int], idx: torch.Tensor,
                 bounds: list[int] | None = None, past: list[int] | None = None,
                 past_t: torch.Tensor | None = None) -> None:
        self._layer, self._slots, self._idx = layer, slots, idx
        self._bounds, self._past, self._past_t = bounds, past, past_t

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
               cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        if cu_seqlens is not None:
            for slot, a, b in zip(self._slots, self._bounds, self._bounds[1:]):
                self._layer.k[slot, : b - a] = k[0, a:b]
                self._layer.v[slot, : b - a] = v[0, a:b]
            return varlen_attention(q[0], k[0], v[0], cu_seqlens, causal=True, scale=scale)[None]
        past = self._past_t  # (B,) on the device, shared by all layers of the step
        self._layer.k[self._idx, past] = k[:, 0]
        self._layer.v[self._idx, past] = v[:, 0]
        span = max(self._past) + 1
        keys = self._layer.k[self._idx, :span]  # (B, span, Hkv, D)
        values = self._layer.v[self._idx, :span]
        mask = torch.arange(span, device=q.device)[None, :] <= past[:, None]  # (B, span)
        return sdpa(q, keys, values, causal=False, scale=scale, mask=mask[:, None, None, :])


class SlotCache:
    """`layers[i]` for every decoder layer, over the given slots."""

    def __init__(self, pool: CachePool, slots: list[int], *, bounds: list[int] | None = None,
                 past: list[int] | None = None) -> None:
        idx = torch.tensor(slots, dtype=torch.long, device=pool.device)
        fresh = bounds is not None
        past_t = None if past is None else torch.tensor(past, dtype=torch.long, device=pool.device)
        self.layers: list = []
        for layer in range(len(pool.dims.layer_types)):
            view = pool.layer_state(layer)
            if isinstance(view, LinearLayerCache):
                self.layers.append(SlotLinearState(view, idx, fresh))
            else:
                self.layers.append(SlotAttentionState(view, slots, idx, bounds=bounds, past=past, past_t=past_t))

    def commit(self) -> None:
        for state in self.layers:
            if isinstance(state, SlotLinearState):
                state.commit()
