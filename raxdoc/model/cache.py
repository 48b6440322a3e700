"""Decode cache for one batch of requests: per layer, Gated DeltaNet conv + recurrent state or K/V.

Batch-first and grown on demand (K/V by concatenation); the engine's slot pool can replace it with
preallocated buffers holding the same per-layer fields. Not here: scheduling, slot reuse, paging.
"""

from __future__ import annotations

import torch

from raxdoc.model.attention import AttentionState
from raxdoc.model.config import RaxTextConfig
from raxdoc.model.linear_attention import LinearState


class RaxCache:
    """States for every decoder layer plus what decode positions need.

    ``seen``: tokens already processed per row (all rows share it: no padding).
    ``rope_deltas`` (B, 1): mRoPE offset from ``rope_index``; decode position = seen + delta.
    """

    def __init__(self, config: RaxTextConfig) -> None:
        self.layers: list[AttentionState | LinearState] = [
            LinearState() if kind == "linear_attention" else AttentionState() for kind in config.layer_types
        ]
        self.seen = 0
        self.rope_deltas: torch.Tensor | None = None

    def decode_positions(self, batch: int, steps: int, device: torch.device) -> torch.Tensor:
        """(3, B, steps) positions of the next ``steps`` tokens of every row."""
        pos = torch.arange(self.seen, self.seen + steps, device=device).expand(batch, -1)
        if self.rope_deltas is not None:
            pos = pos + self.rope_deltas.to(device)
        return pos.expand(3, -1, -1)
