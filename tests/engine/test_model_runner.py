"""Every runner the engine is given implements the whole `ModelRunner` protocol, and the engine reads
its attributes directly: an incomplete runner is refused up front, and `max_model_len` is enforced."""

from __future__ import annotations

import inspect

import pytest
import torch
from tests.engine.conftest import MockRunner, chain_next, one_hot_logits

from raxdoc.engine import Engine, EngineConfig, ModelRunner, ReferenceRunner, SlotRunner
from raxdoc.engine.model_runner import missing_members

ATTRIBUTE_TYPES = {"vocab_size": int, "num_slots": int, "device": torch.device, "max_model_len": (int, type(None)),
                   "decode_ahead": bool, "needs_vision_after_prefill": bool}


@pytest.fixture(scope="module")
def tiny_model(tiny_checkpoint):
    from raxdoc.model import RaxForConditionalGeneration

    return RaxForConditionalGeneration.from_pretrained(tiny_checkpoint).eval()


def _runners(model) -> dict[str, object]:
    return {"slot": SlotRunner(model, num_slots=2, max_model_len=32),
            "reference": ReferenceRunner(model, vocab_size=model.config.text.vocab_size, num_slots=2),
            "mock": MockRunner(2, one_hot_logits(chain_next))}


def test_protocol_declares_every_attribute_the_engine_reads():
    assert set(ModelRunner.__annotations__) == set(ATTRIBUTE_TYPES)
    assert "next_tokens" in inspect.signature(ModelRunner.decode).parameters


@pytest.mark.parametrize("name", ["slot", "reference", "mock"])
def test_each_runner_satisfies_the_protocol(tiny_model, name):
    runner = _runners(tiny_model)[name]
    assert isinstance(runner, ModelRunner) and missing_members(runner) == []
    for attr, kind in ATTRIBUTE_TYPES.items():
        assert isinstance(getattr(runner, attr), kind), (name, attr, getattr(runner, attr))
    params = inspect.signature(runner.decode).parameters
    assert "next_tokens" in params and params["next_tokens"].default is None
    assert len(inspect.signature(runner.prefill).parameters) == 1


def test_runner_facts_match_what_each_runner_does(tiny_model):
    runners = _runners(tiny_model)
    assert runners["slot"].max_model_len == 32 and runners["slot"].decode_ahead
    assert not runners["slot"].needs_vision_after_prefill  # images live in the pool after prefill
    assert runners["reference"].max_model_len is None and not runners["reference"].decode_ahead
    assert runners["reference"].needs_vision_after_prefill  # it re-encodes the images every step
    with pytest.raises(ValueError, match="decode ahead"):
        runners["reference"].decode([], next_tokens=torch.zeros(0, dtype=torch.long))


def test_engine_refuses_an_incomplete_runner_naming_what_it_lacks(tokenizer):
    class NoVisionFlag:  # a runner written against the old protocol
        vocab_size, num_slots, device, max_model_len, decode_ahead = 640, 1, torch.device("cpu"), None, False

        def prefill(self, seqs):
            raise AssertionError("never run")

        decode = prefill

    with pytest.raises(TypeError, match="lacks needs_vision_after_prefill"):
        Engine(NoVisionFlag(), tokenizer)
    NoVisionFlag.needs_vision_after_prefill = True
    assert Engine(NoVisionFlag(), tokenizer).runner.needs_vision_after_prefill


def test_engine_refuses_a_longer_limit_than_the_runners_cache(tokenizer):
    runner = MockRunner(1, one_hot_logits(chain_next))
    runner.max_model_len = 32
    with pytest.raises(ValueError, match="max_model_len=32"):
        Engine(runner, tokenizer, EngineConfig(max_num_seqs=1, max_model_len=64, prefill_token_budget=64))
    assert Engine(runner, tokenizer, EngineConfig(max_num_seqs=1, max_model_len=32, prefill_token_budget=32))
