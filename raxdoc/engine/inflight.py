"""`InFlight`: the sampled ids of a decode step the host has not read yet.

With overlapped decode (see `Engine`), step N's sampled ids stay on the device while step N+1's
forward is queued behind them; the host reads them afterwards, and appends, advances grammars
and checks stops while the device computes N+1. Reading waits on an event recorded right after
step N's sampler, not on the whole stream, so it never waits for N+1's forward.

Not here: the decision to overlap, scheduling, or what happens to the ids (the engine's job).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from raxdoc.engine.sequence import Sequence


@dataclass
class InFlight:
    seqs: list[Sequence]  # row i of `tokens` belongs to seqs[i]
    tokens: torch.Tensor  # (n,) int64 on the runner's device: the next forward's input tokens
    _host: torch.Tensor  # (n,) int64 host copy target (pinned on CUDA)
    _ready: "torch.cuda.Event | None"

    @classmethod
    def start(cls, seqs: list[Sequence], tokens: torch.Tensor) -> "InFlight":
        """Queue the device-to-host copy of `tokens` and mark when it is done; no sync."""
        if tokens.device.type != "cuda":
            return cls(seqs, tokens, tokens, None)
        host = torch.empty(tokens.shape, dtype=tokens.dtype, pin_memory=True)
        host.copy_(tokens, non_blocking=True)
        ready = torch.cuda.Event()
        ready.record()
        return cls(seqs, tokens, host, ready)

    @classmethod
    def start_rows(cls, seqs: list[Sequence], tokens: torch.Tensor, rows: list[int]) -> "InFlight":
        """`start` for the sequences at `rows` of `tokens` only (the others stopped). The row index
        goes up from pinned memory without blocking: a pageable copy would wait for the forward
        queued ahead of it, which is the wait overlapping exists to avoid."""
        if len(rows) == len(tokens):
            return cls.start(seqs, tokens)
        index = torch.tensor(rows, dtype=torch.long, pin_memory=tokens.is_cuda)
        picked = tokens.index_select(0, index.to(tokens.device, non_blocking=True))
        return cls.start(seqs, picked)

    def read(self) -> list[int]:
        """The ids as host ints, waiting only for the copy queued in `start`."""
        if self._ready is not None:
            self._ready.synchronize()
        return self._host.tolist()
