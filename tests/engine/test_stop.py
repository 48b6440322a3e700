import pytest

import raxdoc.engine
from raxdoc.engine import SamplingParams, Sequence, StopPolicy
from raxdoc.engine.stop import eos_ids_from_tokenizer


def test_eos_ids_read_by_name(tokenizer):
    ids = eos_ids_from_tokenizer(tokenizer)
    assert ids == (tokenizer.token_to_id("<|im_end|>"), tokenizer.token_to_id("<|endoftext|>"))


def _policy(tokenizer, max_model_len=100):
    return StopPolicy(lambda ids: tokenizer.decode(ids, skip_special_tokens=True),
                      eos_ids_from_tokenizer(tokenizer), max_model_len)


def _feed(policy, seq, ids):
    for t in ids:
        seq.append_token(t)
        if policy.apply(seq):
            return True
    return False


def test_stop_string_cut_from_text(tokenizer):
    ids = tokenizer.encode("total amount END tax").ids
    seq = Sequence(0, [5], SamplingParams(max_new_tokens=50, stop=("END",)))
    assert _feed(_policy(tokenizer), seq, ids)
    assert seq.finish_reason == "stop" and seq.text == "total amount "
    assert seq.num_completion_tokens < len(ids)


def test_eos_finishes_and_is_not_in_text(tokenizer):
    im_end = tokenizer.token_to_id("<|im_end|>")
    ids = tokenizer.encode("invoice").ids + [im_end, 30, 31]
    seq = Sequence(0, [5], SamplingParams(max_new_tokens=50))
    assert _feed(_policy(tokenizer), seq, ids)
    assert seq.finish_reason == "eos" and seq.output_ids[-1] == im_end and seq.text == "invoice"


@pytest.mark.parametrize("written", ["<think>hmm</think>invoice", "invoice<think>cut off by the budget"])
def test_text_is_what_the_model_wrote_thinking_included(tokenizer, written):
    # Thinking is stripped once, by raxdoc.postprocess.strip_thinking, for every reader alike.
    seq = Sequence(0, [5], SamplingParams(max_new_tokens=50))
    assert _feed(_policy(tokenizer), seq, tokenizer.encode(written).ids + [tokenizer.token_to_id("<|im_end|>")])
    assert seq.text == written
    assert not hasattr(raxdoc.engine, "strip_thinking")


def test_ignore_eos_runs_to_length(tokenizer):
    im_end = tokenizer.token_to_id("<|im_end|>")
    seq = Sequence(0, [5], SamplingParams(max_new_tokens=4, ignore_eos=True))
    assert _feed(_policy(tokenizer), seq, [40, im_end, 41, im_end, 42])
    assert seq.finish_reason == "length" and seq.output_ids == [40, im_end, 41, im_end]


def test_max_model_len_ends_with_length(tokenizer):
    seq = Sequence(0, [5, 6, 7], SamplingParams(max_new_tokens=50))
    assert _feed(_policy(tokenizer, max_model_len=5), seq, [40, 41, 42])
    assert seq.finish_reason == "length" and seq.num_tokens == 5


@pytest.mark.parametrize("stop", ["€€€", "。。。"])
def test_stop_string_of_multibyte_characters_spanning_byte_tokens(tokenizer, stop):
    """Byte-level BPE spells a rare character with up to 4 one-byte tokens: the tail decoded for the
    check must cover the stop string's bytes, not just its characters."""
    ids = tokenizer.encode(f"total {stop} tax amount").ids
    assert len(tokenizer.encode(stop).ids) > len(stop) + 4  # more tokens than characters + slack
    seq = Sequence(0, [5], SamplingParams(max_new_tokens=50, stop=(stop,)))
    assert _feed(_policy(tokenizer), seq, ids)
    assert seq.finish_reason == "stop" and seq.text == "total "
