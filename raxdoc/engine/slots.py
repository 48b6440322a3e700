"""Cache-slot bookkeeping, torch-free: how many per-sequence slots fit in the memory offered
(`CacheDims`, `plan_cache` -> `CachePlan`) and which of them are free (`SlotManager`).

A slot is one row of every cache buffer (Gated DeltaNet recurrent + conv state, and the
full-attention KV up to `max_model_len`), so owning a slot is the whole memory admission of a
sequence. Decision: per-slot fixed buffers, not paged KV blocks.

Rax 4.5 is hybrid. Its 18 Gated DeltaNet layers keep a fixed-size state per
sequence (recurrent (H, K, V) + causal-conv window), about 9 MiB in bf16
whatever the length, so that part of the cache is naturally one slot per
sequence; paging cannot shrink it. Only the 6 full-attention layers grow with
length, 12 KiB per token at 2B (6 layers x K,V x 2 heads x 256 x 2 bytes).

An invoice page is ~1,240 visual + ~150 prompt + <= 1,024 output tokens, so
lengths are predictable and close to `max_model_len` (say 3,072): a slot costs
3,072 x 12 KiB + ~10 MiB = ~46 MiB, a page at a typical ~2,400 tokens would
use ~38 MiB under paging. Paging would fit ~20 % more sequences, but the
count of slots is rarely what binds: with ~60 GiB free on an 80 GB card that
is ~1,300 slots, on a 24 GB card with ~14 GiB free ~300, both above the
`max_num_seqs` where a 2B decode step stops getting cheaper per token. In
exchange, fixed slots give the runner static shapes (KV as
(slots, max_model_len, kv_heads, head_dim), indexed by slot id) that CUDA
graphs and the naive CPU path use as is, with no block tables, no
fragmentation and no preemption (a sequence admitted to a slot always
finishes). Prefix caching, paging's other gift, does not pay here: each page
image differs and a GDN state cannot be shared by prefix without snapshots.

Not here: the tensors (`cache_pool.py`), the per-step views the model's layers use
(`slot_cache.py`), or which sequence gets a slot when (`scheduler.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MiB = 1 << 20


class CacheTooSmallError(RuntimeError):
    """Not even one slot fits in the memory offered."""


def _get(cfg: Any, name: str, default: Any = None) -> Any:
    if isinstance(cfg, dict):
        return cfg.get(name, default)
    return getattr(cfg, name, default)


@dataclass(frozen=True)
class CacheDims:
    # One entry per decoder layer: "linear_attention" or "full_attention".
    layer_types: tuple[str, ...]
    # Full attention: KV heads and head dim (KV cache per token per layer).
    num_kv_heads: int
    head_dim: int
    # Gated DeltaNet: key/value heads and head dims (recurrent state (Hv, K, V)).
    linear_num_key_heads: int
    linear_num_value_heads: int
    linear_key_head_dim: int
    linear_value_head_dim: int
    # Causal conv kernel width; the conv state keeps that many columns (as HF does).
    conv_kernel: int

    def __post_init__(self) -> None:
        bad = set(self.layer_types) - {"linear_attention", "full_attention"}
        if bad:
            raise ValueError(f"unknown layer types {sorted(bad)}")
        for name in ("num_kv_heads", "head_dim", "linear_num_key_heads", "linear_num_value_heads",
                     "linear_key_head_dim", "linear_value_head_dim", "conv_kernel"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1")

    @classmethod
    def from_config(cls, config: Any) -> "CacheDims":
        """From an HF-style config (object or dict); a `text_config` inside is used if present."""
        text = _get(config, "text_config") or config
        layer_types = _get(text, "layer_types")
        if layer_types is None:
            # HF default: every `full_attention_interval`-th layer is full attention.
            interval = _get(text, "full_attention_interval", 4)
            n = _get(text, "num_hidden_layers")
            layer_types = ["full_attention" if (i + 1) % interval == 0 else "linear_attention"
                           for i in range(n)]
        return cls(
            layer_types=tuple(layer_types),
            num_kv_heads=_get(text, "num_key_value_heads"),
            head_dim=_get(text, "head_dim"),
            linear_num_key_heads=_get(text, "linear_num_key_heads"),
            linear_num_value_heads=_get(text, "linear_num_value_heads"),
            linear_key_head_dim=_get(text, "linear_key_head_dim"),
            linear_value_head_dim=_get(text, "linear_value_head_dim"),
            conv_kernel=_get(text, "linear_conv_kernel_dim"),
        )

    @property
    def attn_layers(self) -> tuple[int, ...]:
        return tuple(i for i, t in enumerate(self.layer_types) if t == "full_attention")

    @property
    def linear_layers(self) -> tuple[int, ...]:
        return tuple(i for i, t in enumerate(self.layer_types) if t == "linear_attention")

    @property
    def conv_dim(self) -> int:
        # q and k (key heads x key dim each) and v (value heads x value dim) go through the conv.
        return (2 * self.linear_num_key_heads * self.linear_key_head_dim
                + self.linear_num_value_heads * self.linear_value_head_dim)

    def kv_bytes_per_token(self, dtype_bytes: int) -> int:
        return len(self.attn_layers) * 2 * self.num_kv_heads * self.head_dim * dtype_bytes

    def state_bytes_per_seq(self, dtype_bytes: int, state_dtype_bytes: int | None = None) -> int:
        sb = dtype_bytes if state_dtype_bytes is None else state_dtype_bytes
        recurrent = self.linear_num_value_heads * self.linear_key_head_dim * self.linear_value_head_dim * sb
        conv = self.conv_dim * self.conv_kernel * dtype_bytes
        return len(self.linear_layers) * (recurrent + conv)


@dataclass(frozen=True)
class CachePlan:
    num_slots: int
    max_model_len: int
    kv_bytes_per_slot: int
    state_bytes_per_slot: int
    # "memory" when free bytes bound the count, "max_num_seqs" when the profile does.
    limited_by: str

    @property
    def bytes_per_slot(self) -> int:
        return self.kv_bytes_per_slot + self.state_bytes_per_slot

    @property
    def total_bytes(self) -> int:
        return self.num_slots * self.bytes_per_slot


def plan_cache(
    free_bytes: int,
    dims: CacheDims,
    *,
    dtype_bytes: int,
    max_model_len: int,
    max_num_seqs: int,
    state_dtype_bytes: int | None = None,
) -> CachePlan:
    """Slots that fit in `free_bytes` (already net of weights and activations), capped by the profile."""
    if max_model_len < 1 or max_num_seqs < 1:
        raise ValueError("max_model_len and max_num_seqs must be >= 1")
    kv = dims.kv_bytes_per_token(dtype_bytes) * max_model_len
    state = dims.state_bytes_per_seq(dtype_bytes, state_dtype_bytes)
    fit = max(0, int(free_bytes)) // (kv + state)
    if fit < 1:
        raise CacheTooSmallError(
            f"one slot needs {(kv + state) / MiB:.1f} MiB (KV {kv / MiB:.1f} + state {state / MiB:.1f}) "
            f"at max_model_len={max_model_len}; only {free_bytes / MiB:.1f} MiB free")
    n = min(fit, max_num_seqs)
    return CachePlan(num_slots=n, max_model_len=max_model_len, kv_bytes_per_slot=kv,
                     state_bytes_per_slot=state, limited_by="memory" if fit < max_num_seqs else "max_num_seqs")


class SlotError(RuntimeError):
    """Allocating from an empty pool, or freeing a slot that is not in use."""


class SlotManager:
    """Which of `num_slots` slots are in use; hands out the lowest free id first."""

    def __init__(self, num_slots: int) -> None:
        if num_slots < 1:
            raise ValueError(f"num_slots must be >= 1, got {num_slots}")
        self.num_slots = num_slots
        # Lowest ids first: reuse keeps the live slots dense, which keeps
        # padded decode batches touching a compact region of the pool.
        self._free: list[int] = list(range(num_slots - 1, -1, -1))
        self._used: set[int] = set()

    @property
    def num_free(self) -> int:
        return len(self._free)

    @property
    def num_used(self) -> int:
        return len(self._used)

    def can_allocate(self, n: int = 1) -> bool:
        return len(self._free) >= n

    def allocate(self) -> int:
        if not self._free:
            raise SlotError(f"no free slot (all {self.num_slots} in use)")
        slot = self._free.pop()
        self._used.add(slot)
        return slot

    def free(self, slot: int) -> None:
        if slot not in self._used:
            raise SlotError(f"slot {slot} is not allocated")
        self._used.remove(slot)
        self._free.append(slot)
        # Keep the smallest id on top so the next allocate takes it.
        self._free.sort(reverse=True)

    def is_used(self, slot: int) -> bool:
        return slot in self._used
