"""Overlapped decode: step N+1 queued before step N's ids are read, same results as serial decode.

The mock runner takes the rows' input tokens from the engine (`next_tokens`) and asserts the host
has not appended them yet, so every overlapped call is checked to really run ahead of the host.
"""

from __future__ import annotations

import random

import pytest
import torch
from tests.engine.conftest import InvoiceLike, MockRunner, chain_next, naive_generate, one_hot_logits, random_logits

from raxdoc.engine import Engine, EngineConfig, SamplingParams


def _prompts(lengths, start=40):
    return [{"input_ids": list(range(start + i, start + i + n))} for i, n in enumerate(lengths)]


def _engine(tokenizer, overlap, slots=3, logits_fn=None, fail_on_call=None, **cfg):
    runner = MockRunner(slots, logits_fn or one_hot_logits(chain_next), fail_on_call=fail_on_call)
    config = EngineConfig(**{"max_num_seqs": slots, "max_model_len": 96, "prefill_token_budget": 48,
                             "overlap_decode": overlap, **cfg})
    return Engine(runner, tokenizer, config), runner


def _signature(results):
    return [(r.request_id, r.token_ids, r.finish_reason, r.text, r.error_type) for r in results]


@pytest.mark.parametrize("seed", range(5))
def test_mixed_streamed_workload_equals_serial_decode(tokenizer, seed):
    """Grammar and free rows, EOS and stop strings, seeded sampling, different budgets, requests
    streamed in while others decode: identical results, and the overlapped engine ran ahead."""
    rng = random.Random(seed)
    lengths = [rng.randint(1, 20) for _ in range(rng.randint(4, 10))]
    params = [SamplingParams(max_new_tokens=rng.randint(1, 24), ignore_eos=rng.random() < 0.5,
                             temperature=rng.choice([0.0, 0.0, 0.8]), seed=rng.randint(0, 99),
                             stop=rng.choice([(), ("ab",)])) for _ in lengths]
    grammars = [InvoiceLike if rng.random() < 0.4 else None for _ in lengths]
    slots = rng.randint(1, 4)
    arrivals = [rng.random() < 0.6 for _ in range(400)]  # add a request before this step, or not
    outcomes, ahead = [], []
    for overlap in (False, True):
        engine, runner = _engine(tokenizer, overlap, slots=slots, logits_fn=random_logits(seed))
        results, queued, steps = [], 0, 0
        while queued < len(lengths) or engine.has_unfinished():
            if queued < len(lengths) and (steps >= len(arrivals) or arrivals[steps]):
                engine.add_request(_prompts(lengths)[queued], params[queued], grammar=grammars[queued])
                queued += 1
            results += engine.step()
            steps += 1
        outcomes.append(sorted(_signature(results)))
        ahead.append(runner.ahead_calls)
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[1]) == len(lengths)
    assert ahead[0] == 0 and ahead[1] > 0


def test_overlapped_greedy_equals_one_at_a_time(tokenizer):
    engine, runner = _engine(tokenizer, True, slots=2)
    prompts = _prompts([3, 7, 1, 5, 2])
    budgets = [6, 2, 9, 1, 4]
    results = engine.generate(prompts, [SamplingParams(max_new_tokens=n, ignore_eos=True) for n in budgets])
    assert [list(r.token_ids) for r in results] == [naive_generate(p["input_ids"], chain_next, n)
                                                    for p, n in zip(prompts, budgets)]
    assert runner.ahead_calls > 0
    assert engine._scheduler.slots.num_free == 2 and engine._inflight is None


@pytest.mark.parametrize("fail_on_call", [3, 4, 6])
def test_device_failure_mid_chain_fails_the_batch_and_serves_the_rest(tokenizer, fail_on_call):
    engine, runner = _engine(tokenizer, True, slots=2, fail_on_call=fail_on_call)
    first = engine.generate(_prompts([3, 4, 5]), SamplingParams(max_new_tokens=6, ignore_eos=True))
    assert any(r.finish_reason == "error" and "mock device failure" in r.error for r in first)
    assert all(r.finish_reason in ("length", "error") for r in first)
    assert not engine.has_unfinished() and engine._inflight is None
    assert engine._scheduler.slots.num_free == 2
    prompts = _prompts([2, 6], start=70)
    later = engine.generate(prompts, SamplingParams(max_new_tokens=3, ignore_eos=True))
    assert [list(r.token_ids) for r in later] == [naive_generate(p["input_ids"], chain_next, 3) for p in prompts]


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_a_bug_mid_chain_raises_and_frees_every_slot(tokenizer, error):
    """A bug, or an interrupt, while a step runs ahead: it propagates, and no row is left on a slot
    whose state went one token further than its host record."""

    class Buggy(MockRunner):
        def decode(self, seqs, next_tokens=None):
            if next_tokens is not None:
                raise error("shape bug")
            return super().decode(seqs)

    runner = Buggy(2, one_hot_logits(chain_next))
    engine = Engine(runner, tokenizer, EngineConfig(max_num_seqs=2, max_model_len=64, prefill_token_budget=64,
                                                    overlap_decode=True))
    with pytest.raises(error, match="shape bug"):
        engine.generate(_prompts([3, 4, 5]), SamplingParams(max_new_tokens=5, ignore_eos=True))
    assert not engine.has_unfinished() and engine._scheduler.slots.num_free == 2 and engine._inflight is None


class _Runner:
    vocab_size, num_slots, max_model_len, needs_vision_after_prefill = 8, 1, None, True

    def __init__(self, device, ahead=True):
        self.device = torch.device(device)
        self.decode_ahead = ahead

    def prefill(self, seqs):
        raise AssertionError("only built, never run")

    decode = prefill


def test_overlap_defaults_on_for_cuda_runners_off_elsewhere(tokenizer, monkeypatch):
    monkeypatch.delenv("RAXDOC_OVERLAP_DECODE", raising=False)
    assert Engine(_Runner("cuda"), tokenizer).overlap
    assert not Engine(_Runner("cpu"), tokenizer).overlap
    assert not Engine(_Runner("cuda", ahead=False), tokenizer, EngineConfig(overlap_decode=True)).overlap
    assert not Engine(_Runner("cuda"), tokenizer, EngineConfig(overlap_decode=False)).overlap
    monkeypatch.setenv("RAXDOC_OVERLAP_DECODE", "on")
    assert Engine(_Runner("cpu"), tokenizer).overlap
    monkeypatch.setenv("RAXDOC_OVERLAP_DECODE", "sometimes")
    with pytest.raises(ValueError, match="RAXDOC_OVERLAP_DECODE"):
        Engine(_Runner("cpu"), tokenizer)
