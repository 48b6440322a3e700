"""The benchmark's baseline: transformers' `Qwen3_5ForConditionalGeneration.generate` on the same pages.

Batched as well as `generate` allows: fixed batches of `batch_size` pages, prompts left-padded with
the checkpoint's pad id and an attention mask, the batch's images concatenated in order, greedy,
exactly `new_tokens` forced (`min_new_tokens == max_new_tokens`, so EOS cannot end a row early).
A batch runs to its end before the next starts: that is what `generate` offers (no continuous
batching), and it is the point of the comparison. Prompts, pixel values and token counts are the
ones the engine got, built once by the benchmark.

transformers is imported lazily (a bench and test dependency, never a runtime one). On CPU, fla
is blocked first: its Triton import can fail without a GPU, and transformers then takes its own
torch path for the Gated DeltaNet. On CUDA fla is used when installed. Not here: the engine run,
FLOPs, reporting (engine_run.py).
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class BaselineRun:
    pages: int
    batch_size: int
    wall_s: float  # all batches, generate() calls only (inputs were built before)
    prompt_tokens: int  # real (unpadded) prompt tokens over all pages
    output_tokens: int  # generated tokens over all pages
    peak_memory_bytes: int | None  # CUDA max_memory_allocated during the run; None on CPU


def _load(path: str, dtype: torch.dtype, device: torch.device) -> Any:
    if device.type != "cuda":
        sys.modules.setdefault("fla", None)
    from transformers import Qwen3_5ForConditionalGeneration

    model = Qwen3_5ForConditionalGeneration.from_pretrained(path, dtype=dtype)
    return model.to(device).eval()


def _batch(prompts: list[dict], pad_id: int, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """Left-padded ids + mask; pixel rows concatenated in prompt order, as transformers expects."""
    width = max(len(p["input_ids"]) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, p in enumerate(prompts):
        n = len(p["input_ids"])
        ids[row, width - n:] = torch.tensor(p["input_ids"])
        mask[row, width - n:] = 1
    out: dict[str, Any] = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
    images = [p for p in prompts if p.get("pixel_values") is not None]
    if images:
        out["pixel_values"] = torch.cat([p["pixel_values"] for p in images]).to(device, dtype)
        out["image_grid_thw"] = torch.cat([p["image_grid_thw"] for p in images]).to(device)
    return out


def run_baseline(path: str, prompts: list[dict], new_tokens: int, *, batch_size: int, pad_id: int,
                 dtype: torch.dtype, device: torch.device, warmup: bool = True) -> BaselineRun:
    """Generate `new_tokens` for every prompt with transformers; the model is freed on return."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model = _load(path, dtype, device)
    cuda = device.type == "cuda"
    gen = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False,
           "pad_token_id": pad_id, "use_cache": True}
    batches = [prompts[i:i + batch_size] for i in range(0, len(prompts), batch_size)]
    try:
        with torch.inference_mode():
            if warmup:  # kernels, autotuning, allocator: one short call on one page
                model.generate(**_batch(prompts[:1], pad_id, device, dtype),
                               **{**gen, "max_new_tokens": 2, "min_new_tokens": 2})
            inputs = [_batch(b, pad_id, device, dtype) for b in batches]
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            output_tokens = 0
            start = time.perf_counter()
            for batch in inputs:
                out = model.generate(**batch, **gen)  # (B, width + new_tokens)
                output_tokens += (out.shape[1] - batch["input_ids"].shape[1]) * out.shape[0]
            if cuda:
                torch.cuda.synchronize()
            wall = time.perf_counter() - start
            peak = torch.cuda.max_memory_allocated() if cuda else None
    finally:
        del model
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    return BaselineRun(pages=len(prompts), batch_size=batch_size, wall_s=wall,
                       prompt_tokens=sum(len(p["input_ids"]) for p in prompts),
                       output_tokens=output_tokens, peak_memory_bytes=peak)
