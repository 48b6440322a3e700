import pytest
import torch
from conftest import InvoiceLike, MockRunner, chain_next, naive_generate, one_hot_logits, random_logits

from raxdoc.engine import Engine, EngineConfig, ModelRunner, SamplingParams


def _engine(tokenizer, slots=3, logits_fn=None, **cfg):
    runner = MockRunner(slots, logits_fn or one_hot_logits(chain_next), fail_on_call=cfg.pop("fail_on_call", None))
    config = EngineConfig(**{"max_num_seqs": slots, "max_model_len": 256, "max_prefill_tokens": 64,
                             "max_vision_tokens": 64, **cfg})
    return Engine(runner, tokenizer, config), runner


def _prompts(lengths, start=40):
    return [{"input_ids": list(range(start + i, start + i + n)), "pixel_values": None, "image_grid_thw": None}
            for i, n in enumerate(lengths)]


def test_mock_runner_satisfies_protocol(tokenizer):
    _, runner = _engine(tokenizer)
    assert isinstance(runner, ModelRunner)


def test_batched_greedy_equals_one_at_a_time_in_prompt_order(tokenizer):
    engine, runner = _engine(tokenizer, slots=3)
    prompts = _prompts([5, 1, 9, 3, 7, 2, 4])  # more requests than slots, awkward lengths
    max_new = [6, 1, 11, 4, 3, 8, 5]
    results = engine.generate(prompts, [SamplingParams(max_new_tokens=m, ignore_eos=True) for m in max_new])
    assert len(results) == 7
    for p, m, r in zip(prompts, max_new, results):
        assert list(r.token_ids) == naive_generate(p["input_ids"], chain_next, m)
        assert r.finish_reason == "length" and r.completion_tokens == m
        assert r.prompt_tokens == len(p["input_ids"]) and r.ttft is not None and r.ttft >= 0
    assert max(len(ids) for kind, ids in runner.calls if kind == "decode") <= 3
    # Slots were reused: more sequences were prefilled than there are slots.
    assert sum(len(ids) for kind, ids in runner.calls if kind == "prefill") == 7


def test_prefill_budget_splits_admission(tokenizer):
    engine, runner = _engine(tokenizer, slots=4, max_prefill_tokens=10)
    engine.generate(_prompts([6, 4, 3, 7]), SamplingParams(max_new_tokens=2, ignore_eos=True))
    prefills = [ids for kind, ids in runner.calls if kind == "prefill"]
    assert prefills[0] == [0, 1] and [2, 3] in prefills


def test_vision_tokens_counted_against_budget(tokenizer):
    pad = tokenizer.token_to_id("<|image_pad|>")
    engine, runner = _engine(tokenizer, slots=4, max_vision_tokens=5)
    prompts = [{"input_ids": [50] + [pad] * 4 + [51], "pixel_values": torch.zeros(1), "image_grid_thw": None},
               {"input_ids": [52] + [pad] * 3, "pixel_values": torch.zeros(1), "image_grid_thw": None}]
    results = engine.generate(prompts, SamplingParams(max_new_tokens=1))
    assert all(r.ok for r in results)
    assert [ids for kind, ids in runner.calls if kind == "prefill"] == [[0], [1]]


def test_eos_stop_string_and_ignore_eos(tokenizer):
    im_end = tokenizer.token_to_id("<|im_end|>")
    # Model: emits 3 fixed tokens spelling text, then <|im_end|>, then more text.
    script = tokenizer.encode("total END").ids

    def next_fn(h):
        n = len(h) - 1  # prompt is one token
        return script[n] if n < len(script) else (im_end if n == len(script) else 60)

    engine, _ = _engine(tokenizer, logits_fn=one_hot_logits(next_fn))
    p = _prompts([1])
    eos, stop, ign = engine.generate(p * 3, [SamplingParams(max_new_tokens=20),
                                            SamplingParams(max_new_tokens=20, stop=("END",)),
                                            SamplingParams(max_new_tokens=len(script) + 3, ignore_eos=True)])
    assert eos.finish_reason == "eos" and eos.token_ids[-1] == im_end and eos.text == "total END"
    assert stop.finish_reason == "stop" and stop.text == "total "
    assert ign.finish_reason == "length" and im_end in ign.token_ids and len(ign.token_ids) == len(script) + 3


def test_too_long_prompt_is_error_result_others_complete(tokenizer):
    engine, _ = _engine(tokenizer, max_model_len=16, max_prefill_tokens=64)
    results = engine.generate(_prompts([4, 16, 3]), SamplingParams(max_new_tokens=50, ignore_eos=True))
    assert [r.finish_reason for r in results] == ["length", "error", "length"]
    assert results[1].error_type == "PromptTooLongError" and results[1].token_ids == ()
    assert results[0].prompt_tokens + results[0].completion_tokens == 16  # stopped at max_model_len


def test_runner_failure_becomes_error_results_not_a_hang(tokenizer):
    engine, _ = _engine(tokenizer, slots=2, fail_on_call=2)
    results = engine.generate(_prompts([3, 3, 3]), SamplingParams(max_new_tokens=3, ignore_eos=True))
    assert [r.finish_reason for r in results] == ["error", "error", "length"]
    assert results[0].error_type == "RuntimeError" and "decode" in results[0].error


def test_bad_prompt_raises_type_error(tokenizer):
    engine, _ = _engine(tokenizer)
    with pytest.raises(TypeError):
        engine.generate([{"input_ids": []}], SamplingParams(max_new_tokens=1))


def test_grammar_random_logits_always_validate(tokenizer):
    engine, _ = _engine(tokenizer, slots=3, logits_fn=random_logits(seed=11), max_model_len=4096,
                        max_prefill_tokens=256)
    prompts = _prompts([3, 5, 2, 4, 6])
    params = [SamplingParams(max_new_tokens=3000, temperature=1.0, seed=i) for i in range(4)]
    params.append(SamplingParams(max_new_tokens=3000))  # greedy under the mask
    with engine:
        results = engine.generate(prompts, params, grammar=InvoiceLike)
    for r in results:
        assert r.finish_reason == "stop", (r.finish_reason, r.text[:200])
        InvoiceLike.model_validate_json(r.text)


def test_grammar_and_free_text_mixed_in_one_batch(tokenizer):
    engine, _ = _engine(tokenizer, slots=2, logits_fn=random_logits(seed=5), max_model_len=4096,
                        max_prefill_tokens=256)
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 99, "minimum": 0}},
              "required": ["n"]}
    results = engine.generate(_prompts([2, 2, 2]), SamplingParams(max_new_tokens=40, temperature=0.8, seed=1),
                              grammar=[schema, None, schema])
    import json
    for r in (results[0], results[2]):
        assert 0 <= json.loads(r.text)["n"] <= 99
    assert results[1].finish_reason in ("length", "eos") and results[1].completion_tokens >= 1


def test_grammar_cache_keyed_by_schema_content(tokenizer):
    engine, _ = _engine(tokenizer)
    a = engine.grammar({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})
    b = engine.grammar({"required": ["a"], "properties": {"a": {"type": "integer"}}, "type": "object"})
    c = engine.grammar({"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"]})
    assert a is b and a is not c
    assert engine.grammar(InvoiceLike) is engine.grammar(InvoiceLike.model_json_schema())
