"""Preallocated cache tensors for every slot, indexed by slot id.

Per slot (see `slots.py` for why slots rather than paged blocks):

- Gated DeltaNet recurrent state, one buffer for all linear layers:
  (n_linear_layers, num_slots, Hv, K, V)
- Gated DeltaNet causal-conv state: (n_linear_layers, num_slots, conv_dim, conv_kernel)
- full-attention K and V: (n_attn_layers, num_slots, max_model_len, kv_heads, head_dim)

The pool allocates once and never grows; a runner reads and writes rows by
slot id (`layer_state(layer)` maps a decoder layer index to its views).
`reset(slots)` zeroes the recurrent and conv state of freshly admitted slots
(a prefill that starts from zero state overwrites them anyway); `reset_kv(slots)`
zeroes their K/V rows: positions past a sequence's length are masked, but a
gather kernel still reads them up to its span, and a mask does not neutralise
a NaN / inf an earlier occupant left (0 * nan = nan). No scheduling or slot
accounting here (`slots.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from raxdoc.engine.slots import CacheDims


@dataclass(frozen=True)
class LinearLayerCache:
    recurrent: torch.Tensor  # (num_slots, Hv, K, V)
    conv: torch.Tensor  # (num_slots, conv_dim, conv_kernel)


@dataclass(frozen=True)
class AttentionLayerCache:
    k: torch.Tensor  # (num_slots, max_model_len, kv_heads, head_dim)
    v: torch.Tensor  # (num_slots, max_model_len, kv_heads, head_dim)


class CachePool:
    def __init__(
        self,
        dims: CacheDims,
        num_slots: int,
        max_model_len: int,
        *,
        dtype: torch.dtype = torch.bfloat16,
        state_dtype: torch.dtype | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        if num_slots < 1 or max_model_len < 1:
            raise ValueError("num_slots and max_model_len must be >= 1")
        self.dims = dims
        self.num_slots = num_slots
        self.max_model_len = max_model_len
        self.dtype = dtype
        # The delta-rule state accumulates over thousands of steps; callers may keep it in fp32.
        self.state_dtype = state_dtype or dtype
        self.device = torch.device(device)
        n_lin, n_attn = len(dims.linear_layers), len(dims.attn_layers)
        self.recurrent = torch.zeros(
            n_lin, num_slots, dims.linear_num_value_heads, dims.linear_key_head_dim,
            dims.linear_value_head_dim, dtype=self.state_dtype, device=self.device)
        self.conv = torch.zeros(n_lin, num_slots, dims.conv_dim, dims.conv_kernel,
                                dtype=dtype, device=self.device)
        kv_shape = (n_attn, num_slots, max_model_len, dims.num_kv_heads, dims.head_dim)
        self.k = torch.zeros(kv_shape, dtype=dtype, device=self.device)
        self.v = torch.zeros(kv_shape, dtype=dtype, device=self.device)
        # Decoder layer index -> index within its kind's buffer.
        self._linear_index = {layer: i for i, layer in enumerate(dims.linear_layers)}
        self._attn_index = {layer: i for i, layer in enumerate(dims.attn_layers)}

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.recurrent, self.conv, self.k, self.v))

    def layer_state(self, layer: int) -> LinearLayerCache | AttentionLayerCache:
        """Views (no copies) of one decoder layer's cache across all slots."""
        if layer in self._linear_index:
            i = self._linear_index[layer]
            return LinearLayerCache(recurrent=self.recurrent[i], conv=self.conv[i])
        if layer in self._attn_index:
            i = self._attn_index[layer]
            return AttentionLayerCache(k=self.k[i], v=self.v[i])
        raise IndexError(f"layer {layer} out of range for {len(self.dims.layer_types)} layers")

    def _slot_index(self, slots: list[int] | torch.Tensor) -> torch.Tensor:
        idx = torch.as_tensor(slots, dtype=torch.long, device=self.device).reshape(-1)
        # Validated on the host list only: checking a device tensor here would sync.
        if not isinstance(slots, torch.Tensor) and any(not 0 <= s < self.num_slots for s in idx.tolist()):
            raise IndexError(f"slot ids {list(slots)} out of range [0, {self.num_slots})")
        return idx

    def reset(self, slots: list[int] | torch.Tensor) -> None:
        """Zero the GDN recurrent and conv state of `slots` (on admission)."""
        idx = self._slot_index(slots)
        self.recurrent.index_fill_(1, idx, 0)
        self.conv.index_fill_(1, idx, 0)

    def reset_kv(self, slots: list[int] | torch.Tensor) -> None:
        """Zero the full-attention K/V rows of `slots` (on admission)."""
        idx = self._slot_index(slots)
        self.k.index_fill_(1, idx, 0)
        self.v.index_fill_(1, idx, 0)
