"""Rax 4.5 configuration: frozen dataclasses read from a Hugging Face ``config.json``.

Scope: parse and validate the fields the architecture needs (``model_type: qwen3_5``). Sizes (vocab,
widths, layer and head counts, head dims, token ids) are required: transformers' defaults for them
describe other models (9B/27B), so a missing one would silently build the wrong network. Fields whose
transformers default is the Qwen3.5 convention (activations, eps, conv width, patch sizes, mRoPE layout,
layer_types pattern) take that default when absent, as transformers does.
Not here: derived runtime values (computed where they are used), preprocessing settings
(``preprocessor_config.json``, the processor's concern).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

LAYER_TYPES = ("linear_attention", "full_attention")
ACTIVATIONS = ("silu", "gelu", "gelu_pytorch_tanh")


class ConfigError(ValueError):
    """A config.json field is missing or malformed; the message names the field."""


def _need(d: dict, key: str, where: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    """Read ``d[key]`` and check its type; a missing key uses ``default`` when one is given."""
    if key not in d or d[key] is None:
        if default is ...:
            raise ConfigError(f"config field {where}.{key} is missing")
        return default
    value = d[key]
    # bool is an int subclass: refuse True where a count is expected.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ConfigError(f"config field {where}.{key} must be {kind}, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(f"config field {where}.{key} must be {kind}, got {value!r}")
    return value


def _positive(obj: Any, where: str) -> None:
    """Every int field of a config dataclass must be >= 1 (sizes, counts, ids are checked elsewhere)."""
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, int) and not isinstance(v, bool) and v < 1:
            raise ConfigError(f"config field {where}.{f.name} must be >= 1, got {v}")


@dataclass(frozen=True)
class RaxTextConfig:
    """The hybrid decoder (Gated DeltaNet + gated full attention)."""

    vocab_size: int  # rows of embed_tokens and lm_head
    hidden_size: int  # residual stream width
    intermediate_size: int  # SwiGLU MLP inner width
    num_hidden_layers: int  # decoder layers
    num_attention_heads: int  # full-attention query heads
    num_key_value_heads: int  # full-attention K/V heads (GQA)
    head_dim: int  # full-attention head width (not hidden/heads: 2048/8 != 256)
    hidden_act: str  # MLP and short-conv activation
    rms_norm_eps: float  # epsilon of every RMSNorm in the decoder
    attention_bias: bool  # q/k/v/o projections carry a bias
    layer_types: tuple[str, ...]  # per layer: "linear_attention" or "full_attention"
    linear_conv_kernel_dim: int  # causal depthwise conv width before the delta rule
    linear_key_head_dim: int  # Gated DeltaNet q/k head width
    linear_value_head_dim: int  # Gated DeltaNet v head width
    linear_num_key_heads: int  # Gated DeltaNet q/k heads
    linear_num_value_heads: int  # Gated DeltaNet v heads (a multiple of key heads: GVA)
    rope_theta: float  # rotary base of the full-attention layers
    partial_rotary_factor: float  # share of head_dim that is rotated (the rest passes through)
    mrope_section: tuple[int, int, int]  # rotary frequency pairs per axis (t, h, w), interleaved
    mrope_interleaved: bool  # axes interleaved over frequencies (the only layout Qwen3.5 uses)

    def __post_init__(self) -> None:
        _positive(self, "text_config")
        w = "text_config"
        if len(self.layer_types) != self.num_hidden_layers:
            raise ConfigError(f"config field {w}.layer_types has {len(self.layer_types)} entries, "
                              f"num_hidden_layers is {self.num_hidden_layers}")
        bad = sorted(set(self.layer_types) - set(LAYER_TYPES))
        if bad:
            raise ConfigError(f"config field {w}.layer_types has unknown types {bad}")
        if self.hidden_act not in ACTIVATIONS:
            raise ConfigError(f"config field {w}.hidden_act {self.hidden_act!r} not in {ACTIVATIONS}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError(f"config field {w}.num_key_value_heads must divide num_attention_heads")
        if self.linear_num_value_heads % self.linear_num_key_heads:
            raise ConfigError(f"config field {w}.linear_num_key_heads must divide linear_num_value_heads")
        if not 0.0 < self.partial_rotary_factor <= 1.0:
            raise ConfigError(f"config field {w}.rope_parameters.partial_rotary_factor must be in (0, 1]")
        if self.rotary_dim % 2:
            raise ConfigError(f"config field {w}.rope_parameters.partial_rotary_factor gives odd rotary dim")
        if len(self.mrope_section) != 3 or sum(self.mrope_section) != self.rotary_dim // 2:
            raise ConfigError(f"config field {w}.rope_parameters.mrope_section {self.mrope_section} must be 3 "
                              f"ints summing to rotary_dim/2 = {self.rotary_dim // 2}")
        if not self.mrope_interleaved:
            raise ConfigError(f"config field {w}.rope_parameters.mrope_interleaved=false is not supported")
        if self.rms_norm_eps <= 0 or self.rope_theta <= 0:
            raise ConfigError(f"config fields {w}.rms_norm_eps and rope_theta must be > 0")

    @property
    def rotary_dim(self) -> int:
        return int(self.head_dim * self.partial_rotary_factor)

    @classmethod
    def from_dict(cls, d: dict) -> "RaxTextConfig":
        w = "text_config"
        n_layers = _need(d, "num_hidden_layers", w, int)
        # transformers derives layer_types from full_attention_interval when absent.
        interval = _need(d, "full_attention_interval", w, int, 4)
        default_types = ["linear_attention" if (i + 1) % interval else "full_attention" for i in range(n_layers)]
        layer_types = _need(d, "layer_types", w, list, default_types)
        rope = d.get("rope_parameters") or d.get("rope_scaling") or {}
        if not isinstance(rope, dict):
            raise ConfigError(f"config field {w}.rope_parameters must be an object, got {rope!r}")
        rw = f"{w}.rope_parameters"
        # Older configs keep rope_theta / partial_rotary_factor beside rope_parameters.
        theta = _need(rope, "rope_theta", rw, (int, float), d.get("rope_theta", ...))
        section = _need(rope, "mrope_section", rw, list, [11, 11, 10])  # transformers' default
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in section):
            raise ConfigError(f"config field {rw}.mrope_section must be ints, got {section!r}")
        n_heads = _need(d, "num_attention_heads", w, int)
        return cls(
            vocab_size=_need(d, "vocab_size", w, int),
            hidden_size=_need(d, "hidden_size", w, int),
            intermediate_size=_need(d, "intermediate_size", w, int),
            num_hidden_layers=n_layers,
            num_attention_heads=n_heads,
            num_key_value_heads=_need(d, "num_key_value_heads", w, int),
            head_dim=_need(d, "head_dim", w, int),
            hidden_act=_need(d, "hidden_act", w, str, "silu"),
            rms_norm_eps=float(_need(d, "rms_norm_eps", w, (int, float), 1e-6)),
            attention_bias=_need(d, "attention_bias", w, bool, False),
            layer_types=tuple(layer_types),
            linear_conv_kernel_dim=_need(d, "linear_conv_kernel_dim", w, int, 4),
            linear_key_head_dim=_need(d, "linear_key_head_dim", w, int),
            linear_value_head_dim=_need(d, "linear_value_head_dim", w, int),
            linear_num_key_heads=_need(d, "linear_num_key_heads", w, int),
            linear_num_value_heads=_need(d, "linear_num_value_heads", w, int),
            rope_theta=float(theta),
            partial_rotary_factor=float(_need(rope, "partial_rotary_factor", rw, (int, float),
                                              d.get("partial_rotary_factor", 0.25))),
            mrope_section=tuple(section),
            mrope_interleaved=_need(rope, "mrope_interleaved", rw, bool, True),
        )


@dataclass(frozen=True)
class RaxVisionConfig:
    """The ViT that turns patches into text-width tokens (no deepstack in Qwen3.5)."""

    depth: int  # transformer blocks
    hidden_size: int  # ViT width
    intermediate_size: int  # ViT MLP inner width
    num_heads: int  # ViT attention heads (head width = hidden_size / num_heads)
    hidden_act: str  # ViT MLP activation (the merger always uses exact GELU)
    in_channels: int  # image channels (RGB)
    patch_size: int  # spatial patch side in pixels
    temporal_patch_size: int  # frames per patch (images are repeated to fill it)
    spatial_merge_size: int  # merger folds merge x merge patches into one text token
    out_hidden_size: int  # merger output width = text hidden_size
    num_position_embeddings: int  # learned square position table (side = sqrt)
    rope_theta: float  # 2D rotary base

    def __post_init__(self) -> None:
        _positive(self, "vision_config")
        w = "vision_config"
        if self.hidden_size % self.num_heads or (self.hidden_size // self.num_heads) % 4:
            raise ConfigError(f"config field {w}.num_heads must split hidden_size into heads of a multiple of 4")
        side = int(self.num_position_embeddings ** 0.5)
        if side * side != self.num_position_embeddings:
            raise ConfigError(f"config field {w}.num_position_embeddings must be a square, "
                              f"got {self.num_position_embeddings}")
        if self.hidden_act not in ACTIVATIONS:
            raise ConfigError(f"config field {w}.hidden_act {self.hidden_act!r} not in {ACTIVATIONS}")

    @property
    def patch_dim(self) -> int:
        """Flattened (channels, temporal, patch, patch) length of one pixel_values row."""
        return self.in_channels * self.temporal_patch_size * self.patch_size ** 2

    @classmethod
    def from_dict(cls, d: dict) -> "RaxVisionConfig":
        w = "vision_config"
        rope = d.get("rope_parameters") or {}
        if not isinstance(rope, dict):
            raise ConfigError(f"config field {w}.rope_parameters must be an object, got {rope!r}")
        return cls(
            depth=_need(d, "depth", w, int),
            hidden_size=_need(d, "hidden_size", w, int),
            intermediate_size=_need(d, "intermediate_size", w, int),
            num_heads=_need(d, "num_heads", w, int),
            hidden_act=_need(d, "hidden_act", w, str, "gelu_pytorch_tanh"),
            in_channels=_need(d, "in_channels", w, int, 3),
            patch_size=_need(d, "patch_size", w, int, 16),
            temporal_patch_size=_need(d, "temporal_patch_size", w, int, 2),
            spatial_merge_size=_need(d, "spatial_merge_size", w, int, 2),
            out_hidden_size=_need(d, "out_hidden_size", w, int),
            num_position_embeddings=_need(d, "num_position_embeddings", w, int),
            rope_theta=float(_need(rope, "rope_theta", f"{w}.rope_parameters", (int, float), 10000.0)),
        )


@dataclass(frozen=True)
class RaxConfig:
    """The whole model: decoder, vision tower, and the token ids that join them."""

    text: RaxTextConfig  # decoder
    vision: RaxVisionConfig  # vision tower
    image_token_id: int  # <|image_pad|>: one per merged image token
    video_token_id: int  # <|video_pad|>: recognised, not supported
    vision_start_token_id: int  # <|vision_start|>
    vision_end_token_id: int  # <|vision_end|>
    tie_word_embeddings: bool  # lm_head shares embed_tokens (top-level key, as transformers reads it)

    def __post_init__(self) -> None:
        if self.vision.out_hidden_size != self.text.hidden_size:
            raise ConfigError("config field vision_config.out_hidden_size must equal text_config.hidden_size")
        for name in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"):
            v = getattr(self, name)
            if not 0 <= v < self.text.vocab_size:
                raise ConfigError(f"config field {name}={v} is outside the vocabulary")

    @classmethod
    def from_dict(cls, d: dict) -> "RaxConfig":
        if d.get("model_type") not in (None, "qwen3_5"):
            raise ConfigError(f"config field model_type must be 'qwen3_5', got {d.get('model_type')!r}")
        # A config with the decoder's fields at the top level and no text_config (the older flat
        # layout Qwen2-VL configs were written in) reads the same as a nested one.
        flat = "text_config" not in d and "hidden_size" in d
        text = d if flat else _need(d, "text_config", "config", dict)
        vision = _need(d, "vision_config", "config", dict)
        return cls(
            text=RaxTextConfig.from_dict(text),
            vision=RaxVisionConfig.from_dict(vision),
            image_token_id=_need(d, "image_token_id", "config", int),
            video_token_id=_need(d, "video_token_id", "config", int),
            vision_start_token_id=_need(d, "vision_start_token_id", "config", int),
            vision_end_token_id=_need(d, "vision_end_token_id", "config", int),
            # transformers ties lm_head by the top-level key only (default False), whatever text_config says.
            tie_word_embeddings=_need(d, "tie_word_embeddings", "config", bool, False),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> "RaxConfig":
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        try:
            d = json.loads(path.read_text())
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror or e}") from e
        except ValueError as e:  # JSONDecodeError, and bytes that are not UTF-8
            raise ConfigError(f"{path} is not valid JSON: {e}") from e
        if not isinstance(d, dict):
            raise ConfigError(f"{path} must hold a JSON object")
        return cls.from_dict(d)
