"""Per-request generation settings and the per-request result.

`SamplingParams` is what a caller asks for; `Result` is what the engine hands
back, one per prompt, in prompt order. Both are frozen and checked on
construction. This module does no sampling itself (see `sampler.py`) and knows
nothing of tokens beyond counting them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

FinishReason = Literal["stop", "length", "eos", "error"]
FINISH_REASONS: tuple[str, ...] = ("stop", "length", "eos", "error")


class SamplingParamsError(ValueError):
    """A `SamplingParams` field is out of range or of the wrong type."""


@dataclass(frozen=True)
class SamplingParams:
    # Upper bound on generated tokens (EOS / stop tokens included).
    max_new_tokens: int
    # 0.0 means greedy (argmax); > 0 scales logits before sampling.
    temperature: float = 0.0
    # Nucleus sampling: keep the smallest set of tokens whose mass reaches top_p.
    top_p: float = 1.0
    # Keep generating through EOS / <|im_end|> until max_new_tokens or a stop string.
    ignore_eos: bool = False
    # Strings that end generation; the matched string is not part of `Result.text`.
    stop: tuple[str, ...] = ()
    # Per-request seed: the same seed gives the same tokens whatever the batch.
    seed: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int):
            raise SamplingParamsError(f"max_new_tokens must be an int, got {self.max_new_tokens!r}")
        if self.max_new_tokens < 1:
            raise SamplingParamsError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not isinstance(self.temperature, (int, float)) or isinstance(self.temperature, bool):
            raise SamplingParamsError(f"temperature must be a number, got {self.temperature!r}")
        if not math.isfinite(self.temperature) or self.temperature < 0:
            raise SamplingParamsError(f"temperature must be finite and >= 0, got {self.temperature}")
        if not isinstance(self.top_p, (int, float)) or isinstance(self.top_p, bool):
            raise SamplingParamsError(f"top_p must be a number, got {self.top_p!r}")
        if not (0.0 < self.top_p <= 1.0):
            raise SamplingParamsError(f"top_p must be in (0, 1], got {self.top_p}")
        if isinstance(self.stop, str):
            # A bare string would otherwise be split into one-character stops.
            raise SamplingParamsError("stop must be a sequence of strings, not a string; use stop=(s,)")
        stop = tuple(self.stop)
        if any(not isinstance(s, str) or s == "" for s in stop):
            raise SamplingParamsError(f"stop strings must be non-empty str, got {stop!r}")
        # Normalise list -> tuple so the object stays hashable; construction-time only.
        object.__setattr__(self, "stop", stop)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise SamplingParamsError(f"seed must be an int or None, got {self.seed!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class Result:
    # Generated ids, including a final EOS / stop token when one ended the sequence.
    token_ids: tuple[int, ...]
    # Detokenised output, special tokens and the stop string removed; <think> blocks kept
    # (postprocess strips them, one rule for every reader).
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    # Wall-clock times (time.perf_counter seconds) when queued, first token, finished.
    t_queued: float
    t_first_token: float | None
    t_finished: float
    # Set only when finish_reason == "error": an exception class name and its message.
    error_type: str | None = None
    error: str | None = None
    # The id `Engine.add_request` returned for this request.
    request_id: int | None = None

    def __post_init__(self) -> None:
        if self.finish_reason not in FINISH_REASONS:
            raise ValueError(f"finish_reason must be one of {FINISH_REASONS}, got {self.finish_reason!r}")
        if (self.finish_reason == "error") != (self.error_type is not None):
            raise ValueError("error_type is set exactly when finish_reason == 'error'")

    @property
    def ok(self) -> bool:
        return self.finish_reason != "error"

    @property
    def ttft(self) -> float | None:
        """Time to first token, from queueing; None when no token was produced."""
        return None if self.t_first_token is None else self.t_first_token - self.t_queued

    @property
    def latency(self) -> float:
        return self.t_finished - self.t_queued
