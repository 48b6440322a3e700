"""Logits of RaxForConditionalGeneration equal transformers' Qwen3_5ForConditionalGeneration (float32, 1e-4).

The tiny preset has 3 Gated DeltaNet layers with more value heads than key heads (4 vs 2) and a
value dim unlike the key dim (24 vs 16), plus 1 gated full-attention layer.
"""

import pytest
import torch

from raxdoc.model import RaxForConditionalGeneration
from tests.model.conftest import assert_close, checkpoint, hf_logits, image_prompt, transformers_model_class


@pytest.fixture(scope="module")
def untied(tmp_path_factory):
    path, hf = checkpoint(tmp_path_factory.mktemp("untied"), tie_word_embeddings=False)
    return path, hf, RaxForConditionalGeneration.from_pretrained(path)


def test_text_only_batch_crossing_chunks(untied):
    _, hf, ours = untied
    ids = torch.randint(0, 1000, (2, 150))  # 150 tokens: two 64-token chunk boundaries
    assert_close(ours(ids), hf_logits(hf, ids))


def test_three_images_of_different_grids(untied):
    path, hf, ours = untied
    ids, pixels, grid = image_prompt(path, [(1, 4, 6), (1, 8, 4), (1, 2, 2)], [5, 3, 1, 7])
    assert_close(ours(ids, pixel_values=pixels, image_grid_thw=grid), hf_logits(hf, ids, pixels, grid))


def test_images_in_a_long_prompt(untied):
    path, hf, ours = untied
    ids, pixels, grid = image_prompt(path, [(1, 16, 12), (1, 6, 10)], [70, 45, 33], seed=1)
    assert ids.shape[1] > 3 * 64
    assert_close(ours(ids, pixel_values=pixels, image_grid_thw=grid), hf_logits(hf, ids, pixels, grid))


@pytest.mark.parametrize("heads,dims", [((4, 4), (16, 16)), ((1, 3), (8, 24))])
def test_other_linear_head_shapes(tmp_path, heads, dims):
    text = dict(linear_num_key_heads=heads[0], linear_num_value_heads=heads[1],
                linear_key_head_dim=dims[0], linear_value_head_dim=dims[1])
    path, hf = checkpoint(tmp_path, overrides={"text_config": text})
    ours = RaxForConditionalGeneration.from_pretrained(path)
    ids, pixels, grid = image_prompt(path, [(1, 2, 4)], [67, 9])
    assert_close(ours(ids, pixel_values=pixels, image_grid_thw=grid), hf_logits(hf, ids, pixels, grid))


def test_tied_embeddings_sharded_checkpoint(tmp_path):
    path, hf = checkpoint(tmp_path, tie_word_embeddings=True, max_shard_size="100KB")
    assert (path / "model.safetensors.index.json").exists()
    ours = RaxForConditionalGeneration.from_pretrained(path)
    assert ours.lm_head.weight is ours.language_model.embed_tokens.weight
    ids, pixels, grid = image_prompt(path, [(1, 4, 4)], [20, 30])
    assert_close(ours(ids, pixel_values=pixels, image_grid_thw=grid), hf_logits(hf, ids, pixels, grid))


@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (1, 65)])
def test_awkward_lengths(untied, shape):
    _, hf, ours = untied
    ids = torch.randint(0, 1000, shape)
    assert_close(ours(ids), hf_logits(hf, ids))


def test_bfloat16_close_to_transformers_bfloat16(untied):
    """bf16 has ~3 significant digits; both stacks round at the same places, so 2e-2 of scale holds."""
    path, _, _ = untied
    hf = transformers_model_class().from_pretrained(path, dtype=torch.bfloat16).eval()
    ours = RaxForConditionalGeneration.from_pretrained(path, dtype=torch.bfloat16)
    ids, pixels, grid = image_prompt(path, [(1, 4, 6), (1, 8, 4)], [5, 70, 9])
    pixels = pixels.bfloat16()
    assert_close(ours(ids, pixel_values=pixels, image_grid_thw=grid), hf_logits(hf, ids, pixels, grid), rtol=2e-2)
