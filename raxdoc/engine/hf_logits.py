"""Logits processors the transformers backend passes to `generate` (plain callables: no transformers import).

- `GrammarLogits`: schema-constrained decoding with the engine's grammar path. Each call advances
  every row's `GrammarMatcher` by the token `generate` just appended, fills the rows' bitmasks on
  the `MaskFiller`, narrows rows near their token budget to closing tokens (`GrammarCloser`), and
  sets every forbidden logit to -inf. A row whose grammar has terminated (the JSON is complete;
  llguidance stops there) may only end: its logits allow the EOS ids alone, so `generate` stops it.
- `PresencePenalty`: subtract a flat penalty from every token already generated (EXAONE's
  suggested sampling uses 1.5); used only when a request samples.

Not here: compiling grammars (`constraints`), choosing when to constrain (`hf_reader`).
"""

from __future__ import annotations

import time
from typing import Any

import torch

_BITS = torch.arange(32, dtype=torch.int32)


def unpack_mask(bitmask: torch.Tensor, width: int) -> torch.Tensor:
    """(B, words) int32 llguidance bitmask -> (B, width) bool, True where the token is allowed."""
    bits = (bitmask.unsqueeze(-1) >> _BITS) & 1  # (B, words, 32)
    allowed = bits.reshape(bitmask.shape[0], -1).bool()
    if allowed.shape[1] < width:  # logits wider than the tokenizer: the extra ids are never allowed
        allowed = torch.nn.functional.pad(allowed, (0, width - allowed.shape[1]), value=False)
    return allowed[:, :width]


class GrammarLogits:
    def __init__(self, matchers: list[Any], filler: Any, closer: Any, prompt_width: int, max_new_tokens: int,
                 first_token: list[float], eos_ids: tuple[int, ...]) -> None:
        """`matchers[i]`: row i's `GrammarMatcher`, None for an unconstrained row; `first_token`: gets
        the time of the first call appended (the batch's time to first token)."""
        self.matchers, self.filler, self.closer = matchers, filler, closer
        self.prompt_width, self.max_new_tokens = prompt_width, max_new_tokens
        self.first_token = first_token
        self.ended = [m is None for m in matchers]
        self.eos_ids = list(eos_ids)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        step = input_ids.shape[1] - self.prompt_width
        if step == 0:
            self.first_token.append(time.perf_counter())
        else:
            last = input_ids[:, -1].tolist()
            for i, m in enumerate(self.matchers):
                if not self.ended[i] and (not m.accept(last[i]) or m.is_terminated()):
                    self.ended[i] = True  # EOS accepted (or a refused token): nothing more to steer
        live = [None if self.ended[i] else m for i, m in enumerate(self.matchers)]
        done = [i for i, m in enumerate(self.matchers) if m is not None and self.ended[i]]
        if done:  # grammar complete (or broken): end the row
            only_eos = torch.full_like(scores[done], float("-inf"))
            only_eos[:, self.eos_ids] = scores[done][:, self.eos_ids]
            scores[done] = only_eos
        if all(m is None for m in live):
            return scores
        bitmask = self.filler.fill(live)
        left = self.max_new_tokens - step
        if self.closer is not None and self.closer.closing(left):
            for i, m in enumerate(live):
                if m is not None:
                    self.closer.restrict(bitmask[i], m.required_keys)
        allowed = unpack_mask(bitmask, scores.shape[1]).to(scores.device)
        return scores.masked_fill(~allowed, float("-inf"))


class PresencePenalty:
    def __init__(self, penalty: float, prompt_width: int) -> None:
        self.penalty, self.prompt_width = float(penalty), prompt_width

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        generated = input_ids[:, self.prompt_width:]
        if generated.numel() == 0:
            return scores
        seen = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, generated, True)
        return scores - self.penalty * seen.to(scores.dtype)
