"""RaxForConditionalGeneration: vision tower + hybrid decoder + lm_head, the public model.

``model(input_ids, pixel_values=..., image_grid_thw=...)`` returns full-sequence logits (B, T, vocab)
without a cache. Cached calls: ``forward_step`` (equal-length rows: prefill, chunks, tokens) and
``prefill_packed`` + ``decode`` (the engine's shape: sequences packed end to end with cu_seqlens,
then one token per sequence whatever their lengths).
Not here: weight loading (``loader.py``), sampling, scheduling.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from raxdoc.model.cache import RaxCache
from raxdoc.model.config import RaxConfig
from raxdoc.model.rope import rope_index
from raxdoc.model.text import RaxTextModel
from raxdoc.model.vision import RaxVisionModel


class RaxForConditionalGeneration(nn.Module):
    def __init__(self, config: RaxConfig) -> None:
        super().__init__()
        self.config = config
        self.visual = RaxVisionModel(config.vision)
        self.language_model = RaxTextModel(config.text)
        self.lm_head = nn.Linear(config.text.hidden_size, config.text.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.language_model.embed_tokens.weight

    @classmethod
    def from_pretrained(cls, path_or_id: str | Path, dtype: torch.dtype | str = torch.float32,
                        device: str | torch.device = "cpu") -> "RaxForConditionalGeneration":
        """Load from a checkpoint folder or hub id; every tensor lands in ``dtype`` on ``device``."""
        from raxdoc.model.loader import load_model

        return load_model(cls, path_or_id, dtype=dtype, device=device)

    def embed(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None = None,
              image_grid_thw: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings (B, T, hidden) with image tokens replaced by vision-tower outputs, in order."""
        embeds = self.language_model.embed_tokens(input_ids)
        if pixel_values is None:
            return embeds
        image = self.visual(pixel_values, image_grid_thw).to(embeds.dtype)
        mask = input_ids == self.config.image_token_id
        if int(mask.sum()) != image.shape[0]:
            raise ValueError(f"{int(mask.sum())} image tokens in input_ids, {image.shape[0]} from the images")
        embeds = embeds.clone()
        embeds[mask] = image
        return embeds

    def forward(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None = None,
                image_grid_thw: torch.Tensor | None = None) -> torch.Tensor:
        """Uncached full forward: input_ids (B, T) -> logits (B, T, vocab)."""
        positions, _ = rope_index(input_ids, image_grid_thw if pixel_values is not None else None, self.config)
        hidden = self.language_model(self.embed(input_ids, pixel_values, image_grid_thw), positions)
        return self.lm_head(hidden)

    def new_cache(self, ragged: bool = False) -> RaxCache:
        return RaxCache(self.config.text, ragged=ragged)

    def forward_step(self, input_ids: torch.Tensor, cache: RaxCache, pixel_values: torch.Tensor | None = None,
                     image_grid_thw: torch.Tensor | None = None) -> torch.Tensor:
        """Cached step for a batch of equal-length rows: the first call is the prefill (images allowed,
        mRoPE deltas recorded in the cache), later calls (chunks or single tokens) continue it.
        -> logits (B, T, vocab)."""
        B, T = input_ids.shape
        if not cache.started:
            positions, cache.rope_deltas = rope_index(input_ids, image_grid_thw, self.config)
            cache.lengths = torch.zeros(B, dtype=torch.long)
        else:
            if pixel_values is not None:
                raise ValueError("images go in the first (prefill) step")
            positions = cache.next_positions(T, input_ids.device)
        embeds = self.embed(input_ids, pixel_values, image_grid_thw)
        hidden = self.language_model(embeds, positions, cache=cache)
        cache.lengths += T
        return self.lm_head(hidden)

    def prefill_packed(self, sequences: list[torch.Tensor], cache: RaxCache,
                       pixel_values: torch.Tensor | None = None,
                       image_grid_thw: torch.Tensor | None = None) -> torch.Tensor:
        """Packed prefill of new sequences (1-D ids, images in order across them) into a fresh ragged
        cache: one (1, sum T_i) row split by cu_seqlens, no padding. -> last-token logits (N, vocab)."""
        if not cache.ragged or cache.started:
            raise ValueError("prefill_packed needs a fresh cache from new_cache(ragged=True)")
        lens = torch.tensor([len(s) for s in sequences])
        cu = torch.nn.functional.pad(lens.cumsum(0), (1, 0)).to(torch.int32)
        ids = torch.cat(list(sequences))[None]  # (1, sum T_i)
        positions, cache.rope_deltas = rope_index(list(sequences), image_grid_thw, self.config)
        embeds = self.embed(ids, pixel_values, image_grid_thw)
        hidden = self.language_model(embeds, positions[:, None], cache=cache, cu_seqlens=cu.to(ids.device))
        cache.lengths = lens
        return self.lm_head(hidden[0, (cu[1:] - 1).long().to(ids.device)])

    def decode(self, tokens: torch.Tensor, cache: RaxCache) -> torch.Tensor:
        """One token per sequence of a started cache: tokens (N,) -> logits (N, vocab)."""
        positions = cache.next_positions(1, tokens.device)
        hidden = self.language_model(self.language_model.embed_tokens(tokens[:, None]), positions, cache=cache)
        cache.lengths += 1
        return self.lm_head(hidden[:, 0])
