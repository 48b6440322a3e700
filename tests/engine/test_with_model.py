"""The engine on the real model code (tiny random checkpoint): prompt and vision contract, parity, grammar.

Uses `ReferenceRunner` (uncached forward per step), so this checks the engine <-> model
interface, not speed. The model's own cached `forward_step` is the one-request reference.
"""

import numpy as np
import pytest
import torch
from tests.engine.conftest import InvoiceLike

from raxdoc.engine import Engine, EngineConfig, ReferenceRunner, SamplingParams


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    from raxdoc.model import RaxForConditionalGeneration, RaxProcessor

    path = tiny_checkpoint
    model = RaxForConditionalGeneration.from_pretrained(path).eval()
    model.path = path
    return model, RaxProcessor.from_pretrained(path)


def _prompts(proc, sizes):
    rng = np.random.default_rng(0)
    out = []
    for i, size in enumerate(sizes):
        if size is None:
            inputs = proc("Say hello.")
            out.append({"input_ids": inputs.input_ids.tolist(), "pixel_values": None, "image_grid_thw": None})
            continue
        inputs = proc("List the line items.", [rng.integers(0, 256, (*size, 3), dtype=np.uint8)])
        out.append({"input_ids": inputs.input_ids.tolist(), "pixel_values": inputs.pixel_values,
                    "image_grid_thw": inputs.image_grid_thw})
    return out


@torch.inference_mode()
def _cached_greedy(model, prompt, n):
    cache = model.new_cache()
    ids = torch.tensor([prompt["input_ids"]])
    logits = model.forward_step(ids, cache, pixel_values=prompt["pixel_values"],
                                image_grid_thw=prompt["image_grid_thw"])
    out = []
    for _ in range(n):
        t = int(logits[0, -1].argmax())
        out.append(t)
        logits = model.forward_step(torch.tensor([[t]]), cache)
    return out


def test_engine_greedy_matches_model_cached_decode_with_images(tiny):
    model, proc = tiny
    vocab = model.config.text.vocab_size
    prompts = _prompts(proc, [(100, 70), None, (64, 130)])
    seen = {}

    class Recording(ReferenceRunner):
        def prefill(self, seqs):
            seen.update({s.seq_id: s.num_vit_tokens for s in seqs})
            return super().prefill(seqs)

    engine = Engine(Recording(model, vocab, num_slots=2), proc.tokenizer,
                    EngineConfig(max_num_seqs=2, max_model_len=512, prefill_token_budget=512))
    assert engine.image_token_id == model.config.image_token_id  # read from the tokenizer, agrees with config
    results = engine.generate(prompts, SamplingParams(max_new_tokens=6, ignore_eos=True))
    for p, r in zip(prompts, results):
        assert list(r.token_ids) == _cached_greedy(model, p, 6)
    # ViT accounting: placeholders x merge**2 == patches the processor made.
    assert seen[0] == prompts[0]["pixel_values"].shape[0] and seen[1] == 0
    assert seen[2] == prompts[2]["pixel_values"].shape[0]


def test_engine_grammar_on_model_logits_never_errors(tiny):
    model, proc = tiny
    engine = Engine(ReferenceRunner(model, model.config.text.vocab_size, num_slots=2), proc.tokenizer,
                    EngineConfig(max_num_seqs=2, max_model_len=512, prefill_token_budget=512))
    # Text-only prompts: the reference runner would re-run the ViT at every step.
    results = engine.generate(_prompts(proc, [None, None]),
                              SamplingParams(max_new_tokens=24, temperature=1.0, seed=1), grammar=InvoiceLike)
    for r in results:
        assert r.finish_reason in ("stop", "length") and r.text.startswith("{")
        if r.finish_reason == "stop":
            InvoiceLike.model_validate_json(r.text)


def test_slot_runner_matches_reference_runner_with_slot_reuse(tiny):
    from raxdoc.engine.slot_runner import SlotRunner

    model, proc = tiny
    vocab = model.config.text.vocab_size
    prompts = _prompts(proc, [(100, 70), None, (64, 130), None, (48, 48)])  # 5 prompts, 2 slots
    params = [SamplingParams(max_new_tokens=n, ignore_eos=True) for n in (7, 3, 5, 9, 4)]
    cfg = EngineConfig(max_num_seqs=2, max_model_len=512, prefill_token_budget=512)
    ref = Engine(ReferenceRunner(model, vocab, num_slots=2), proc.tokenizer, cfg).generate(prompts, params)
    runner = SlotRunner(model, num_slots=2, max_model_len=512)
    fast = Engine(runner, proc.tokenizer, cfg).generate(prompts, params)
    for r, f in zip(ref, fast):
        assert f.token_ids == r.token_ids


def test_from_pretrained_builds_a_working_engine(tiny):
    model, proc = tiny
    engine = Engine.from_pretrained(str(model.path), device="cpu", max_num_seqs=3, max_model_len=256,
                                    prefill_token_budget=256)
    assert engine.runner.num_slots == 3 and engine.processor is not None
    inputs = engine.processor("Say hello.")
    r = engine.generate([{"input_ids": inputs.input_ids.tolist()}], SamplingParams(max_new_tokens=5, ignore_eos=True))[0]
    prompt = {"input_ids": inputs.input_ids.tolist(), "pixel_values": None, "image_grid_thw": None}
    assert list(r.token_ids) == _cached_greedy(model, prompt, 5)
    # A memory budget caps the slots (tiny model: a slot is a few KiB).
    per_slot = engine.runner.pool.nbytes // (engine.runner.num_slots + 1)  # the pool has a spare slot
    small = Engine.from_pretrained(str(model.path), device="cpu", free_bytes=per_slot * 7 // 2,  # 2 slots + spare + 1/2
                                   max_num_seqs=3, max_model_len=256, prefill_token_budget=256)
    assert small.runner.num_slots == 2


def test_from_pretrained_reads_the_checkpoint_merge_size(tmp_path):
    """Patches per placeholder are merge**2 of *this* checkpoint: the ViT budget and the per-prompt
    image check count with it, so a merge-1 vision tower must not be counted as 2x2."""
    import numpy as np

    from raxdoc.testing.presets import write_random_checkpoint

    path = write_random_checkpoint(tmp_path / "merge1", "tiny", overrides={"vision_config": {"spatial_merge_size": 1}})
    engine = Engine.from_pretrained(str(path), device="cpu", max_num_seqs=2, max_model_len=512,
                                    prefill_token_budget=512)
    assert engine.config.spatial_merge_size == 1
    page = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    inputs = engine.processor("Lines?", [page])
    prompt = {"input_ids": inputs.input_ids.tolist(), "pixel_values": inputs.pixel_values,
              "image_grid_thw": inputs.image_grid_thw}
    [r] = engine.generate([prompt], SamplingParams(max_new_tokens=3, ignore_eos=True))
    assert r.finish_reason == "length", r.error


def test_slot_runner_engine_frees_pixels_after_prefill_reference_keeps_them(tiny):
    """Host pixels (float32, ~31 MB a page at h100 sizes) are dropped once the prefill put the image
    into the cache; the reference runner re-encodes the image every step, so it keeps them."""
    from raxdoc.engine.slot_runner import SlotRunner

    model, proc = tiny
    cfg = EngineConfig(max_num_seqs=2, max_model_len=512, prefill_token_budget=512)
    for runner, kept in ((SlotRunner(model, num_slots=2, max_model_len=512), False),
                         (ReferenceRunner(model, model.config.text.vocab_size, num_slots=2), True)):
        engine = Engine(runner, proc.tokenizer, cfg)
        engine.add_request(_prompts(proc, [(64, 48)])[0], SamplingParams(max_new_tokens=3, ignore_eos=True))
        engine.step()  # the prefill
        (seq,) = engine._scheduler.running
        assert (seq.vision is not None) == kept
        while engine.has_unfinished():
            results = engine.step()
        assert results[0].completion_tokens == 3
