"""Fixtures for the model tests: tiny random checkpoints written by transformers, and its model as oracle.

transformers is imported with ``sys.modules["fla"] = None`` so it binds to its own torch fallbacks
(fla's Triton kernels cannot run on CPU).
"""

from __future__ import annotations

import sys

import pytest
import torch

IMAGE, VIDEO, START, END = 250, 251, 252, 253  # token ids inside the tiny vocabulary

TINY_TEXT = dict(vocab_size=256, hidden_size=64, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=32, linear_conv_kernel_dim=4, linear_key_head_dim=16,
                 linear_value_head_dim=16, linear_num_key_heads=2, linear_num_value_heads=2,
                 rope_parameters=dict(rope_type="default", rope_theta=10000.0, partial_rotary_factor=0.5,
                                      mrope_section=[3, 3, 2], mrope_interleaved=True))
TINY_VISION = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                   num_position_embeddings=16, patch_size=16, temporal_patch_size=2, spatial_merge_size=2)


def transformers_qwen35():
    sys.modules.setdefault("fla", None)  # must precede the transformers import
    import transformers

    return transformers


def hf_config(text: dict | None = None, vision: dict | None = None, tie: bool = False):
    tf = transformers_qwen35()
    return tf.Qwen3_5Config(text_config={**TINY_TEXT, **(text or {})}, vision_config={**TINY_VISION, **(vision or {})},
                            image_token_id=IMAGE, video_token_id=VIDEO, vision_start_token_id=START,
                            vision_end_token_id=END, tie_word_embeddings=tie)


def write_checkpoint(path, text=None, vision=None, tie=False, max_shard_size=None, seed=0):
    """Save a random transformers model; every weight is perturbed so zero-init norms are tested too."""
    tf = transformers_qwen35()
    torch.manual_seed(seed)
    hf = tf.Qwen3_5ForConditionalGeneration(hf_config(text, vision, tie)).float().eval()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if "A_log" not in name:
                p.add_(torch.randn_like(p) * 0.05)
    kwargs = {} if max_shard_size is None else {"max_shard_size": max_shard_size}
    hf.save_pretrained(path, **kwargs)
    return path, hf


def hf_logits(hf, input_ids, pixel_values=None, grid=None):
    with torch.no_grad():
        kw = {}
        if pixel_values is not None:
            kw = dict(pixel_values=pixel_values, image_grid_thw=grid, mm_token_type_ids=(input_ids == IMAGE).int())
        return hf(input_ids=input_ids, **kw).logits


def image_prompt(grids, text_lens, seed=0):
    """Text runs around images: text, <start> pads <end>, text, ... ; pixel_values of matching shape."""
    g = torch.Generator().manual_seed(seed)
    ids = [torch.randint(0, 240, (text_lens[0],), generator=g)]
    for (t, h, w), n in zip(grids, text_lens[1:]):
        ids += [torch.tensor([START]), torch.full((t * h * w // 4,), IMAGE), torch.tensor([END]),
                torch.randint(0, 240, (n,), generator=g)]
    grid = torch.tensor(grids)
    pixels = torch.randn(int(grid.prod(-1).sum()), 3 * 2 * 16 * 16, generator=g)
    return torch.cat(ids)[None], pixels, grid


def assert_close(ours, ref, rtol=1e-4):
    """Relative to the reference's scale: max |diff| <= rtol * max |ref|."""
    err = (ours.float() - ref.float()).abs().max().item()
    scale = ref.float().abs().max().item()
    assert err <= rtol * scale, f"max abs diff {err:.3e} > {rtol} * {scale:.3e}"
