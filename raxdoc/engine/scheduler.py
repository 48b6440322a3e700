"""Which sequences run in the next step: continuous batching without preemption.

Two queues, `waiting` (FIFO) and `running`. Each step is either a prefill
batch or a decode batch, never mixed:

- prefill, when a sequence waits and a slot is free: admit from the head of
  the queue while a slot is free, `max_num_seqs` is not reached, and the
  step's prompt-token and ViT-token budgets hold. Admission owns a whole
  slot (state + KV to `max_model_len`), so an admitted sequence always fits
  and nothing is ever preempted.
- decode otherwise: one token for every running sequence.

Why not mixed steps: prefill is a packed varlen pass through the ViT and the
decoder, decode a fixed-shape step replayed from CUDA graphs at padded batch
sizes; mixing them would break graph capture for a gain that matters to
latency, not to bulk throughput. A prefill step stalls decode only when slots
freed, and admits as many sequences as fit at once, so stalls are few.

A prompt that can never fit (longer than `max_model_len - 1`, the prefill
budget or the ViT budget) finishes at `add` with a `PromptTooLongError`
result instead of waiting forever. FIFO admission keeps results and service
in prompt order. Torch-free; tokens come from the runner and sampler.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from raxdoc.engine.sequence import Sequence, SequenceStatus
from raxdoc.engine.slots import SlotManager
from raxdoc.engine.stop import StopPolicy


@dataclass(frozen=True)
class SchedulerConfig:
    # Most sequences running at once (decode batch size); also capped by slots.
    max_num_seqs: int
    # Prompt + output tokens one slot holds.
    max_model_len: int
    # Prompt tokens (text + image placeholders) prefilled in one step.
    prefill_token_budget: int
    # ViT patch tokens (before the 2x2 merge) encoded in one step.
    vit_token_budget: int

    def __post_init__(self) -> None:
        for name in ("max_num_seqs", "max_model_len", "prefill_token_budget", "vit_token_budget"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")


@dataclass(frozen=True)
class ScheduledBatch:
    kind: Literal["prefill", "decode"]
    seqs: list[Sequence]


class Scheduler:
    def __init__(self, config: SchedulerConfig, slots: SlotManager, stop: StopPolicy) -> None:
        self.config = config
        self.slots = slots
        self.stop = stop
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []

    def add(self, seq: Sequence) -> bool:
        """Queue `seq`; finish it at once with an error if it can never be admitted."""
        cfg = self.config
        reason = None
        if seq.num_prompt_tokens >= cfg.max_model_len:
            reason = f"needs room for one output token within max_model_len={cfg.max_model_len}"
        elif seq.num_prompt_tokens > cfg.prefill_token_budget:
            reason = f"exceeds prefill_token_budget={cfg.prefill_token_budget}"
        elif seq.num_vit_tokens > cfg.vit_token_budget:
            reason = (f"its {seq.num_vit_tokens} ViT patch tokens exceed "
                      f"vit_token_budget={cfg.vit_token_budget}")
        if reason is not None:
            seq.finish("error", error_type="PromptTooLongError",
                       error=f"prompt of {seq.num_prompt_tokens} tokens {reason}")
            return False
        seq.status = SequenceStatus.WAITING
        self.waiting.append(seq)
        return True

    def is_finished(self) -> bool:
        return not self.waiting and not self.running

    def can_admit(self) -> bool:
        """Whether `schedule()` would return a prefill now (no side effects)."""
        cfg = self.config
        return bool(self.waiting and self.slots.can_allocate() and len(self.running) < cfg.max_num_seqs)

    def schedule(self) -> ScheduledBatch:
        if self.is_finished():
            raise RuntimeError("nothing to schedule")
        batch: list[Sequence] = []
        tokens = vision = 0
        cfg = self.config
        while (self.waiting and self.slots.can_allocate()
               and len(self.running) < cfg.max_num_seqs):
            seq = self.waiting[0]
            if (tokens + seq.num_prompt_tokens > cfg.prefill_token_budget
                    or vision + seq.num_vit_tokens > cfg.vit_token_budget):
                break
            self.waiting.popleft()
            seq.slot = self.slots.allocate()
            seq.status = SequenceStatus.RUNNING
            self.running.append(seq)
            batch.append(seq)
            tokens += seq.num_prompt_tokens
            vision += seq.num_vit_tokens
        if batch:
            return ScheduledBatch("prefill", batch)
        if not self.running:
            # add() rejects what can never fit, so with nothing running the head always fits.
            raise RuntimeError("scheduler stalled: waiting sequences but none admissible")
        return ScheduledBatch("decode", list(self.running))

    def postprocess(self, seqs: list[Sequence], token_ids: list[int]) -> list[Sequence]:
        """Append one sampled token per sequence; release the slots of those that finish."""
        if len(seqs) != len(token_ids):
            raise ValueError(f"{len(seqs)} sequences but {len(token_ids)} tokens")
        finished = []
        for seq, token in zip(seqs, token_ids):
            seq.append_token(int(token))
            if self.stop.apply(seq):
                self.release(seq)
                finished.append(seq)
        return finished

    def abort(self, seq: Sequence) -> None:
        """Drop a sequence that nobody will collect, wherever it is; a finished one is left alone."""
        if seq in self.waiting:
            self.waiting.remove(seq)
        elif seq in self.running:
            self.release(seq)

    def release(self, seq: Sequence) -> None:
        """Drop a running sequence (finished or failed) and free its slot."""
        self.running.remove(seq)
        if seq.slot is not None:
            self.slots.free(seq.slot)
            seq.slot = None
