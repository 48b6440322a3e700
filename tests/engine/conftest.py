"""Engine test fixtures: a small byte-level BPE tokenizer, a mock runner, an invoice-like schema.

The mock runner follows nanochat's MockModel: logits are a deterministic
function of the token history it has seen *through its own per-slot cache*,
so a slot mix-up in the engine changes the output and fails the test.
"""

from __future__ import annotations

import json
import random
from typing import Callable, Literal, Optional

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>"]
MOCK_VOCAB = 640  # logits width: wider than the tokenizer, like a padded embedding


def _corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = ["invoice", "total", "amount", "quantity", "price", "widget", "service", "hours",
             "EUR", "USD", "tax", "date", "description", "number", "line", "items", "Hello", "world"]
    out = []
    for i in range(n):
        item = {"description": " ".join(rng.choices(words, k=3)), "quantity": rng.randint(1, 99),
                "amount": round(rng.uniform(0, 5000), 2)}
        out.append(json.dumps({"invoice_number": f"INV-{i:05d}", "line_items": [item], "total": item["amount"]}))
        out.append(" ".join(rng.choices(words, k=12)) + f" {rng.randint(0, 10**6)}.")
    return out


def build_tokenizer(vocab_size: int = 600, n_texts: int = 400) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(n_texts), trainer)
    # Like Qwen: <think> tags are added but not special, so decoding keeps them.
    tok.add_tokens(["<think>", "</think>"])
    return tok


@pytest.fixture(scope="session")
def tokenizer() -> Tokenizer:
    return build_tokenizer()


class MockRunner:
    """Deterministic logits from each slot's token history; checks the engine's slot use."""

    max_model_len = None  # keeps histories of any length
    needs_vision_after_prefill = True  # keeps whatever the engine gives it

    def __init__(self, num_slots: int, logits_fn: Callable[[list[int]], torch.Tensor],
                 vocab_size: int = MOCK_VOCAB, fail_on_call: int | None = None) -> None:
        self.num_slots = num_slots
        self.vocab_size = vocab_size
        self.device = torch.device("cpu")
        self.logits_fn = logits_fn
        self.fail_on_call = fail_on_call
        self.history: dict[int, list[int]] = {}
        self.owner: dict[int, object] = {}
        self.calls: list[tuple[str, list[int]]] = []
        self.ahead_calls = 0

    def _check_call(self, kind: str, seqs) -> None:
        self.calls.append((kind, [s.seq_id for s in seqs]))
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise RuntimeError("mock device failure")
        slots = [s.slot for s in seqs]
        assert all(s is not None and 0 <= s < self.num_slots for s in slots), slots
        assert len(set(slots)) == len(slots), f"two sequences share a slot: {slots}"

    def prefill(self, seqs) -> torch.Tensor:
        self._check_call("prefill", seqs)
        rows = []
        for s in seqs:
            prev = self.owner.get(s.slot)
            assert prev is None or prev.is_finished, f"slot {s.slot} reused while {prev} still runs"
            assert not s.output_ids
            self.owner[s.slot] = s
            self.history[s.slot] = list(s.prompt_ids)  # the "reset + prefill" of this slot
            rows.append(self.logits_fn(self.history[s.slot]))
        return torch.stack(rows)

    # Overlapped decode: the engine may pass the rows' input tokens before appending them.
    decode_ahead = True

    def decode(self, seqs, next_tokens: torch.Tensor | None = None) -> torch.Tensor:
        self._check_call("decode", seqs)
        if next_tokens is not None:
            self.ahead_calls += 1
        rows = []
        for i, s in enumerate(seqs):
            assert self.owner.get(s.slot) is s, f"slot {s.slot} not owned by {s}"
            if next_tokens is None:
                assert self.history[s.slot] == s.prompt_ids + s.output_ids[:-1]
                self.history[s.slot].append(s.last_token)
            else:  # the host has not appended the token yet
                assert self.history[s.slot] == s.prompt_ids + s.output_ids
                self.history[s.slot].append(int(next_tokens[i]))
            rows.append(self.logits_fn(self.history[s.slot]))
        return torch.stack(rows)


def chain_next(history: list[int], lo: int = 20, span: int = 300) -> int:
    """The mock's 'model': next token from the last one and the length (tokens in [lo, lo+span))."""
    return lo + (history[-1] * 7 + len(history)) % span


def one_hot_logits(next_fn: Callable[[list[int]], int], vocab: int = MOCK_VOCAB) -> Callable:
    def fn(history: list[int]) -> torch.Tensor:
        logits = torch.zeros(vocab)
        logits[next_fn(history)] = 10.0
        return logits
    return fn


def random_logits(seed: int, vocab: int = MOCK_VOCAB) -> Callable:
    """Pseudo-random logits seeded by the history: same history, same logits."""
    def fn(history: list[int]) -> torch.Tensor:
        g = torch.Generator().manual_seed(hash((seed, tuple(history))) & 0x7FFFFFFF)
        return torch.randn(vocab, generator=g) * 3.0
    return fn


def naive_generate(prompt: list[int], next_fn, max_new: int, eos: set[int] = frozenset()) -> list[int]:
    """One request at a time, no engine: the reference for batched greedy output."""
    hist, out = list(prompt), []
    while len(out) < max_new:
        t = next_fn(hist)
        out.append(t)
        hist.append(t)
        if t in eos:
            break
    return out


class LineItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(max_length=24)
    quantity: Optional[float] = None
    unit_price: Optional[float] = None
    amount: float


class InvoiceLike(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invoice_number: str = Field(max_length=16)
    invoice_date: Optional[str] = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    currency: Optional[Literal["EUR", "USD", "GBP"]] = None
    line_items: list[LineItem] = Field(max_length=4)
    total: Optional[float] = None
