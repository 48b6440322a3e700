"""`HfReader`: the transformers backend behind the engine interface the pipeline uses.

Same surface as `Engine` where the pipeline touches it (`add_request`, `step`, `has_unfinished`,
`grammar`, `close`, `scheduler_config.max_num_seqs`, `Result` out), so `EngineLoop` and
`EngineStage` serve it unchanged. A step is one `model.generate` call over a batch: the oldest
waiting request plus the waiting ones whose prompt length is nearest its own (within
`LENGTH_SLACK`), with the same `SamplingParams`, at most `max_batch` (left padding wastes less on
similar lengths). Static batching: a step returns when its whole batch has finished, which is what
our engine's continuous batching improves on (bench/readers.py measures the difference).

Constrained decoding goes through the engine's own grammar path: `Constraints.grammar` compiles
(and caches) the schema, `MaskFiller` fills the rows' bitmasks, `GrammarCloser` steers rows near
their budget to close the JSON; a `LogitsProcessor` applies the masks inside `generate`.
Greedy unless a request samples; sampling takes the request's temperature / top_p and the family's
top_k / presence_penalty. A step whose `generate` raises a RuntimeError (out of memory, a device
fault) fails its requests as `error` results (one attempt; policy is the pipeline's).

Not here: loading (`hf_loading`), building prompts (`hf_prompt`), the grammar machinery.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch

from raxdoc.engine.config import EngineConfig
from raxdoc.engine.constraints import Constraints
from raxdoc.engine.grammar import Grammar, MaskFiller
from raxdoc.engine.grammar_close import GrammarCloser
from raxdoc.engine.sampling_params import Result, SamplingParams

# Requests batched with the oldest: prompt length within this share of its own (+16 tokens).
LENGTH_SLACK = 0.25


@dataclass
class _Request:
    request_id: int
    prompt: dict
    params: SamplingParams
    grammar: Grammar | None
    t_queued: float

    @property
    def length(self) -> int:
        return len(self.prompt["input_ids"])


class HfReader:
    def __init__(self, model: Any, tokenizer: Any, prompter: Any, *, max_batch: int, family: Any = None,
                 eos_ids: tuple[int, ...] = (), pad_id: int | None = None) -> None:
        self.model, self.tokenizer, self.prompter, self.family = model, tokenizer, prompter, family
        self.max_batch = max_batch
        # EngineLoop sizes its prompt permits by this, as for our engine.
        self.scheduler_config = SimpleNamespace(max_num_seqs=max_batch)
        self.eos_ids = tuple(int(i) for i in eos_ids)
        self.pad_id = self.eos_ids[0] if pad_id is None else int(pad_id)
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])
        self.config = EngineConfig()
        backend = tokenizer.backend_tokenizer
        self._constraints = Constraints(_plain_json(backend), self.vocab_size, self.eos_ids, self.config, max_batch)
        self._closer: GrammarCloser | None = None
        self._filler: MaskFiller | None = None
        self._skip_ids = set(getattr(tokenizer, "all_special_ids", ())) | set(self.eos_ids)
        self._ids = itertools.count()
        self._waiting: list[_Request] = []

    # -- the engine surface ----------------------------------------------------------------

    @property
    def paths(self) -> dict[str, str]:
        """What runs, for the run's metadata (as `Engine.paths`): transformers' own modelling code."""
        p = next(self.model.parameters())
        return {"model_type": str(getattr(self.model.config, "model_type", "?")), "dtype": str(p.dtype).removeprefix(
            "torch."), "device": str(p.device), "attention": str(getattr(self.model.config, "_attn_implementation", "?"))}

    def grammar(self, spec: Any) -> Grammar:
        return self._constraints.grammar(spec)

    def add_request(self, prompt: dict, params: SamplingParams, grammar: Any = None) -> int:
        if not prompt.get("input_ids"):
            raise ValueError("a prompt needs input_ids")
        rid = next(self._ids)
        g = self.grammar(grammar) if grammar is not None else None
        self._waiting.append(_Request(rid, prompt, params, g, time.perf_counter()))
        return rid

    def has_unfinished(self) -> bool:
        return bool(self._waiting)

    def step(self) -> list[Result]:
        batch = self.next_batch()
        if not batch:
            return []
        try:
            return self._run(batch)
        except RuntimeError as exc:  # this batch's failure, not the reader's
            now = time.perf_counter()
            return [Result((), "", "error", r.length, 0, r.t_queued, None, now, error_type=type(exc).__name__,
                           error=str(exc)[:500], request_id=r.request_id) for r in batch]

    def generate(self, prompts: list[dict], params: SamplingParams, grammar: Any = None) -> list[Result]:
        """Every prompt to completion, results in prompt order (tests and benchmarks)."""
        ids = [self.add_request(p, params, grammar) for p in prompts]
        done: dict[int, Result] = {}
        while self.has_unfinished():
            done.update((r.request_id, r) for r in self.step())
        return [done[i] for i in ids]

    def close(self) -> None:
        self._constraints.close()
        if self._filler is not None:
            self._filler.close()

    # -- batching ---------------------------------------------------------------------------

    def next_batch(self) -> list[_Request]:
        """The oldest request and those of nearest prompt length, same params; taken off the queue."""
        if not self._waiting:
            return []
        first = self._waiting[0]
        slack = first.length * LENGTH_SLACK + 16
        fits = [r for r in self._waiting[1:] if r.params == first.params and abs(r.length - first.length) <= slack]
        fits.sort(key=lambda r: abs(r.length - first.length))
        batch = [first] + fits[: self.max_batch - 1]
        taken = {r.request_id for r in batch}
        self._waiting = [r for r in self._waiting if r.request_id not in taken]
        return batch

    def _inputs(self, batch: list[_Request]) -> dict[str, torch.Tensor]:
        device = self.model.device
        width = max(r.length for r in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        extra = {name: torch.zeros((len(batch), width), dtype=torch.long)
                 for name in ("mm_token_type_ids", "moe_mm_token_type_ids") if name in batch[0].prompt}
        for i, r in enumerate(batch):  # left padding: every row's next token is at the same column
            ids[i, width - r.length:] = torch.tensor(r.prompt["input_ids"])
            mask[i, width - r.length:] = 1
            for name, t in extra.items():
                t[i, width - r.length:] = torch.tensor(r.prompt[name])
        inputs = {"input_ids": ids, "attention_mask": mask, **extra}
        pixels = [r.prompt["pixel_values"] for r in batch if r.prompt.get("pixel_values") is not None]
        if pixels:
            inputs["pixel_values"] = torch.cat(pixels).to(self.model.dtype)
            inputs["image_grid_thw"] = torch.cat([r.prompt["image_grid_thw"] for r in batch
                                                  if r.prompt.get("image_grid_thw") is not None])
        return {k: v.to(device) for k, v in inputs.items()}

    # -- one generate call --------------------------------------------------------------------

    def _run(self, batch: list[_Request]) -> list[Result]:
        from transformers import LogitsProcessorList

        from raxdoc.engine.hf_logits import GrammarLogits, PresencePenalty

        params = batch[0].params
        inputs = self._inputs(batch)
        width = inputs["input_ids"].shape[1]
        processors = LogitsProcessorList()
        sampling = dict(getattr(self.family, "sampling", None) or {}) if not params.greedy else {}
        if sampling.get("presence_penalty"):
            processors.append(PresencePenalty(sampling["presence_penalty"], width))
        first_token: list[float] = []
        if any(r.grammar is not None for r in batch):
            processors.append(GrammarLogits([r.grammar.matcher() if r.grammar else None for r in batch],
                                            self._mask_filler(len(batch)), self._grammar_closer(batch),
                                            width, params.max_new_tokens, first_token, self.eos_ids))
        gen = dict(max_new_tokens=params.max_new_tokens, do_sample=not params.greedy,
                   eos_token_id=list(self.eos_ids), pad_token_id=self.pad_id, logits_processor=processors)
        if params.ignore_eos:  # a fixed output length (benchmarks): EOS is masked until the budget
            gen["min_new_tokens"] = params.max_new_tokens
        if params.greedy:
            gen.update(temperature=None, top_p=None, top_k=None)
        else:
            gen.update(temperature=params.temperature, top_p=params.top_p, top_k=int(sampling.get("top_k", 0)) or None)
            if params.seed is not None:
                torch.manual_seed(params.seed)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **gen)
        now = time.perf_counter()
        return [self._result(r, out[i, width:].tolist(), first_token, now) for i, r in enumerate(batch)]

    def _result(self, req: _Request, new: list[int], first_token: list[float], now: float) -> Result:
        ended = next((i for i, t in enumerate(new) if t in self.eos_ids), None)
        ids = new if ended is None else new[: ended + 1]
        text = self.tokenizer.decode([t for t in ids if t not in self._skip_ids], skip_special_tokens=False)
        return Result(tuple(ids), text, "length" if ended is None else "eos", req.length, len(ids), req.t_queued,
                      first_token[0] if first_token else None, now, request_id=req.request_id)

    def _mask_filler(self, rows: int) -> MaskFiller:
        if self._filler is None or self._filler.max_batch < rows:
            self._filler = MaskFiller(self.vocab_size, max(rows, self.max_batch), num_threads=1)
        return self._filler

    def _grammar_closer(self, batch: list[_Request]) -> GrammarCloser | None:
        if self._closer is None and self.config.grammar_close_reserve:
            grammar = next(r.grammar for r in batch if r.grammar is not None)
            self._closer = GrammarCloser.from_ll_tokenizer(grammar.ll_tokenizer, self.config.grammar_close_reserve)
        return self._closer


def _plain_json(backend: Any) -> str:
    """The tokenizer's JSON without padding / truncation (a loaded tokenizer may carry them)."""
    from copy import copy

    tok = copy(backend)
    tok.no_padding()
    tok.no_truncation()
    return tok.to_str()
