"""Cached decoding equals the uncached forward: prefill (with images), then chunked and token-by-token steps."""

import pytest
import torch

from raxdoc.model import RaxForConditionalGeneration
from raxdoc.testing.presets import write_random_checkpoint
from tests.model.conftest import assert_close, image_prompt


@pytest.fixture(scope="module")
def model_and_path(tmp_path_factory):
    path = write_random_checkpoint(tmp_path_factory.mktemp("cache"), "tiny")
    return RaxForConditionalGeneration.from_pretrained(path), path


@torch.no_grad()
def test_prefill_then_decode_matches_full_forward(model_and_path):
    model, path = model_and_path
    ids, pixels, grid = image_prompt(path, [(1, 4, 6)], [5, 66])
    extra = torch.randint(0, 1000, (1, 5))
    full = model(torch.cat([ids, extra], 1), pixel_values=pixels, image_grid_thw=grid)

    cache = model.new_cache()
    logits = model.forward_step(ids, cache, pixel_values=pixels, image_grid_thw=grid)
    assert_close(logits, full[:, : ids.shape[1]])
    for i in range(extra.shape[1]):
        step = model.forward_step(extra[:, i: i + 1], cache)
        assert_close(step, full[:, ids.shape[1] + i: ids.shape[1] + i + 1])
    assert cache.lengths.tolist() == [ids.shape[1] + extra.shape[1]]


@torch.no_grad()
def test_chunked_prefill_batch_of_two(model_and_path):
    model, _ = model_and_path
    ids = torch.randint(0, 1000, (2, 100))
    full = model(ids)
    cache = model.new_cache()
    parts = [model.forward_step(ids[:, :37], cache), model.forward_step(ids[:, 37:99], cache),
             model.forward_step(ids[:, 99:], cache)]
    assert_close(torch.cat(parts, 1), full)


@torch.no_grad()
def test_packed_prefill_matches_separate_sequences(model_and_path):
    """The engine's packed layout: sequences end to end in one row, split by cu_seqlens."""
    model, _ = model_and_path
    lens = [7, 70, 1]
    seqs = [torch.randint(0, 1000, (1, n)) for n in lens]
    lm = model.language_model
    packed = torch.cat(seqs, 1)
    cu = torch.tensor([0, 7, 77, 78], dtype=torch.int32)
    positions = torch.cat([torch.arange(n) for n in lens]).view(1, 1, -1).expand(3, 1, -1)
    hidden = lm(lm.embed_tokens(packed), positions, cu_seqlens=cu)
    for s, a, b in zip(seqs, cu[:-1].tolist(), cu[1:].tolist()):
        assert_close(model.lm_head(hidden[:, a:b]), model(s))


@torch.no_grad()
def test_packed_prefill_then_ragged_decode(model_and_path):
    """The engine's loop: unequal sequences (one with images) prefilled packed, then decoded together."""
    model, path = model_and_path
    with_images, pixels, grid = image_prompt(path, [(1, 2, 4), (1, 4, 4)], [3, 2, 4], seed=3)
    seqs = [torch.randint(0, 1000, (9,)), with_images[0], torch.randint(0, 1000, (70,))]
    steps = torch.randint(0, 1000, (3, 4))
    cache = model.new_cache(ragged=True)
    last = model.prefill_packed(seqs, cache, pixel_values=pixels, image_grid_thw=grid)
    decoded = [model.decode(steps[:, i], cache) for i in range(steps.shape[1])]
    for i, seq in enumerate(seqs):
        kw = dict(pixel_values=pixels, image_grid_thw=grid) if i == 1 else {}
        full = model(torch.cat([seq, steps[i]])[None], **kw)[0]
        assert_close(last[i], full[len(seq) - 1])
        for j, logits in enumerate(decoded):
            assert_close(logits[i], full[len(seq) + j])
    assert cache.lengths.tolist() == [len(s) + 4 for s in seqs]


@torch.no_grad()
def test_layers_only_call_their_linear_state_methods(model_and_path):
    """The Gated DeltaNet layer reads and writes state only through `causal_conv` and `gated_delta_rule`
    (as full attention does through `attend`): a stand-in state with just those two methods, keeping
    its tensors under other names, decodes the same logits. That is what lets the engine keep states
    in its own buffers without the model knowing."""
    from raxdoc.model.linear_attention import LinearState

    class Elsewhere:  # a cache's own state object: no `conv` / `recurrent` attributes for the layer to read
        __slots__ = ("_inner", "calls")

        def __init__(self):
            self._inner, self.calls = LinearState(), []

        def causal_conv(self, x, weight, **kw):
            self.calls.append("causal_conv")
            return self._inner.causal_conv(x, weight, **kw)

        def gated_delta_rule(self, q, k, v, g, beta, **kw):
            self.calls.append("gated_delta_rule")
            return self._inner.gated_delta_rule(q, k, v, g, beta, **kw)

    model, _ = model_and_path
    ids = torch.randint(0, 1000, (2, 9))
    ref_cache, cache = model.new_cache(), model.new_cache()
    cache.layers = [Elsewhere() if isinstance(s, LinearState) else s for s in cache.layers]
    assert any(isinstance(s, Elsewhere) for s in cache.layers)
    assert_close(model.forward_step(ids[:, :8], cache), model.forward_step(ids[:, :8], ref_cache))
    assert_close(model.forward_step(ids[:, 8:], cache), model.forward_step(ids[:, 8:], ref_cache))
    stand_ins = [s for s in cache.layers if isinstance(s, Elsewhere)]
    assert all(s.calls == ["causal_conv", "gated_delta_rule"] * 2 for s in stand_ins)
    assert not {"pool", "conv_pool", "slots"} & set(vars(LinearState()))
