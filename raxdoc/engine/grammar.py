"""Schema-constrained decoding with llguidance: JSON Schema -> per-token masks.

- `build_ll_tokenizer(tokenizer, vocab_size, eos_ids)`: wrap a `tokenizers`
  Tokenizer once per engine (costly, ~1 s at a 250k vocabulary).
- `Grammar`: one compiled JSON-Schema grammar (from a pydantic model or a
  schema dict), shared by every sequence that uses it; `matcher()` copies a
  template matcher, so all sequences share its warm lexer caches.
- `GrammarMatcher`: `fill_mask(row)`, `accept(token)`, `is_terminated()`.
- `MaskFiller`: fills the whole batch's bitmask (one llguidance call over a
  Rust thread pool, or a plain loop for one thread; the GIL is released
  inside llguidance) on a worker thread; `mask_threads` sizes the pool to
  the host and the batch.

How the runner overlaps: the mask for step N depends only on tokens accepted
up to step N-1, and the token sampled at N is needed before N+1's mask, so
the overlap is within a step: the engine calls `filler.submit(matchers)`
first, then launches the model's step N; the worker computes masks while the
forward runs, and the sampler waits on the future only when it needs the
mask. Two pinned buffers alternate so a fill never overwrites a mask whose
non_blocking host-to-device copy may still be in flight.

Objects are closed (`additionalProperties: false` added where a schema leaves
it open) and whitespace is not free: an extraction wants exactly the fields
it names, and free keys or whitespace let a weak model ramble without end.
No sampling here, no stop strings; `stop.py` ends a sequence whose grammar
has terminated.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Iterable

import llguidance
import torch


# Rows one mask thread takes. At Qwen's 248k vocabulary a row costs ~100 us on a loaded 2-core host
# (bench/results/mask-cost-cpu.json; less on an idle core), so 32 rows stay within a few ms, inside a
# decode step; fewer rows per thread cost more in handoff than they save.
ROWS_PER_THREAD = 32
MAX_MASK_THREADS = 8


def host_cpus() -> int:
    """Cores this process may run on (a container's or taskset's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 2


def mask_threads(batch: int, cpus: int | None = None) -> int:
    """Threads filling `batch` mask rows: one per ROWS_PER_THREAD rows, at most half the host's cores
    (the runner's host thread and the engine loop keep the rest) and MAX_MASK_THREADS; at least one.
    B=256 on a 16-core host: 8 threads; B=64: 2; any batch on a 2-core host: 1 (a plain loop)."""
    cpus = host_cpus() if cpus is None else cpus
    return max(1, min(MAX_MASK_THREADS, cpus // 2, -(-batch // ROWS_PER_THREAD)))


class GrammarCompileError(ValueError):
    """The schema could not be turned into a grammar."""


def build_ll_tokenizer(tokenizer: Any, vocab_size: int, eos_ids: Iterable[int]) -> llguidance.LLTokenizer:
    """`tokenizer`: a `tokenizers.Tokenizer` (or its JSON string); `vocab_size`: the logits width."""
    text = tokenizer if isinstance(tokenizer, str) else tokenizer.to_str()
    eos = [int(i) for i in eos_ids]
    if not eos:
        raise ValueError("at least one EOS id is needed: the grammar allows it once the JSON is complete")
    return llguidance.LLTokenizer(text, n_vocab=vocab_size, eos_token=eos)


def close_objects(schema: Any) -> Any:
    """Copy of `schema` with `additionalProperties: false` on every object that leaves it unset."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (node.get("type") == "object" or "properties" in node) and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


class Grammar:
    def __init__(self, schema: dict | str, ll_tokenizer: llguidance.LLTokenizer, *,
                 close: bool = True, whitespace_flexible: bool = False) -> None:
        if isinstance(schema, str):
            schema = json.loads(schema)
        if not isinstance(schema, dict):
            raise GrammarCompileError(f"JSON Schema must be a dict, got {type(schema).__name__}")
        self.schema = close_objects(schema) if close else schema
        self.ll_tokenizer = ll_tokenizer
        try:
            self.grammar = llguidance.LLMatcher.grammar_from_json_schema(
                self.schema, defaults={"whitespace_flexible": whitespace_flexible})
        except ValueError as e:
            raise GrammarCompileError(str(e)) from e
        problem = llguidance.LLMatcher.validate_grammar(self.grammar, ll_tokenizer)
        if problem:
            raise GrammarCompileError(problem)
        # Matchers are copies of one template: copies share the lexer caches the template
        # builds, so later sequences find lexer states warm (bench: ~3x cheaper mean fill).
        self._template = llguidance.LLMatcher(ll_tokenizer, self.grammar, log_level=0)
        if self._template.is_error():
            raise GrammarCompileError(self._template.get_error())

    @classmethod
    def from_pydantic(cls, model: type, ll_tokenizer: llguidance.LLTokenizer, **kwargs: Any) -> "Grammar":
        return cls(model.model_json_schema(), ll_tokenizer, **kwargs)

    @property
    def vocab_size(self) -> int:
        return self.ll_tokenizer.vocab_size

    @property
    def required_keys(self) -> frozenset[str]:
        """Every key some object of the schema requires (what `grammar_close` steers a key towards)."""
        keys: set[str] = set()

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                required = node.get("required")
                if isinstance(required, list):
                    keys.update(k for k in required if isinstance(k, str))
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(self.schema)
        return frozenset(keys)

    def matcher(self) -> "GrammarMatcher":
        return GrammarMatcher(self._template.deep_copy(), self.vocab_size, self.required_keys)


class GrammarMatcher:
    """One sequence's position in the grammar."""

    def __init__(self, matcher: llguidance.LLMatcher, vocab_size: int,
                 required_keys: frozenset[str] = frozenset()) -> None:
        self._m = matcher
        self.vocab_size = vocab_size
        self.required_keys = required_keys

    @property
    def ll_matcher(self) -> llguidance.LLMatcher:
        return self._m

    def fill_mask(self, row: torch.Tensor) -> None:
        """Write the allowed-token bitmask into `row`: int32, CPU, contiguous, ceil(V/32) words."""
        if row.dtype != torch.int32 or row.device.type != "cpu" or not row.is_contiguous():
            raise ValueError("mask row must be a contiguous int32 CPU tensor")
        if row.numel() * 32 < self.vocab_size:
            raise ValueError(f"mask row of {row.numel()} words is too short for {self.vocab_size} tokens")
        self._m.unsafe_compute_mask_ptr(row.data_ptr(), row.numel() * 4)

    def accept(self, token_id: int) -> bool:
        """Advance by one token; False (and an error state) when the grammar forbids it."""
        return self._m.consume_token(int(token_id))

    def is_terminated(self) -> bool:
        return self._m.is_stopped()

    def error(self) -> str:
        return self._m.get_error()


class MaskFiller:
    """Batched bitmask fills, run inline or on one worker thread."""

    def __init__(self, vocab_size: int, max_batch: int, num_threads: int | None = None) -> None:
        """`num_threads`: a fixed count; None = `mask_threads(rows)` at each fill (host and batch)."""
        self.vocab_size = vocab_size
        self.words = (vocab_size + 31) // 32
        pin = torch.cuda.is_available()
        # Two buffers: fill N+1 while N's non_blocking copy to the device may still read.
        self._buffers = [torch.full((max_batch, self.words), -1, dtype=torch.int32, pin_memory=pin)
                         for _ in range(2)]
        self._next = 0
        self._lock = threading.Lock()
        # llguidance's default pool takes 80 % of the cores, which would fight the runner's own
        # host threads: `mask_threads` decides, and one thread is a plain loop (no handoff).
        self._fixed = num_threads
        self.num_threads = num_threads or mask_threads(max_batch)  # the most any fill uses
        self._executors: dict[int, llguidance.LLExecutor] = {}  # by thread count, built on first use
        self._thread: ThreadPoolExecutor | None = None

    @property
    def max_batch(self) -> int:
        return self._buffers[0].shape[0]

    def fill(self, matchers: list[GrammarMatcher | None]) -> torch.Tensor:
        """(len(matchers), words) int32 bitmask; rows without a matcher allow every token.

        The tensor is a view of a reused buffer: valid until the fill after the next one.
        """
        if len(matchers) > self.max_batch:
            raise ValueError(f"batch of {len(matchers)} exceeds max_batch={self.max_batch}")
        with self._lock:
            buf = self._buffers[self._next][: len(matchers)]
            self._next ^= 1
        # llguidance overwrites whole rows; only free rows need "all allowed". (A whole-buffer
        # fill_ goes through torch's thread pool: ~8 ms per call on a busy 2-core host.)
        for i, m in enumerate(matchers):
            if m is None:
                buf[i].fill_(-1)
        jobs = [(m.ll_matcher, i) for i, m in enumerate(matchers) if m is not None]
        threads = self._fixed or mask_threads(len(jobs))
        if jobs and threads > 1:
            if threads not in self._executors:
                self._executors[threads] = llguidance.LLExecutor(threads)
            self._executors[threads].unsafe_compute_mask_ptr(jobs, buf.data_ptr(), self.words * 4, len(matchers))
        else:
            for matcher, i in jobs:
                matcher.unsafe_compute_mask_ptr(buf[i].data_ptr(), self.words * 4)
        return buf

    def submit(self, matchers: list[GrammarMatcher | None]) -> "Future[torch.Tensor]":
        """`fill` on the worker thread; collect with `.result()` when the logits are ready."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raxdoc-mask")
        return self._thread.submit(self.fill, list(matchers))

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
