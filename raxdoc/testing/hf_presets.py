"""Tiny random checkpoints of other reader families (`exaone4_5`, `ernie4_5_vl_moe`) for tests and benches.

Written with transformers' own classes (`save_pretrained`), with the byte-level test tokenizer
(`raxdoc.testing.tokenizer`, Qwen-style specials) saved as a `tokenizer.json` plus a chat template
that, like the real ones, thinks by default (opens `<think>` in the prompt) unless the family's
switch (`enable_thinking=False`) is given; and the family's image processor class (the PIL
variant: torchvision is not installed here). Weights are random: output is noise, which is what
parity and pipeline tests need.

Not here: the qwen3_5 checkpoints (`presets`), loading (`raxdoc.engine.hf_loading`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from raxdoc.testing.presets import CHATML_TURNS
from raxdoc.testing.tokenizer import build_tokenizer, special_token_ids

VOCAB = 1024

# Thinking on unless enable_thinking is false, as EXAONE 4.5 and ERNIE-4.5-VL-Thinking do.
CHAT_TEMPLATE = CHATML_TURNS + (
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}{{- '<think>\\n\\n</think>\\n\\n' -}}"
    "{%- else -%}{{- '<think>\\n' -}}{%- endif -%}{%- endif -%}"
)

FAMILIES = ("exaone4_5", "ernie4_5_vl_moe")


def write_hf_checkpoint(path: str | Path, family: str, *, seed: int = 0, extra_config: dict | None = None) -> Path:
    """Write a tiny random `family` checkpoint to `path` and return it."""
    import torch

    if not torch.cuda.is_available():
        sys.modules.setdefault("fla", None)
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {FAMILIES}")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    ids = special_token_ids(VOCAB)
    torch.manual_seed(seed)
    model, image_processor, tok_extra = (_exaone if family == "exaone4_5" else _ernie)(ids)
    with torch.no_grad():  # HF inits norms to 1 / biases to 0: move them so parity sees every term
        gen = torch.Generator().manual_seed(seed + 1)
        for p in model.parameters():
            if p.ndim == 1:
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)
    model.save_pretrained(out)
    if extra_config:
        cfg = json.loads((out / "config.json").read_text())
        (out / "config.json").write_text(json.dumps({**cfg, **extra_config}, indent=2))
    image_processor.save_pretrained(out)
    build_tokenizer(VOCAB).save(str(out / "tokenizer.json"))
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    _write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "bos_token": None, "unk_token": None, "clean_up_tokenization_spaces": False, **tok_extra})
    _write_json(out / "generation_config.json", {
        "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]], "pad_token_id": ids["<|endoftext|>"],
        "do_sample": True, "temperature": 0.6, "top_p": 0.95})  # sampling defaults a greedy run must override
    return out


def _exaone(ids: dict[str, int]) -> tuple[Any, Any, dict]:
    from transformers import Exaone4_5_Config, Exaone4_5_ForConditionalGeneration, Qwen2VLImageProcessorPil

    config = Exaone4_5_Config(
        text_config=dict(model_type="exaone4", vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                         max_position_embeddings=4096, sliding_window=None,
                         layer_types=["full_attention", "full_attention"]),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=14,
                           out_hidden_size=64, fullatt_block_indexes=[1], window_size=112, num_key_value_heads=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"])
    processor = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=448 * 448, patch_size=14, merge_size=2)
    return Exaone4_5_ForConditionalGeneration(config), processor, {}


def _ernie(ids: dict[str, int]) -> tuple[Any, Any, dict]:
    from transformers import Ernie4_5_VLMoeConfig, Ernie4_5_VLMoeForConditionalGeneration
    from transformers.models.ernie4_5_vl_moe.image_processing_pil_ernie4_5_vl_moe import (
        Ernie4_5_VLMoeImageProcessorPil)

    config = Ernie4_5_VLMoeConfig(
        text_config=dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, moe_intermediate_size=[32, 32], moe_k=2,
                         moe_num_experts=4, moe_num_shared_experts=1, max_position_embeddings=4096,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 2, 4]}),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=14),
        image_start_token_id=ids["<|vision_start|>"], image_end_token_id=ids["<|vision_end|>"],
        image_token_id=ids["<|image_pad|>"], video_start_token_id=ids["<|box_start|>"],
        video_end_token_id=ids["<|box_end|>"], video_token_id=ids["<|video_pad|>"])
    processor = Ernie4_5_VLMoeImageProcessorPil(size={"shortest_edge": 56 * 56, "longest_edge": 448 * 448})
    # ERNIE's tokenizer names its vision tokens; its processor reads them from there.
    names = {"image_token": "<|image_pad|>", "image_start_token": "<|vision_start|>",
             "image_end_token": "<|vision_end|>", "video_token": "<|video_pad|>",
             "video_start_token": "<|box_start|>", "video_end_token": "<|box_end|>"}
    return Ernie4_5_VLMoeForConditionalGeneration(config), processor, {"extra_special_tokens": names}


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")
