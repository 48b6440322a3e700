"""The contract between the engine and whatever runs the model: `ModelRunner`.

The engine schedules; a runner only computes. Given sequences that already
hold a cache slot, a runner returns next-token logits and updates those slots:

- `prefill(seqs)`: for each sequence, reset its slot's state (a fresh
  admission), encode its vision inputs (`seq.vision`, opaque to the engine),
  run its whole prompt (`seq.prompt_ids`, packed varlen across the batch) and
  return the logits of each prompt's last position: (len(seqs), vocab_size).
- `decode(seqs, next_tokens=None)`: feed each sequence's `last_token` at
  position `num_tokens - 1`, reading and extending the cache of `seq.slot`;
  return (len(seqs), vocab_size) logits. With `next_tokens` (only ever passed
  to a runner whose `decode_ahead` is True) row i's input is `next_tokens[i]`,
  a device tensor the host has not appended yet, one position further on.

Rows come back in the order of `seqs`. A runner never picks sequences, never
samples, never frees slots. It may return before the device has finished (the
engine's one host sync per step is reading the sampled ids), which is what
lets grammar masks for the step be filled on the host meanwhile.

Every attribute below is read by the engine directly: a runner declares each
one, there are no optional extras probed for. Implementations: `SlotRunner`
(the real one: slot pool, packed prefill, CUDA graphs), `ReferenceRunner`
(the uncached oracle) and the mocks in tests. Not here: how any of them
computes.
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
    # Positions each slot's cache holds; the engine refuses a longer `EngineConfig.max_model_len`
    # (writing past the rows is a device-side assert on CUDA). None: no fixed limit (recomputes).
    max_model_len: int | None
    # True when `decode` takes `next_tokens`: the engine may then queue a step before reading the
    # previous step's ids (overlapped decode). False: it always appends first.
    decode_ahead: bool
    # False when prefill puts the images into the cache for good: the engine then frees each
    # sequence's host pixels (`seq.vision`) after its prefill. True: decode reads them again.
    needs_vision_after_prefill: bool

    def prefill(self, seqs: list[Sequence]) -> torch.Tensor:
        """(len(seqs), vocab_size) logits at each prompt's last position."""
        ...

    def decode(self, seqs: list[Sequence], next_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """(len(seqs), vocab_size) logits for the next token of each running sequence."""
        ...


def missing_members(runner: object) -> list[str]:
    """The `ModelRunner` attributes and methods `runner` lacks (empty when it is complete)."""
    members = [*ModelRunner.__annotations__, "prefill", "decode"]
    return [name for name in members if not hasattr(runner, name)]
