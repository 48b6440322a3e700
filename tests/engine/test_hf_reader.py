"""The transformers backend on tiny random EXAONE 4.5 and ERNIE-4.5-VL checkpoints.

Parity: the backend's greedy tokens == transformers' own `generate(do_sample=False)` on the same
prompt (the checkpoint's generation_config samples, so the backend must override it). Constrained
output replays under a fresh matcher of the same grammar. Thinking is off in the prompt per family.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from raxdoc.engine import SamplingParams
from raxdoc.engine.hf_loading import load_hf_reader
from raxdoc.schemas.invoice import Invoice
from raxdoc.schemas.jsonschema import page_json_schema
from raxdoc.testing.hf_presets import FAMILIES, write_hf_checkpoint

NEW_TOKENS = 8


@pytest.fixture(scope="module", params=FAMILIES)
def reader(request, tmp_path_factory):
    path = write_hf_checkpoint(tmp_path_factory.mktemp(request.param), request.param)
    r = load_hf_reader(str(path), device="cpu")
    yield r
    r.close()


def _pages() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, size, dtype=np.uint8) for size in ((120, 90, 3), (64, 150, 3))]


def _oracle(reader, prompt: dict) -> list[int]:
    width = len(prompt["input_ids"])
    inputs = {"input_ids": torch.tensor([prompt["input_ids"]]), "attention_mask": torch.ones(1, width, dtype=torch.long),
              "pixel_values": prompt["pixel_values"], "image_grid_thw": prompt["image_grid_thw"]}
    for name in ("mm_token_type_ids", "moe_mm_token_type_ids"):
        if name in prompt:
            inputs[name] = torch.tensor([prompt[name]])
    with torch.inference_mode():
        out = reader.model.generate(**inputs, do_sample=False, max_new_tokens=NEW_TOKENS, temperature=None,
                                    top_p=None, top_k=None, eos_token_id=list(reader.eos_ids),
                                    pad_token_id=reader.pad_id)
    new = out[0, width:].tolist()
    ended = next((i for i, t in enumerate(new) if t in reader.eos_ids), None)
    return new if ended is None else new[: ended + 1]


def test_greedy_matches_transformers_generate(reader):
    prompts = [reader.prompter(text, [page]) for text, page in zip(("List the items.", "Read the total."), _pages())]
    results = reader.generate(prompts, SamplingParams(max_new_tokens=NEW_TOKENS))
    for prompt, res in zip(prompts, results):
        assert res.ok and res.prompt_tokens == len(prompt["input_ids"])
        assert list(res.token_ids) == _oracle(reader, prompt)
        assert res.completion_tokens == len(res.token_ids)


def test_constrained_output_replays_under_the_grammar(reader):
    grammar = reader.grammar(page_json_schema(Invoice))
    prompts = [reader.prompter("Extract the invoice as JSON.", [page]) for page in _pages()]
    for res in reader.generate(prompts, SamplingParams(max_new_tokens=96), grammar):
        assert res.ok and res.finish_reason == "eos", res
        matcher = grammar.matcher()
        assert all(matcher.accept(t) for t in res.token_ids), matcher.error()
        assert matcher.is_terminated()
        assert res.text.startswith("{") and res.text.endswith("}")


def test_prompt_expands_the_image_and_turns_thinking_off(reader):
    page = _pages()[0]
    prompt = reader.prompter("List the items.", [page])
    grid = prompt["image_grid_thw"][0]
    assert prompt["input_ids"].count(reader.prompter.image_token_id) == int(grid.prod()) // reader.prompter.merge_size ** 2
    assert reader.prompter.chat_text("x").endswith("<think>\n\n</think>\n\n")
    # The template's own default thinks: the family switch is what closes the block.
    thinking = reader.tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False,
                                                    add_generation_prompt=True)
    assert thinking.endswith("<think>\n")


def test_batches_group_similar_prompt_lengths(reader):
    params = SamplingParams(max_new_tokens=4)
    short = {"input_ids": [1] * 10}
    long = {"input_ids": [1] * 400}
    for p in (short, long, short, long):
        reader.add_request(p, params)
    first = reader.next_batch()
    assert [r.length for r in first] == [10, 10]
    assert [r.length for r in reader.next_batch()] == [400, 400]
    assert not reader.has_unfinished()
