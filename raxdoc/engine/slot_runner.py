"""`SlotRunner`: the model on the slot pool, a `ModelRunner` for real checkpoints.

Prefill packs the admitted prompts end to end (one (1, sum T_i) row split by
cu_seqlens, images encoded together by the ViT), writes each sequence's K/V
and final Gated DeltaNet state into its slot, and returns last-position
logits. Decode runs one token for every running sequence at position
`num_tokens - 1` (plus its mRoPE delta), reading and extending its slot.

This first version is eager and plain torch on any device (the ops pick fla
on CUDA): decode gathers each slot's K/V prefix and masks it, rather than the
flash-attn kv-cache kernel and CUDA graphs at padded batch sizes that the
fast path will add. Not here: scheduling, sampling, slot accounting.
"""

from __future__ import annotations

import torch

from raxdoc.engine.cache_plan import CacheDims
from raxdoc.engine.cache_pool import CachePool
from raxdoc.engine.sequence import Sequence
from raxdoc.engine.slot_cache import SlotCache
from raxdoc.model.rope import rope_index


class SlotRunner:
    def __init__(self, model, num_slots: int, max_model_len: int) -> None:
        self.model = model
        param = next(model.parameters())
        self.device = param.device
        self.vocab_size = model.config.text.vocab_size
        self.num_slots = num_slots
        # Recurrent state in float32 (the model's LinearState contract): it accumulates over every token.
        self.pool = CachePool(CacheDims.from_config(model.config.text), num_slots, max_model_len,
                              dtype=param.dtype, state_dtype=torch.float32, device=self.device)
        # mRoPE delta of the sequence in each slot (host ints, set at prefill).
        self._deltas = [0] * num_slots

    @torch.inference_mode()
    def prefill(self, seqs: list[Sequence]) -> torch.Tensor:
        prompts = [torch.tensor(s.prompt_ids, dtype=torch.long, device=self.device) for s in seqs]
        pixels = [s.vision["pixel_values"] for s in seqs if s.vision is not None]
        grids = [s.vision["image_grid_thw"] for s in seqs if s.vision is not None]
        pixel_values = torch.cat(pixels).to(self.device) if pixels else None
        grid_thw = torch.cat(grids).to(self.device) if grids else None
        bounds = [0]
        for p in prompts:
            bounds.append(bounds[-1] + len(p))
        cu = torch.tensor(bounds, dtype=torch.int32, device=self.device)
        positions, deltas = rope_index(prompts, grid_thw, self.model.config)  # (3, N), (S, 1)
        for s, d in zip(seqs, deltas[:, 0].tolist()):
            self._deltas[s.slot] = d
        ids = torch.cat(prompts)[None]  # (1, N)
        embeds = self.model.embed(ids, pixel_values, grid_thw)
        cache = SlotCache(self.pool, [s.slot for s in seqs], bounds=bounds)
        hidden = self.model.language_model(embeds, positions[:, None], cache=cache, cu_seqlens=cu)  # (1, N, h)
        cache.commit()
        return self.model.lm_head(hidden[0, (cu[1:] - 1).long()])  # (S, V)

    @torch.inference_mode()
    def decode(self, seqs: list[Sequence]) -> torch.Tensor:
        slots = [s.slot for s in seqs]
        past = [s.num_tokens - 1 for s in seqs]  # tokens already in each slot's cache
        tokens = torch.tensor([s.last_token for s in seqs], dtype=torch.long, device=self.device)
        pos = torch.tensor([p + self._deltas[slot] for p, slot in zip(past, slots)], device=self.device)
        positions = pos[None, :, None].expand(3, -1, 1)  # (3, B, 1)
        cache = SlotCache(self.pool, slots, past=past)
        embeds = self.model.language_model.embed_tokens(tokens[:, None])  # (B, 1, h)
        hidden = self.model.language_model(embeds, positions, cache=cache)
        cache.commit()
        return self.model.lm_head(hidden[:, 0])  # (B, V)
