"""A `ModelRunner` that recomputes every sequence from scratch each step.

It calls an uncached forward, `model(input_ids (1, T), pixel_values=...,
image_grid_thw=...) -> logits (1, T, V)` (or an output with `.logits`), once
per sequence per step, on the whole prompt + output so far. That is slow
(quadratic in length, no batching) and obviously correct: it is the oracle
the cached, batched runner is checked against (engine output with this runner
== engine output with the real one), and it lets the engine run end to end
with any model that has the public `forward` of DESIGN.md before the real
runner exists. It owns no cache; slots are only checked, never used. It
never decodes ahead (`decode_ahead` False): the whole history is on the host
before each step.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from raxdoc.engine.sequence import Sequence


class ReferenceRunner:
    # No cache, so no length limit of its own; every step rereads the whole history, pixels included.
    max_model_len = None
    decode_ahead = False
    needs_vision_after_prefill = True

    def __init__(self, model: Callable[..., Any], vocab_size: int, num_slots: int,
                 device: torch.device | str = "cpu") -> None:
        self.model = model
        self.vocab_size = vocab_size
        self.num_slots = num_slots
        self.device = torch.device(device)

    @torch.inference_mode()
    def _last_logits(self, seq: Sequence) -> torch.Tensor:
        if seq.slot is None:
            raise RuntimeError(f"sequence {seq.seq_id} has no slot: the scheduler did not admit it")
        ids = torch.tensor([seq.prompt_ids + seq.output_ids], dtype=torch.long, device=self.device)  # (1, T)
        kwargs = {}
        if seq.vision is not None:
            kwargs = {k: v for k, v in seq.vision.items() if v is not None}
        out = self.model(ids, **kwargs)
        logits = getattr(out, "logits", out)  # (1, T, V)
        if logits.shape[-1] != self.vocab_size:
            raise RuntimeError(f"model returned {logits.shape[-1]} logits, runner expects {self.vocab_size}")
        return logits[0, -1]

    def prefill(self, seqs: list[Sequence]) -> torch.Tensor:
        return torch.stack([self._last_logits(s) for s in seqs])  # (B, V)

    def decode(self, seqs: list[Sequence], next_tokens: torch.Tensor | None = None) -> torch.Tensor:
        if next_tokens is not None:
            raise ValueError("ReferenceRunner does not decode ahead: append each token before decode")
        return torch.stack([self._last_logits(s) for s in seqs])  # (B, V)
