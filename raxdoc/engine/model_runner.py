"""The contract between the engine and whatever runs the model.

The engine schedules; a runner only computes. Given sequences that already
hold a cache slot, a runner returns next-token logits and updates those slots:

- `prefill(seqs)`: for each sequence, reset its slot's state (a fresh
  admission), encode its vision inputs (`seq.vision`, opaque to the engine),
  run its whole prompt (`seq.prompt_ids`, packed varlen across the batch) and
  return the logits of each prompt's last position: (len(seqs), vocab_size).
- `decode(seqs)`: feed each sequence's `last_token` at position
  `num_tokens - 1`, reading and extending the cache of `seq.slot`; return
  (len(seqs), vocab_size) logits.

Rows come back in the order of `seqs`. A runner never picks sequences, never
samples, never frees slots. It may return before the device has finished (the
engine's one host sync per step is reading the sampled ids), which is what
lets grammar masks for the step be filled on the host meanwhile.

The real, tensor-owning runner lands with the model (packed prefill, batched
decode, CUDA graphs); tests use a mock with deterministic logits.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from raxdoc.engine.sequence import Sequence


@runtime_checkable
class ModelRunner(Protocol):
    # Width of the logits rows (may exceed the tokenizer's vocabulary: padded embeddings).
    vocab_size: int
    # Cache slots the runner's pool holds; the engine never hands out more.
    num_slots: int
    # Where logits live; the engine puts per-step sampling tensors there before each step.
    device: torch.device

    def prefill(self, seqs: list[Sequence]) -> torch.Tensor:
        """(len(seqs), vocab_size) logits at each prompt's last position."""
        ...

    def decode(self, seqs: list[Sequence]) -> torch.Tensor:
        """(len(seqs), vocab_size) logits for the next token of each running sequence."""
        ...
