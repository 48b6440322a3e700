"""Engine (SlotRunner) greedy output == transformers' `generate(do_sample=False)` run alone, token for token.

The oracle is transformers' own `Qwen3_5ForConditionalGeneration` loaded from the same tiny random
checkpoint, one request at a time, with its own cache. The engine gets every request at once through
fewer slots than requests (so slots are reused), images of different grids packed into one ViT call,
prompts of different lengths packed into one varlen prefill, and a text-only request among them.

Ties: greedy is only well defined when the top two logits are apart. Every step's margin is checked
against the oracle's scores; the prompts below (fixed seeds) keep it above 1e-3 while the engine and
transformers differ by < 1e-6 (measured ~2e-7) in float32, so the equality is not luck.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from raxdoc.engine import Engine, SamplingParams

NEW_TOKENS = 8
# Smallest top-1 / top-2 logit gap in the oracle's steps that makes exact equality meaningful.
MIN_MARGIN = 1e-3


@pytest.fixture(scope="module")
def hf_model(tiny_checkpoint):
    sys.modules.setdefault("fla", None)  # transformers must bind to its torch fallbacks on CPU
    from transformers import Qwen3_5ForConditionalGeneration

    return Qwen3_5ForConditionalGeneration.from_pretrained(tiny_checkpoint, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def engine(tiny_checkpoint):
    eng = Engine.from_pretrained(str(tiny_checkpoint), device="cpu", max_num_seqs=2, max_model_len=512,
                                 prefill_token_budget=512)
    yield eng
    eng.close()


def _requests(processor) -> list[dict]:
    """Two odd-sized pages (different grids), one small page, three text-only prompts of different lengths."""
    rng = np.random.default_rng(7)
    specs = [("List the line items.", (100, 70)), ("Say hello.", None),
             ("Extract the invoice number, the date and every line item with its amount.", (64, 130)),
             ("Hi", None), ("Read this page carefully and answer in JSON.", (33, 47)),
             ("Translate 'Rechnung' into English, then explain what an invoice total is.", None)]
    out = []
    for text, size in specs:
        pages = [] if size is None else [rng.integers(0, 256, (*size, 3), dtype=np.uint8)]
        inputs = processor(text, pages)
        out.append({"input_ids": inputs.input_ids.tolist(),
                    "pixel_values": inputs.pixel_values if pages else None,
                    "image_grid_thw": inputs.image_grid_thw if pages else None})
    return out


@torch.inference_mode()
def _hf_generate(hf, prompt: dict) -> tuple[list[int], float]:
    """transformers alone: (new token ids, smallest top-1/top-2 margin over the steps)."""
    ids = torch.tensor([prompt["input_ids"]])
    kw = {}
    if prompt["pixel_values"] is not None:
        kw = dict(pixel_values=prompt["pixel_values"], image_grid_thw=prompt["image_grid_thw"],
                  mm_token_type_ids=(ids == hf.config.image_token_id).int())
    out = hf.generate(ids, do_sample=False, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                      eos_token_id=None, pad_token_id=0, output_scores=True, return_dict_in_generate=True, **kw)
    margin = min(float(s[0].topk(2).values[0] - s[0].topk(2).values[1]) for s in out.scores)
    return out.sequences[0, ids.shape[1]:].tolist(), margin


def test_batched_engine_equals_transformers_generate_alone(engine, hf_model):
    prompts = _requests(engine.processor)
    grids = {tuple(p["image_grid_thw"][0].tolist()) for p in prompts if p["image_grid_thw"] is not None}
    assert len(grids) == 3 and len({len(p["input_ids"]) for p in prompts}) == len(prompts)
    assert engine.runner.num_slots == 2 < len(prompts)
    results = engine.generate(prompts, SamplingParams(max_new_tokens=NEW_TOKENS, ignore_eos=True))
    for i, (prompt, result) in enumerate(zip(prompts, results)):
        expected, margin = _hf_generate(hf_model, prompt)
        assert margin > MIN_MARGIN, f"request {i}: greedy tie (margin {margin:.2e}); pick another prompt"
        assert list(result.token_ids) == expected, f"request {i}"


def test_batch_of_one_equals_transformers_generate(engine, hf_model):
    prompt = _requests(engine.processor)[2]
    result = engine.generate([prompt], SamplingParams(max_new_tokens=NEW_TOKENS, ignore_eos=True))[0]
    expected, _ = _hf_generate(hf_model, prompt)
    assert list(result.token_ids) == expected
