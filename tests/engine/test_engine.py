import pytest
import torch
from tests.engine.conftest import InvoiceLike, MockRunner, chain_next, naive_generate, one_hot_logits, random_logits

from raxdoc.engine import Engine, EngineConfig, ModelRunner, SamplingParams


@pytest.fixture(autouse=True, params=["off", "on"], ids=["serial", "overlapped"])
def overlap_mode(request, monkeypatch):
    """Every engine test twice: serial decode and overlapped decode (the mock runner supports it)."""
    monkeypatch.setenv("RAXDOC_OVERLAP_DECODE", request.param)
    return request.param == "on"


def _engine(tokenizer, slots=3, logits_fn=None, **cfg):
    runner = MockRunner(slots, logits_fn or one_hot_logits(chain_next), fail_on_call=cfg.pop("fail_on_call", None))
    config = EngineConfig(**{"max_num_seqs": slots, "max_model_len": 256, "prefill_token_budget": 64,
                             "vit_token_budget": 64, **cfg})
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
    engine, runner = _engine(tokenizer, slots=4, prefill_token_budget=10)
    engine.generate(_prompts([6, 4, 3, 7]), SamplingParams(max_new_tokens=2, ignore_eos=True))
    prefills = [ids for kind, ids in runner.calls if kind == "prefill"]
    assert prefills[0] == [0, 1] and [2, 3] in prefills


def test_vit_patches_counted_against_budget(tokenizer):
    pad = tokenizer.token_to_id("<|image_pad|>")
    # 4 and 3 placeholders = 16 and 12 patches after the 2x2 merge; 20 fit one at a time, 8 never.
    engine, runner = _engine(tokenizer, slots=4, vit_token_budget=20)
    prompts = [{"input_ids": [50] + [pad] * 4 + [51], "pixel_values": torch.zeros(1),
                "image_grid_thw": torch.tensor([[1, 4, 4]])},
               {"input_ids": [52] + [pad] * 3, "pixel_values": torch.zeros(1), "image_grid_thw": [[1, 2, 6]]},
               {"input_ids": [53] + [pad] * 6, "pixel_values": torch.zeros(1), "image_grid_thw": [[1, 4, 6]]}]
    results = engine.generate(prompts, SamplingParams(max_new_tokens=1))
    assert [r.finish_reason for r in results[:2]] == ["length", "length"]
    assert results[2].error_type == "PromptTooLongError" and "ViT" in results[2].error
    assert [ids for kind, ids in runner.calls if kind == "prefill"] == [[0], [1]]


def test_config_from_profile():
    from raxdoc.profiles import resolve_profile

    prof = resolve_profile("l4")
    cfg = EngineConfig.from_profile(prof, max_num_seqs=3)
    assert cfg.max_num_seqs == 3 and cfg.max_model_len == prof.max_model_len
    assert cfg.prefill_token_budget == prof.prefill_token_budget and cfg.vit_token_budget == prof.vit_token_budget


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
    engine, _ = _engine(tokenizer, max_model_len=16, prefill_token_budget=64)
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
                        prefill_token_budget=256)
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
                        prefill_token_budget=256)
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 99, "minimum": 0}},
              "required": ["n"]}
    results = engine.generate(_prompts([2, 2, 2]), SamplingParams(max_new_tokens=40, temperature=0.8, seed=1),
                              grammar=[schema, None, schema])
    import json

    jsonschema = pytest.importorskip("jsonschema")
    for r in (results[0], results[2]):
        assert r.finish_reason == "stop"
        jsonschema.validate(json.loads(r.text), schema)
    assert results[1].finish_reason in ("length", "eos") and results[1].completion_tokens >= 1


def test_grammar_cache_keyed_by_schema_content(tokenizer):
    engine, _ = _engine(tokenizer)
    a = engine.grammar({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})
    b = engine.grammar({"required": ["a"], "properties": {"a": {"type": "integer"}}, "type": "object"})
    c = engine.grammar({"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"]})
    assert a is b and a is not c
    assert engine.grammar(InvoiceLike) is engine.grammar(InvoiceLike.model_json_schema())


def test_rax_tokenizer_ids_read_not_hard_coded_and_grammar_holds():
    from raxdoc.testing.tokenizer import build_tokenizer, special_token_ids

    vocab = 1024
    tok = build_tokenizer(vocab)
    ids = special_token_ids(vocab)
    runner = MockRunner(2, random_logits(seed=3, vocab=vocab), vocab_size=vocab)
    engine = Engine(runner, tok, EngineConfig(max_num_seqs=2, max_model_len=4096, prefill_token_budget=64))
    assert set(engine.eos_ids) == {ids["<|im_end|>"], ids["<|endoftext|>"]}
    assert engine.image_token_id == ids["<|image_pad|>"]
    prompts = _prompts([3, 4, 5])
    results = engine.generate(prompts, SamplingParams(max_new_tokens=3000, temperature=1.0, seed=9),
                              grammar=InvoiceLike)
    for r in results:
        assert r.finish_reason == "stop"
        InvoiceLike.model_validate_json(r.text)
        assert all(t < ids["<|endoftext|>"] for t in r.token_ids)  # no specials inside the JSON


def test_seeded_request_same_tokens_alone_or_batched(tokenizer):
    p = SamplingParams(max_new_tokens=12, temperature=1.0, seed=123, ignore_eos=True)
    other = SamplingParams(max_new_tokens=5, temperature=1.5, ignore_eos=True)
    alone, _ = _engine(tokenizer, slots=1, logits_fn=random_logits(seed=2))
    batched, _ = _engine(tokenizer, slots=3, logits_fn=random_logits(seed=2))
    prompts = _prompts([4, 2, 6])
    solo = alone.generate(prompts[:1], p)[0]
    mixed = batched.generate([prompts[1], prompts[0], prompts[2]], [other, p, other])[1]
    assert solo.token_ids == mixed.token_ids and len(solo.token_ids) == 12


@pytest.mark.parametrize("seed", range(6))
def test_random_workloads_complete_with_consistent_slots(tokenizer, seed):
    import random

    rng = random.Random(seed)
    slots = rng.randint(1, 4)
    budget = rng.randint(8, 24)
    engine, runner = _engine(tokenizer, slots=slots, prefill_token_budget=budget, max_model_len=rng.randint(12, 40))
    lengths = [rng.randint(1, 30) for _ in range(rng.randint(1, 12))]
    params = [SamplingParams(max_new_tokens=rng.randint(1, 9), ignore_eos=True) for _ in lengths]
    results = engine.generate(_prompts(lengths), params)
    cfg = engine.scheduler_config
    for n, p, r in zip(lengths, params, results):
        if n >= cfg.max_model_len or n > budget:
            assert r.error_type == "PromptTooLongError"
        else:
            assert r.finish_reason == "length"
            assert r.completion_tokens == min(p.max_new_tokens, cfg.max_model_len - n)
    # The mock asserted slot ownership on every call; the decode batch never exceeded the slots.
    assert all(len(ids) <= slots for _, ids in runner.calls)


@pytest.mark.parametrize("kwargs", [{"max_num_seqs": 0}, {"prefill_token_budget": -1}, {"max_model_len": 2.5},
                                    {"spatial_merge_size": 0}, {"grammar_threads": 0}])
def test_engine_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        EngineConfig(**kwargs)


def test_grammar_masks_are_filled_while_the_runner_computes(tokenizer):
    """Fill and forward must be in flight at once: each waits for the other to have started."""
    import threading

    from raxdoc.engine import Grammar

    runner_started, fill_started = threading.Event(), threading.Event()

    class HandshakeMatcher:
        ll_matcher = property(lambda self: self)

        def unsafe_compute_mask_ptr(self, ptr, nbytes):
            assert runner_started.wait(5), "mask fill ran before the forward started"
            fill_started.set()

        def accept(self, token):
            return True

        def is_terminated(self):
            return False

    class HandshakeGrammar(Grammar):
        def __init__(self):
            pass

        def matcher(self):
            return HandshakeMatcher()

    class HandshakeRunner(MockRunner):
        def _handshake(self):
            runner_started.set()
            assert fill_started.wait(5), "forward finished before the mask fill started"
            runner_started.clear()
            fill_started.clear()

        def prefill(self, seqs):
            self._handshake()
            return super().prefill(seqs)

        def decode(self, seqs, next_tokens=None):
            self._handshake()
            return super().decode(seqs, next_tokens)

    # One slot: one matcher per fill, so each fill pairs with exactly one forward. Serial decode:
    # overlapped, the fill follows the (asynchronous on a GPU) forward's launch; test_overlap.py.
    runner = HandshakeRunner(1, one_hot_logits(chain_next))
    engine = Engine(runner, tokenizer, EngineConfig(max_num_seqs=1, max_model_len=64, prefill_token_budget=64,
                                                    grammar_threads=1, overlap_decode=False))
    with engine:
        results = engine.generate(_prompts([3, 4, 2]), SamplingParams(max_new_tokens=4, ignore_eos=True),
                                  grammar=HandshakeGrammar())
    assert [r.completion_tokens for r in results] == [4, 4, 4]
    assert [list(r.token_ids) for r in results] == [naive_generate(p["input_ids"], chain_next, 4)
                                                    for p in _prompts([3, 4, 2])]


def test_streaming_requests_keep_slots_full_across_batches(tokenizer):
    engine, runner = _engine(tokenizer, slots=2)
    short = SamplingParams(max_new_tokens=2, ignore_eos=True)
    long = SamplingParams(max_new_tokens=8, ignore_eos=True)
    first = [engine.add_request(p, sp) for p, sp in zip(_prompts([3, 4]), [short, long])]
    results = {}
    late = None
    while engine.has_unfinished():
        for r in engine.step():
            results[r.request_id] = r
        if first[0] in results and late is None:
            # The short one finished: a new request takes its slot while the long one still decodes.
            late = engine.add_request(_prompts([5])[0], short)
    assert set(results) == {*first, late} and late == 2
    assert [r.completion_tokens for r in (results[0], results[1], results[2])] == [2, 8, 2]
    prefills = [ids for kind, ids in runner.calls if kind == "prefill"]
    assert prefills == [[0, 1], [2]]
    late_at = runner.calls.index(("prefill", [2]))
    assert ("decode", [1, 2]) in runner.calls[late_at:]  # old and new decode together


def test_generate_keeps_results_of_other_requests_for_step(tokenizer):
    engine, _ = _engine(tokenizer, slots=2)
    rid = engine.add_request(_prompts([2])[0], SamplingParams(max_new_tokens=2, ignore_eos=True))
    out = engine.generate(_prompts([3, 3]), SamplingParams(max_new_tokens=5, ignore_eos=True))
    assert [r.request_id for r in out] == [1, 2] and all(r.completion_tokens == 5 for r in out)
    assert engine.has_unfinished()
    assert [r.request_id for r in engine.step()] == [rid] and not engine.has_unfinished()


def test_bad_prompt_in_generate_queues_nothing(tokenizer):
    engine, _ = _engine(tokenizer)
    with pytest.raises(TypeError):
        engine.generate([{"input_ids": [5, 6]}, {"input_ids": "abc"}], SamplingParams(max_new_tokens=1))
    assert not engine.has_unfinished()


def test_a_bug_in_the_runner_raises_but_leaves_no_sequence_on_a_slot(tokenizer):
    """A non-device error (a bug: ValueError, TypeError) propagates, but the batch's slots are freed
    and the call's other requests dropped: nothing decodes later on a slot it never prefilled."""

    class Buggy(MockRunner):
        def prefill(self, seqs):
            if not self.calls:
                self.calls.append(("prefill", [s.seq_id for s in seqs]))
                raise ValueError("image grid does not match the placeholders")
            return super().prefill(seqs)

    runner = Buggy(2, one_hot_logits(chain_next))
    engine = Engine(runner, tokenizer, EngineConfig(max_num_seqs=2, max_model_len=64, prefill_token_budget=64))
    params = SamplingParams(max_new_tokens=3, ignore_eos=True)
    with pytest.raises(ValueError, match="grid"):
        engine.generate(_prompts([3, 4, 5]), params)  # two in the failed prefill, one still waiting
    assert not engine.has_unfinished() and engine._scheduler.slots.num_free == 2
    prompts = _prompts([2, 6], start=70)
    results = engine.generate(prompts, params)
    assert [list(r.token_ids) for r in results] == [naive_generate(p["input_ids"], chain_next, 3) for p in prompts]
    assert [r.request_id for r in results] == [3, 4]
    assert not engine.has_unfinished()


def test_prompt_whose_images_do_not_match_its_placeholders_is_an_error_result(tokenizer):
    """Caught at queueing, one prompt at a time: in the runner it would fail the whole prefill batch."""
    pad = tokenizer.token_to_id("<|image_pad|>")
    good = {"input_ids": [50] + [pad] * 4 + [51], "pixel_values": torch.zeros(16, 1),
            "image_grid_thw": torch.tensor([[1, 4, 4]])}
    bad = [{**good, "image_grid_thw": torch.tensor([[1, 4, 6]])},  # 24 patches for 4 placeholders (16)
           {**good, "image_grid_thw": None},  # pixels without their grid
           {**good, "pixel_values": None}]  # placeholders without pixels
    engine, runner = _engine(tokenizer, slots=2)
    results = engine.generate([good, *bad, good], SamplingParams(max_new_tokens=2, ignore_eos=True))
    assert [r.finish_reason for r in results] == ["length", "error", "error", "error", "length"]
    assert {r.error_type for r in results[1:4]} == {"PromptImageError"}
    assert "24" in results[1].error and "16" in results[1].error
    assert sorted(i for kind, ids in runner.calls if kind == "prefill" for i in ids) == [0, 4]
