"""Cache-slot bookkeeping: which of the pool's per-sequence slots are free.

A slot is one row of every cache buffer (Gated DeltaNet recurrent + conv
state, and the full-attention KV up to `max_model_len`), so owning a slot is
the whole memory admission of a sequence: see `cache_plan.py` for why slots
and not paged blocks. Torch-free; the tensors live in `cache_pool.py`.
"""

from __future__ import annotations


class SlotError(RuntimeError):
    """Allocating from an empty pool, or freeing a slot that is not in use."""


class SlotManager:
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
