"""FLOP counter vs a hand count on the tiny preset, and vs the Linear weights the model really holds."""

import pytest
import torch

from bench.flops import page_flops, peak_bf16_flops, text_linear_weights, vision_linear_weights
from raxdoc.model.config import RaxConfig
from raxdoc.testing.presets import preset_config


@pytest.fixture(scope="module")
def tiny_config():
    return RaxConfig.from_dict(preset_config("tiny"))


def test_linear_weight_counts_match_the_model(tiny_config):
    from raxdoc.model import RaxForConditionalGeneration

    model = RaxForConditionalGeneration(tiny_config)
    text = sum(m.weight.numel() for m in model.language_model.modules() if isinstance(m, torch.nn.Linear))
    assert text_linear_weights(tiny_config.text) == text
    per_patch, per_merged = vision_linear_weights(tiny_config.vision)
    merger = sum(m.weight.numel() for m in model.visual.merger.modules() if isinstance(m, torch.nn.Linear))
    vit = sum(m.weight.numel() for m in model.visual.modules() if isinstance(m, torch.nn.Linear))
    assert (per_patch, per_merged) == (vit - merger, merger)


def test_page_flops_hand_count_tiny(tiny_config):
    # One 4x6-patch image (24 patches, 6 merged tokens), 10 prompt tokens, 3 new tokens.
    f = page_flops(tiny_config, prompt_tokens=10, new_tokens=3, image_grid_thw=[(1, 4, 6)])
    # ViT: patch embed 1536*32 + 2 blocks * (32*96 + 32*32 + 2*32*64) = 65,536 weights per patch;
    # merger (128*128 + 128*64) = 24,576 per merged token; attention 4 * 24^2 * 32 * 2 blocks.
    vit = 2 * 65_536 * 24 + 2 * 24_576 * 6 + 4 * 24 * 24 * 32 * 2
    # Decoder per token: 3 GDN layers * (64*160 + 64*96 + 2*64*4 + 96*64) = 69,120, one full layer
    # (64*256 + 2*64*64 + 128*64) = 32,768, 4 MLPs 3*64*128 = 98,304 -> 200,192 weights;
    # GDN conv 2*4*160 and recurrence 6*16*24*4 per GDN layer.
    per_token = 2 * 200_192 + 3 * (2 * 4 * 160 + 6 * 16 * 24 * 4)
    head = 2 * 64 * 1024
    attn = 4 * 4 * 32  # per key, per query, one full layer: 4 * heads * head_dim
    prefill = 10 * per_token + attn * sum(range(1, 11)) + head
    decode = 2 * (per_token + head) + attn * (11 + 12)  # positions 10 and 11 attend 11 and 12 keys
    assert f.vit == vit
    assert f.prefill_text == prefill
    assert f.decode == decode
    assert f.total == vit + prefill + decode


def test_page_flops_one_token_has_no_decode(tiny_config):
    f = page_flops(tiny_config, prompt_tokens=7, new_tokens=1)
    assert f.decode == 0 and f.vit == 0 and f.prefill_text > 0
    with pytest.raises(ValueError):
        page_flops(tiny_config, prompt_tokens=0, new_tokens=1)


@pytest.mark.parametrize("name,tflops", [("NVIDIA H100 80GB HBM3", 989), ("NVIDIA H100 PCIe", 756),
                                         ("NVIDIA H200", 989), ("NVIDIA A100-SXM4-80GB", 312),
                                         ("NVIDIA L4", 121), ("NVIDIA A10G", 125), ("Tesla T4", None)])
def test_peak_table(name, tflops):
    peak = peak_bf16_flops(name)
    assert peak == (None if tflops is None else tflops * 1e12)
