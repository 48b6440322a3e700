"""One timed engine run for the benchmark: every page queued, `step()` until done, each step timed.

Each step is timed whole (it ends on the host reading the sampled ids, so the device has finished)
and charged to prefill or decode by which runner method it called. The engine is observed through
a proxy on `engine.runner` (step kinds, batch sizes, tokens): nothing inside the engine changes.
Counts are cross-checked against the results; a failed request is a `BenchmarkError`, never a
figure. Not here: FLOPs, the baseline, reporting (engine_run.py).
"""

from __future__ import annotations

import gc
import json
import resource
import time
from pathlib import Path
from typing import Any

import torch


class BenchmarkError(RuntimeError):
    """The benchmark could not produce honest figures (a request failed, a count disagrees)."""


class _RecordingRunner:
    """Passes calls to the engine's runner; notes each step's kind and batch size."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner
        self.last_kind: str | None = None
        self.max_decode_batch = 0
        self.prefill_tokens = 0
        self.decode_tokens = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)

    def prefill(self, seqs: list) -> torch.Tensor:
        self.last_kind = "prefill"
        self.prefill_tokens += sum(s.num_prompt_tokens for s in seqs)
        return self._runner.prefill(seqs)

    def decode(self, seqs: list, **kwargs: Any) -> torch.Tensor:
        # kwargs: `next_tokens` when the engine overlaps decode steps (the default on CUDA).
        self.last_kind = "decode"
        self.max_decode_batch = max(self.max_decode_batch, len(seqs))
        self.decode_tokens += len(seqs)
        return self._runner.decode(seqs, **kwargs)


# fla's l2norm and gated-norm kernels are autotuned per NB = ceil(rows / 65536), a compile-time
# constant (rows = tokens x Gated DeltaNet heads): each new prefill size class compiles and
# benchmarks 9-25 configs, seconds each time. Left to the timed run, that lands in its figures.
_FLA_NORM_ROWS = 65536


def warm_prefill_sizes(engine: Any, device: torch.device) -> list[int]:
    """On CUDA, one text-only prefill per NB size class up to the engine's prefill budget, so the
    timed run autotunes nothing; returns the token count of each warm-up prefill (none on CPU)."""
    from raxdoc.engine import SamplingParams

    if device.type != "cuda":
        return []
    text = engine.runner.model.config.text
    sched = engine.scheduler_config
    step = _FLA_NORM_ROWS // max(text.linear_num_key_heads, text.linear_num_value_heads)
    # Prompts just under one class each, so k of them pack into one prefill of class k.
    length = min(step - 1, sched.max_model_len - 1, sched.prefill_token_budget)
    most = min(sched.prefill_token_budget // length, sched.max_num_seqs)
    # Plain text tokens (never a special such as the image placeholder, which would fail the prompt).
    words = engine.tokenizer.encode("Total amount due for services rendered " * 64).ids
    ids = (words * (length // len(words) + 1))[:length]
    sizes = []
    for k in range(1, most + 1):
        results = engine.generate([{"input_ids": ids}] * k, SamplingParams(max_new_tokens=1, ignore_eos=True))
        if not all(r.ok for r in results):
            raise BenchmarkError(f"warm-up prefill of {k} x {length} tokens failed: {results[0].error}")
        sizes.append(k * length)
    return sizes


def runner_facts(runner: Any, device: torch.device) -> dict[str, Any]:
    """Which code paths a `SlotRunner`'s run took, so a figure is never read as the fast path's by
    mistake: fla or the plain-torch ops, the decode attention kernel, CUDA graphs (and why they stopped)."""
    from raxdoc.model.ops import BackendUnavailableError, use_fla

    try:
        ops = "fla" if use_fla(torch.empty(0, device=device)) else "torch"
    except BackendUnavailableError:
        ops = "unavailable"
    graphs = runner.graphs
    return {"ops": ops, "decode_attention": runner.attention.name,
            "cuda_graphs": graphs is not None, "graphs_captured": 0 if graphs is None else len(graphs),
            "graph_error": runner.graph_error}


def run_engine(ckpt: Path, profile: Any, prompts: list[dict], new_tokens: int, *, warmup_pages: int,
                free_bytes: int | None, device: torch.device, decode_attention: str | None = None,
                grammar: Any = None) -> dict[str, Any]:
    """`grammar`: a JSON Schema every page's output is constrained to (the pipeline's mode). Then a
    page ends when its JSON closes (the engine steers it closed within `new_tokens`), so output
    lengths vary; without one, every page makes exactly `new_tokens`."""
    from raxdoc.engine import Engine, SamplingParams

    engine = Engine.from_pretrained(str(ckpt), profile=profile, dtype=profile.dtype, device=str(device),
                                    free_bytes=free_bytes, decode_attention=decode_attention)
    attention = engine.runner.attention.name
    overlap = engine.overlap
    paths = engine.paths  # after the start-up self-check (on CUDA): what runs, and its verdict
    recorder = _RecordingRunner(engine.runner)
    engine.runner = recorder
    params = SamplingParams(max_new_tokens=new_tokens, ignore_eos=True, temperature=0.0)
    cuda = device.type == "cuda"
    try:
        if grammar is not None:  # compiling it (and the tokenizer's trie) is not the run's work
            engine.grammar(grammar)
        if warmup_pages:  # kernels, autotuning, graph capture, allocator growth
            warm_prefill_sizes(engine, device)
            engine.generate(prompts[:warmup_pages],
                            SamplingParams(max_new_tokens=min(new_tokens, 32), ignore_eos=True))
        recorder.max_decode_batch = recorder.prefill_tokens = recorder.decode_tokens = 0
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        spent = {"prefill": 0.0, "decode": 0.0}
        steps = {"prefill": 0, "decode": 0}
        results = []
        start = time.perf_counter()
        for prompt in prompts:
            engine.add_request(prompt, params, grammar=grammar)
        while engine.has_unfinished():
            t0 = time.perf_counter()
            recorder.last_kind = None
            results += engine.step()
            kind = recorder.last_kind
            if kind is not None:
                spent[kind] += time.perf_counter() - t0
                steps[kind] += 1
        wall = time.perf_counter() - start
        # CPU: the process's max RSS so far (page drawing and loading included, the baseline not).
        peak = (torch.cuda.max_memory_allocated() if cuda
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        slots, max_num_seqs = engine.runner.num_slots, engine.scheduler_config.max_num_seqs
    finally:
        engine.close()
    bad = [r for r in results if not r.ok or r.completion_tokens > new_tokens
           or (grammar is None and r.completion_tokens != new_tokens)]
    if bad or len(results) != len(prompts):
        first = bad[0] if bad else None
        wanted = f"{new_tokens} tokens" if grammar is None else f"an ok result within {new_tokens} tokens"
        raise BenchmarkError(f"{len(bad)} of {len(prompts)} requests did not produce {wanted} "
                             f"({len(results)} results); first: {first and (first.finish_reason, first.error)}")
    results.sort(key=lambda r: r.request_id)
    prompt_tokens = sum(r.prompt_tokens for r in results)
    output_tokens = sum(r.completion_tokens for r in results)
    # Overlapped decode queues a step before reading the ids that finish some rows: each request
    # may have one row computed and thrown away (its last), never more; otherwise none.
    discarded = recorder.decode_tokens - (output_tokens - len(results))
    if recorder.prefill_tokens != prompt_tokens or not 0 <= discarded <= (len(results) if overlap else 0):
        raise BenchmarkError(f"runner saw {recorder.prefill_tokens} prefill / {recorder.decode_tokens} decode "
                             f"tokens, results say {prompt_tokens} / {output_tokens - len(results)}"
                             f"{' (overlapped: one discarded row per request at most)' if overlap else ''}")
    counted = {"max_pages_in_flight": recorder.max_decode_batch, "slots": slots, "max_num_seqs": max_num_seqs,
               "decode_attention": attention, "engine_paths": paths,
               "runner": {**runner_facts(recorder._runner, device), "overlap_decode": overlap,
                          "discarded_decode_rows": discarded}}
    del engine, recorder  # the recorder holds the runner, and so the weights and cache pool
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    if grammar is not None:
        counted["constrained"] = {"json_parsed": sum(_parses(r.text) for r in results),
                                  "stopped": sum(r.finish_reason == "stop" for r in results)}
    return {"wall_s": wall, "prefill_s": spent["prefill"], "decode_s": spent["decode"],
            "completion_tokens": [r.completion_tokens for r in results],
            "prefill_steps": steps["prefill"], "decode_steps": steps["decode"],
            "prompt_tokens": prompt_tokens, "output_tokens": output_tokens,
            "decode_tokens": output_tokens - len(results), "peak_memory_bytes": peak,
            **counted}


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
