"""Decode caches: per layer, Gated DeltaNet conv + recurrent state or full-attention K/V, per sequence.

Two K/V layouts: batch-first (equal-length rows, K/V grown by concatenation) and ragged (one K/V
pair per sequence, for packed prefill and batched decode of unequal lengths). Both are plain torch
references. The layers only call methods of their state (``attend`` for full attention,
``causal_conv`` and ``gated_delta_rule`` for Gated DeltaNet, see `LinearState`), so another cache
(the engine's preallocated buffers) can stand in with objects of its own. Not here: scheduling,
memory reuse across sequences, paging.
"""

from __future__ import annotations

import torch

from raxdoc.model.attention import AttentionState
from raxdoc.model.config import RaxTextConfig
from raxdoc.model.linear_attention import LinearState
from raxdoc.model.ops.attention import sdpa


class RaggedAttentionState:
    """K/V of each sequence kept apart: ``k[i]``, ``v[i]`` (1, S_i, Hkv, D)."""

    def __init__(self) -> None:
        self.k: list[torch.Tensor] = []
        self.v: list[torch.Tensor] = []

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
               cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        """Packed prefill of new sequences ((1, N, H, D) + cu_seqlens), or one decode token per
        sequence ((S, 1, H, D), row i is sequence i)."""
        outs = []
        if cu_seqlens is not None:
            bounds = cu_seqlens.tolist()
            for a, b in zip(bounds, bounds[1:]):
                self.k.append(k[:, a:b])
                self.v.append(v[:, a:b])
                outs.append(sdpa(q[:, a:b], self.k[-1], self.v[-1], causal=True, scale=scale))
            return torch.cat(outs, dim=1)
        if q.shape[1] != 1 or q.shape[0] != len(self.k):
            raise ValueError(f"ragged decode wants one token for each of {len(self.k)} sequences, "
                             f"got {tuple(q.shape)}")
        for i in range(q.shape[0]):
            self.k[i] = torch.cat([self.k[i], k[i: i + 1]], dim=1)
            self.v[i] = torch.cat([self.v[i], v[i: i + 1]], dim=1)
            outs.append(sdpa(q[i: i + 1], self.k[i], self.v[i], causal=False, scale=scale))
        return torch.cat(outs, dim=0)


class RaxCache:
    """States for every decoder layer plus what decode positions need.

    ``lengths`` (B,): tokens already processed per sequence; ``rope_deltas`` (B, 1): mRoPE offsets
    from ``rope_index``; the next token of sequence i sits at position lengths[i] + rope_deltas[i].
    """

    def __init__(self, config: RaxTextConfig, ragged: bool = False) -> None:
        attention = RaggedAttentionState if ragged else AttentionState
        self.layers: list = [LinearState() if kind == "linear_attention" else attention()
                             for kind in config.layer_types]
        self.ragged = ragged
        self.lengths: torch.Tensor | None = None
        self.rope_deltas: torch.Tensor | None = None

    @property
    def started(self) -> bool:
        return self.lengths is not None

    def next_positions(self, steps: int, device: torch.device) -> torch.Tensor:
        """(3, B, steps) positions of the next ``steps`` tokens of every sequence."""
        pos = self.lengths.to(device)[:, None] + torch.arange(steps, device=device) + self.rope_deltas.to(device)
        return pos.expand(3, -1, -1)
