"""The hybrid decoder stack: token embedding, decoder layers, final norm.

Scope: embeddings in, normed hidden states out, with optional per-layer cache state and packed
sequences. Not here: the lm_head and the vision tokens (``rax.py``), positions (``rope.py``).
"""

from __future__ import annotations

import torch
from torch import nn

from raxdoc.model.cache import RaxCache
from raxdoc.model.config import RaxTextConfig
from raxdoc.model.layers import DecoderLayer
from raxdoc.model.norm import RMSNorm
from raxdoc.model.rope import TextRotary


class RaxTextModel(nn.Module):
    def __init__(self, config: RaxTextConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary = TextRotary(config)

    def forward(self, embeds: torch.Tensor, positions: torch.Tensor, cache: RaxCache | None = None,
                cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        """embeds (B, T, hidden), positions (3, B, T) -> hidden (B, T, hidden).

        Packed prefill: B = 1, ``cu_seqlens`` (N + 1,) int marks N sequences laid end to end; each
        sequence only sees itself. ``cache`` layer states are advanced; its lengths are the caller's.
        """
        rope = self.rotary(positions, embeds.dtype)
        h = embeds
        for i, layer in enumerate(self.layers):
            h = layer(h, rope, state=None if cache is None else cache.layers[i], cu_seqlens=cu_seqlens)
        return self.norm(h)
