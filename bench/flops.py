"""Model FLOPs of Rax work, counted analytically from the config, and bf16 peaks per device.

What one page costs, split the way the engine runs it:
- prefill: the ViT over the page's patches, the decoder over all T prompt tokens, one lm_head row
  (the engine reads logits at each sequence's last position only);
- decode: the remaining n - 1 output tokens, one decoder pass and one lm_head row each.

Counted (multiply-add = 2 FLOPs): every Linear weight once per token it sees (ViT blocks per patch,
merger per merged token, decoder layers per token, lm_head per logits row); softmax attention
QK^T and AV, 4 * keys * head_dim per query head (ViT: all patches of its image; decoder: causal,
position p attends p + 1 keys); the Gated DeltaNet recurrence 6 * dk * dv per value head per token
(read k^T S, rank-1 update, read q^T S) and its depthwise conv 2 * kernel per channel.
Not counted: norms, activations, rotary, gating, embeddings lookups, sampling: elementwise work
that is a rounding error next to the matmuls. The same count serves both the engine and the
transformers baseline, so their ratio is unaffected by what is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from raxdoc.model.config import RaxConfig, RaxTextConfig, RaxVisionConfig

# Dense bf16 tensor-core peaks in TFLOP/s (vendor datasheets, no sparsity), matched on the
# lower-cased device name, first hit wins: more specific names come first.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("h100 pcie", 756.0),
    ("h100 nvl", 835.0),
    ("h100", 989.0),
    ("h200", 989.0),
    ("gh200", 989.0),
    ("a100", 312.0),
    ("a10g", 125.0),
    ("l40s", 362.0),
    ("l4", 121.0),
)


def peak_bf16_flops(device_name: str) -> float | None:
    """The device's dense bf16 peak in FLOP/s, or None for a device not in the table."""
    name = device_name.lower()
    for key, tflops in PEAK_BF16_TFLOPS:
        if key in name:
            return tflops * 1e12
    return None


def text_linear_weights(text: RaxTextConfig) -> int:
    """Linear weights one decoder token passes through, all layers (lm_head and embeddings excluded)."""
    h = text.hidden_size
    mlp = 3 * h * text.intermediate_size  # gate, up, down
    hd = text.head_dim
    # q_proj is twice as wide: queries and their output gate.
    full = h * 2 * text.num_attention_heads * hd + 2 * h * text.num_key_value_heads * hd \
        + text.num_attention_heads * hd * h
    key_dim = text.linear_num_key_heads * text.linear_key_head_dim
    value_dim = text.linear_num_value_heads * text.linear_value_head_dim
    conv_dim = 2 * key_dim + value_dim
    # in_proj_qkv, in_proj_z, in_proj_b, in_proj_a, out_proj
    linear = h * conv_dim + h * value_dim + 2 * h * text.linear_num_value_heads + value_dim * h
    n_full = sum(t == "full_attention" for t in text.layer_types)
    n_linear = len(text.layer_types) - n_full
    return n_full * full + n_linear * linear + len(text.layer_types) * mlp


def _linear_layer_extra(text: RaxTextConfig) -> int:
    """Gated DeltaNet FLOPs per token and layer that are not Linear weights: conv and recurrence."""
    key_dim = text.linear_num_key_heads * text.linear_key_head_dim
    conv_dim = 2 * key_dim + text.linear_num_value_heads * text.linear_value_head_dim
    conv = 2 * text.linear_conv_kernel_dim * conv_dim
    recurrence = 6 * text.linear_key_head_dim * text.linear_value_head_dim * text.linear_num_value_heads
    return conv + recurrence


def vision_linear_weights(vision: RaxVisionConfig) -> tuple[int, int]:
    """(Linear weights per patch: patch embed + blocks, per merged token: merger)."""
    d = vision.hidden_size
    block = d * 3 * d + d * d + 2 * d * vision.intermediate_size  # qkv, proj, fc1, fc2
    merged = d * vision.spatial_merge_size ** 2
    return vision.patch_dim * d + vision.depth * block, merged * merged + merged * vision.out_hidden_size


@dataclass(frozen=True)
class PageFlops:
    vit: float  # vision tower over the page's patches
    prefill_text: float  # decoder over the prompt + the first lm_head row
    decode: float  # the n - 1 decode steps, lm_head included

    @property
    def prefill(self) -> float:
        return self.vit + self.prefill_text

    @property
    def total(self) -> float:
        return self.prefill + self.decode


def _causal_attention(text: RaxTextConfig, first: int, count: int) -> float:
    """Full-attention score + value FLOPs for `count` queries at positions first .. first+count-1."""
    if count <= 0:
        return 0.0
    n_full = sum(t == "full_attention" for t in text.layer_types)
    # sum_{p=first}^{first+count-1} (p + 1) keys
    keys = count * first + count * (count + 1) // 2
    return 4.0 * keys * text.num_attention_heads * text.head_dim * n_full


def page_flops(config: RaxConfig, prompt_tokens: int, new_tokens: int,
               image_grid_thw: Sequence[Sequence[int]] = ()) -> PageFlops:
    """FLOPs of prefilling `prompt_tokens` (images given by their (t, h, w) patch grids) and
    generating `new_tokens` (the first from prefill, the rest one decode step each)."""
    if prompt_tokens < 1 or new_tokens < 1:
        raise ValueError(f"need prompt_tokens >= 1 and new_tokens >= 1, got {prompt_tokens}, {new_tokens}")
    text, vision = config.text, config.vision
    per_patch, per_merged = vision_linear_weights(vision)
    vit = 0.0
    for t, h, w in image_grid_thw:
        patches = t * h * w
        vit += 2.0 * per_patch * patches + 2.0 * per_merged * (patches // vision.spatial_merge_size ** 2)
        vit += 4.0 * patches * patches * vision.hidden_size * vision.depth  # bidirectional, per image
    n_linear = sum(t == "linear_attention" for t in text.layer_types)
    per_token = 2.0 * text_linear_weights(text) + n_linear * _linear_layer_extra(text)
    head = 2.0 * text.hidden_size * text.vocab_size
    prefill = prompt_tokens * per_token + _causal_attention(text, 0, prompt_tokens) + head
    steps = new_tokens - 1
    decode = steps * (per_token + head) + _causal_attention(text, prompt_tokens, steps)
    return PageFlops(vit=vit, prefill_text=prefill, decode=decode)
