import json

import pytest
import torch
from tests.engine.conftest import MOCK_VOCAB, InvoiceLike
from pydantic import BaseModel

from raxdoc.engine import Grammar, GrammarCompileError, MaskFiller
from raxdoc.engine.grammar import build_ll_tokenizer, close_objects
from raxdoc.engine.sampler import bitmask_to_bool
from raxdoc.engine.stop import eos_ids_from_tokenizer


@pytest.fixture(scope="module")
def ll_tok(tokenizer):
    return build_ll_tokenizer(tokenizer, MOCK_VOCAB, eos_ids_from_tokenizer(tokenizer))


def _allowed(matcher, words):
    row = torch.zeros(words, dtype=torch.int32)
    matcher.fill_mask(row)
    return bitmask_to_bool(row[None], MOCK_VOCAB)[0]


def test_close_objects_adds_additional_properties_false_everywhere():
    class Inner(BaseModel):
        a: int

    class Outer(BaseModel):
        inner: Inner
        items: list[Inner]

    schema = close_objects(Outer.model_json_schema())
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["Inner"]["additionalProperties"] is False
    assert "additionalProperties" not in Outer.model_json_schema()  # input untouched


def test_matcher_forces_the_schema_text(tokenizer, ll_tok):
    g = Grammar({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}, ll_tok)
    m = g.matcher()
    words = (MOCK_VOCAB + 31) // 32
    # First token must start the JSON object.
    first = _allowed(m, words).nonzero().flatten().tolist()
    assert first and all(tokenizer.decode([t]).startswith("{") for t in first)
    for t in tokenizer.encode('{"ok":true}').ids:
        assert _allowed(m, words)[t]
        assert m.accept(t)
    assert m.is_terminated()
    # Once terminated, only the EOS ids remain allowed.
    left = set(_allowed(m, words).nonzero().flatten().tolist())
    assert left <= set(eos_ids_from_tokenizer(tokenizer))


def test_rejected_token_puts_matcher_in_error(tokenizer, ll_tok):
    m = Grammar.from_pydantic(InvoiceLike, ll_tok).matcher()
    bad = tokenizer.encode("x").ids[0]
    assert not m.accept(bad)
    assert m.error()


def test_bad_schema_is_a_typed_error(ll_tok):
    with pytest.raises(GrammarCompileError):
        Grammar({"type": "object", "properties": {"a": {"type": "no-such-type"}}}, ll_tok)
    with pytest.raises(GrammarCompileError):
        Grammar(json.dumps([1, 2]), ll_tok)


@pytest.mark.parametrize("threads", [1, 2])  # plain loop and llguidance's thread pool
def test_mask_filler_batch_matches_single_fills_and_free_rows(tokenizer, ll_tok, threads):
    g = Grammar.from_pydantic(InvoiceLike, ll_tok)
    a, b = g.matcher(), g.matcher()
    for t in tokenizer.encode('{"invoice_number":"').ids:
        assert a.accept(t)
    filler = MaskFiller(MOCK_VOCAB, max_batch=4, num_threads=threads)
    try:
        batch = filler.submit([a, None, b]).result().clone()
        assert list(filler._executors) == ([] if threads == 1 else [threads])  # one thread: a plain loop
        words = filler.words
        assert batch.shape == (3, words)
        assert torch.equal(bitmask_to_bool(batch[[0]], MOCK_VOCAB)[0], _allowed(a, words))
        assert torch.equal(bitmask_to_bool(batch[[2]], MOCK_VOCAB)[0], _allowed(b, words))
        assert (batch[1] == -1).all()  # no grammar: everything allowed
        # Buffers alternate: the next fill does not overwrite the previous result.
        first = filler.fill([a])
        second = filler.fill([b])
        assert first.data_ptr() != second.data_ptr()
        # A row a matcher wrote is reset for a free-text row when its buffer comes round again.
        filler.fill([a, b])
        filler.fill([a])
        again = filler.fill([a, None])
        assert (again[1] == -1).all()
        with pytest.raises(ValueError):
            filler.fill([None] * 5)
    finally:
        filler.close()


def test_mask_threads_follow_the_host_and_the_batch():
    from raxdoc.engine.grammar import mask_threads

    assert [mask_threads(b, cpus=16) for b in (1, 32, 33, 64, 128, 256, 1024)] == [1, 1, 2, 2, 4, 8, 8]
    assert [mask_threads(256, cpus=c) for c in (1, 2, 4, 8, 64)] == [1, 1, 2, 4, 8]
    assert 1 <= mask_threads(256) <= 8  # this host


def test_mask_filler_sizes_its_pool_per_fill(tokenizer, ll_tok, monkeypatch):
    """Without a fixed count, each fill takes mask_threads(rows with a grammar) threads."""
    import raxdoc.engine.grammar as grammar

    monkeypatch.setattr(grammar, "host_cpus", lambda: 16)
    g = Grammar.from_pydantic(InvoiceLike, ll_tok)
    filler = MaskFiller(MOCK_VOCAB, max_batch=70)
    assert filler.num_threads == 3
    filler.fill([g.matcher() for _ in range(10)] + [None] * 60)
    assert list(filler._executors) == []  # ten rows: a plain loop
    filler.fill([g.matcher() for _ in range(70)])
    assert list(filler._executors) == [3]
    filler.close()
