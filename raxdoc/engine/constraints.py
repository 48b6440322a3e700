"""`Constraints`: the engine's side of schema-constrained decoding, one object per engine.

- `grammar(spec)`: a compiled `Grammar` for a pydantic model class, a JSON Schema (dict or str) or
  a `Grammar`, compiled once per schema content; the llguidance tokenizer it needs is built on
  first use (about a second at a 250k vocabulary), so an unconstrained engine never pays for it.
- `submit(rows)`: start filling one step's mask rows on the `MaskFiller`'s worker thread, before
  the runner's forward is queued, so the fill overlaps it.
- `masks(rows, pending)`: wait for that fill, then narrow the rows of constrained sequences near
  their token budget to tokens that close the JSON (`GrammarCloser`).

Not here: the grammar machinery (`grammar.py`, `grammar_close.py`), sampling (`sampler.py`), or
when a step runs and what it does with the mask (`engine.py`).
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from typing import Any

import torch

from raxdoc.engine.config import EngineConfig
from raxdoc.engine.grammar import Grammar, MaskFiller, build_ll_tokenizer
from raxdoc.engine.grammar_close import GrammarCloser
from raxdoc.engine.sequence import Sequence


class Constraints:
    def __init__(self, tokenizer: Any, vocab_size: int, eos_ids: tuple[int, ...], config: EngineConfig,
                 max_batch: int) -> None:
        """`vocab_size`: the logits width; `max_batch`: the most rows a step has (the filler's
        buffers are sized for it, and grown if a step ever has more)."""
        self.tokenizer, self.vocab_size, self.eos_ids = tokenizer, vocab_size, eos_ids
        self.config, self.max_batch = config, max_batch
        self._ll_tokenizer = None
        self._closer: GrammarCloser | None = None
        self._filler: MaskFiller | None = None
        self._grammars: dict[str, Grammar] = {}

    def close(self) -> None:
        if self._filler is not None:
            self._filler.close()

    def grammar(self, spec: Any) -> Grammar:
        """A compiled grammar for a pydantic model class, a JSON Schema dict (or str), or a `Grammar`."""
        if isinstance(spec, Grammar):
            return spec
        if isinstance(spec, type) and hasattr(spec, "model_json_schema"):
            schema = spec.model_json_schema()
        elif isinstance(spec, str):
            schema = json.loads(spec)
        else:
            schema = spec
        # Keyed by content, not id(): a freed dict's id can be reused by a different schema.
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            if self._ll_tokenizer is None:
                self._ll_tokenizer = build_ll_tokenizer(self.tokenizer, self.vocab_size, self.eos_ids)
                self._closer = GrammarCloser.from_ll_tokenizer(self._ll_tokenizer, self.config.grammar_close_reserve)
            self._grammars[key] = Grammar(schema, self._ll_tokenizer)
        return self._grammars[key]

    def submit(self, rows: list[Sequence | None]) -> Future | None:
        """Start filling the masks of `rows` (None: a row that stopped, left unmasked) on the
        filler's thread; None when no row is constrained."""
        matchers = [s.matcher if s is not None else None for s in rows]
        if all(m is None for m in matchers):
            return None
        return self._mask_filler(len(rows)).submit(matchers)

    def masks(self, rows: list[Sequence | None], pending: Future | None) -> torch.Tensor | None:
        """The bitmask `submit` started (None when nothing was submitted), steered to close where due."""
        bitmask = pending.result() if pending is not None else None
        if bitmask is not None:
            self._steer_to_close(rows, bitmask)
        return bitmask

    def _mask_filler(self, batch_size: int) -> MaskFiller:
        if self._filler is None or self._filler.max_batch < batch_size:
            if self._filler is not None:
                self._filler.close()
            cap = max(batch_size, self.max_batch)
            self._filler = MaskFiller(self.vocab_size, cap, num_threads=self.config.grammar_threads)
        return self._filler

    def _steer_to_close(self, rows: list[Sequence | None], bitmask: torch.Tensor) -> None:
        """Narrow the mask rows of constrained sequences near their token budget to closing tokens."""
        if self._closer is None or self._closer.reserve == 0:
            return
        for i, seq in enumerate(rows):
            if seq is None or seq.matcher is None:  # None: a row whose sequence already stopped
                continue
            left = min(seq.params.max_new_tokens - seq.num_completion_tokens,
                       self.config.max_model_len - seq.num_tokens)
            if self._closer.closing(left):
                self._closer.restrict(bitmask[i], seq.matcher.required_keys)
