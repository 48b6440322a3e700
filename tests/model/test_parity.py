"""Logits of RaxForConditionalGeneration equal transformers' Qwen3_5ForConditionalGeneration (float32)."""

import torch

from raxdoc.model import RaxForConditionalGeneration
from tests.model.conftest import assert_close, hf_logits, image_prompt, write_checkpoint

ALL_FULL = dict(layer_types=["full_attention"] * 4)


def test_full_attention_text_only(tmp_path):
    path, hf = write_checkpoint(tmp_path, text=ALL_FULL)
    ours = RaxForConditionalGeneration.from_pretrained(path)
    ids = torch.randint(0, 240, (2, 37))
    assert_close(ours(ids), hf_logits(hf, ids))


def test_full_attention_three_images(tmp_path):
    path, hf = write_checkpoint(tmp_path, text=ALL_FULL)
    ours = RaxForConditionalGeneration.from_pretrained(path)
    ids, pixels, grid = image_prompt([(1, 4, 6), (1, 8, 4), (1, 2, 2)], [5, 3, 1, 7])
    assert_close(ours(ids, pixel_values=pixels, image_grid_thw=grid), hf_logits(hf, ids, pixels, grid))
