"""Closing a constrained output before its token budget runs out.

A grammar only says what may come next, not how soon the text must end: a weak
or looping model can stay inside one JSON string until `max_new_tokens` and
leave unparseable text. `GrammarCloser` is the engine's answer: once a
sequence has `reserve` tokens or fewer left, its mask row is narrowed to the
first non-empty tier of "closing" tokens the grammar still allows:

1. EOS (the grammar is complete),
2. tokens made only of `}` / `]` (close the innermost object or array),
3. the bare `"` (open the shortest value where one is required),
4. in a key: pieces of the schema's required keys (llguidance writes keys in
   schema order, so a required key left for last is reached without writing
   every optional key before it).

Inside a string `}` and `]` are just text, so there the quote comes first
(and tokens like `"}]` that close more at once count). "Inside a string" is
read off the row itself: it allows a token with a letter that no JSON
literal or number contains.

When no tier is allowed (a required key still to be written, a `:` or `,`
due) the row is left alone and the model picks among what the grammar allows;
those stretches are short and bounded by the schema. Works on the host int32
bitmask rows (`grammar.MaskFiller` layout) after they are filled; no sampling,
no tensors on the device.
"""

from __future__ import annotations

from typing import Iterable

import torch

_CLOSERS = frozenset(b"}]")
_QUOTE_CLOSERS = frozenset(b'"}]')
# Letters outside null / true / false / exponents: only string content can hold them.
_TEXT_ONLY = frozenset(b"bcdghijkmopqvwxyzBCDGHIJKLMNOPQVWXYZ")


def pack_bits(allowed: torch.Tensor) -> torch.Tensor:
    """(V,) bool -> (ceil(V/32),) int32 words, bit j of word w = token 32*w + j (llguidance layout)."""
    words = (allowed.numel() + 31) // 32
    bits = torch.zeros(words * 32, dtype=torch.int64)
    bits[: allowed.numel()] = allowed.long()
    weights = torch.bitwise_left_shift(torch.ones(32, dtype=torch.int64), torch.arange(32))
    packed = (bits.view(words, 32) * weights).sum(1)  # (words,) in [0, 2**32)
    return torch.where(packed >= 2**31, packed - 2**32, packed).to(torch.int32)


class GrammarCloser:
    def __init__(self, token_bytes: list[bytes], eos_ids: Iterable[int], reserve: int) -> None:
        """`token_bytes[i]`: the bytes token i decodes to (b"" for special tokens)."""
        if reserve < 0:
            raise ValueError(f"reserve must be >= 0, got {reserve}")
        self.reserve = reserve
        n = len(token_bytes)
        eos = torch.zeros(n, dtype=torch.bool)
        eos[[i for i in eos_ids if 0 <= i < n]] = True
        close = torch.tensor([bool(b) and set(b) <= _CLOSERS for b in token_bytes], dtype=torch.bool)
        quote = torch.tensor([b'"' in b and set(b) <= _QUOTE_CLOSERS for b in token_bytes], dtype=torch.bool)
        bare_quote = torch.tensor([b == b'"' for b in token_bytes], dtype=torch.bool)
        text = torch.tensor([bool(set(b) & _TEXT_ONLY) for b in token_bytes], dtype=torch.bool)
        self.tiers = [pack_bits(t) for t in (eos, close, quote, bare_quote)]  # each (words,)
        self.string_content = pack_bits(text)
        self._token_bytes = token_bytes
        self._key_tiers: dict[frozenset[str], torch.Tensor] = {}

    @classmethod
    def from_ll_tokenizer(cls, ll_tokenizer, reserve: int) -> "GrammarCloser":
        n = ll_tokenizer.vocab_size
        token_bytes = [b"" if ll_tokenizer.is_special_token(i) else ll_tokenizer.decode_bytes([i]) for i in range(n)]
        return cls(token_bytes, ll_tokenizer.eos_tokens, reserve)

    def closing(self, tokens_left: int) -> bool:
        """Whether a sequence with `tokens_left` tokens still to go should be steered to close."""
        return tokens_left <= self.reserve

    def key_tier(self, keys: frozenset[str]) -> torch.Tensor:
        """Tokens that are non-empty pieces of one of `keys` (cached per key set)."""
        if keys not in self._key_tiers:
            encoded = [k.encode() for k in keys]
            self._key_tiers[keys] = pack_bits(torch.tensor(
                [bool(b) and any(b in k for k in encoded) for b in self._token_bytes], dtype=torch.bool))
        return self._key_tiers[keys]

    def restrict(self, row: torch.Tensor, required_keys: frozenset[str] = frozenset()) -> bool:
        """Narrow one int32 mask row in place to the first closing tier it allows; False if none."""
        width = min(row.numel(), self.tiers[0].numel())
        eos, close, quote, bare_quote = self.tiers
        in_string = bool((row[:width] & self.string_content[:width]).any())
        tiers = (eos, quote, close) if in_string else (eos, close, bare_quote)
        if in_string and required_keys:
            tiers += (self.key_tier(required_keys),)
        for tier in tiers:
            narrowed = row[:width] & tier[:width]
            if bool(narrowed.any()):
                row[:width] = narrowed
                row[width:] = 0
                return True
        return False
