"""The slot runner's decode logits == the model's own single-request cached decode, step by step.

Token ids alone are a weak check on a tiny random model: its greedy choices barely depend on the
Gated DeltaNet state, so a decode step that never wrote the recurrent state back still produced the
same tokens. Here every decode step's logits row is compared in float32 with the model's
`forward_step` fed the same tokens (teacher forcing), through fewer slots than requests (slot
reuse) and padded batches (spare slot), so a state read from or written to the wrong slot, or not
written at all, shows.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from raxdoc.engine import Engine, EngineConfig, SamplingParams
from raxdoc.engine.slot_runner import SlotRunner

NEW_TOKENS = 6


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    from raxdoc.model import RaxForConditionalGeneration, RaxProcessor

    return RaxForConditionalGeneration.from_pretrained(tiny_checkpoint).eval(), RaxProcessor.from_pretrained(
        tiny_checkpoint)


def _prompts(proc) -> list[dict]:
    rng = np.random.default_rng(3)
    out = []
    for text, size in [("List the line items.", (100, 70)), ("Say hello.", None), ("Total?", (40, 90)),
                       ("Extract every amount on the page, in order.", None)]:
        pages = [] if size is None else [rng.integers(0, 256, (*size, 3), dtype=np.uint8)]
        inputs = proc(text, pages)
        out.append({"input_ids": inputs.input_ids.tolist(), "pixel_values": inputs.pixel_values if pages else None,
                    "image_grid_thw": inputs.image_grid_thw if pages else None})
    return out


class RecordingRunner(SlotRunner):
    """Keeps every decode step's logits row per sequence, in step order."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rows: dict[int, list[torch.Tensor]] = {}

    def decode(self, seqs, **kwargs):
        logits = super().decode(seqs, **kwargs)
        for s, row in zip(seqs, logits):
            self.rows.setdefault(s.seq_id, []).append(row.clone())
        return logits


@torch.inference_mode()
def _teacher_forced_logits(model, prompt: dict, tokens: list[int]) -> list[torch.Tensor]:
    """Logits after each generated token but the last: what the engine's decode steps saw."""
    cache = model.new_cache()
    model.forward_step(torch.tensor([prompt["input_ids"]]), cache, pixel_values=prompt["pixel_values"],
                       image_grid_thw=prompt["image_grid_thw"])
    return [model.forward_step(torch.tensor([[t]]), cache)[0, -1] for t in tokens[:-1]]


@pytest.mark.parametrize("pad_batches, attention, overlap", [
    (False, "gather", False), (True, "gather", False), (True, "triton_slots", False), (True, "gather", True)],
    ids=["exact", "padded", "padded_triton", "padded_overlapped"])
def test_decode_logits_equal_single_request_cached_decode(tiny, pad_batches, attention, overlap):
    if attention == "triton_slots":
        pytest.importorskip("triton")  # on CPU under the interpreter (tests/conftest.py)
    model, proc = tiny
    prompts = _prompts(proc)
    runner = RecordingRunner(model, num_slots=2, max_model_len=512, pad_batches=pad_batches,
                             decode_attention=attention)
    assert runner.attention.name == attention
    engine = Engine(runner, proc.tokenizer, EngineConfig(max_num_seqs=2, max_model_len=512, prefill_token_budget=512,
                                                         overlap_decode=overlap))
    assert engine.overlap == overlap
    results = engine.generate(prompts, SamplingParams(max_new_tokens=NEW_TOKENS, ignore_eos=True))
    assert len(runner.rows) == len(prompts)
    for i, (prompt, result) in enumerate(zip(prompts, results)):
        expected = _teacher_forced_logits(model, prompt, list(result.token_ids))
        got = runner.rows[i]
        # Overlapped, a sequence's row is computed once more after its last token (then dropped).
        assert len(got) == NEW_TOKENS - 1 + (overlap and len(got) == NEW_TOKENS)
        for step, (g, e) in enumerate(zip(got, expected)):
            torch.testing.assert_close(g, e, atol=1e-4, rtol=1e-4, msg=lambda m: f"request {i} step {step}: {m}")
