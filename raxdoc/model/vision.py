"""The Rax 4.5 vision tower: patches of every image in a packed batch -> text-width image tokens.

Patch embedding (a Linear over flattened (C, temporal, patch, patch) pixels, the same map as the
checkpoint's stride-equal Conv3d), learned position table bilinearly resampled to each grid, blocks
whose attention stays inside each image frame (``cu_seqlens``, no padding), and the 2x2 merger into
the text width. Qwen3.5 has no deepstack taps (unlike Qwen3-VL): only the merger output is used.
Not here: pixel preprocessing (the processor) or where image tokens go in the prompt (``rax.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from raxdoc.model.config import RaxVisionConfig
from raxdoc.model.layers import ACT
from raxdoc.model.rope import VisionRotary, apply_vision_rotary, vision_patch_hw
from raxdoc.model.ops.attention.varlen import varlen_attention


def _axis_taps(n: int, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear (align_corners=True) taps into a ``side``-long table for ``n`` targets: (n, 2) each."""
    src = torch.arange(n, dtype=torch.float32) * (side - 1) / max(n - 1, 1)
    floor = src.floor()
    raw = floor.long()[:, None] + torch.arange(2)
    weights = (1 - (src[:, None] - raw.float()).abs()).clamp(min=0)
    return raw.clamp(0, side - 1), weights


def interpolation_taps(grid_thw: torch.Tensor, side: int, merge: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per patch (merge-block order), 4 indices into the flattened side x side table and their weights."""
    hw = vision_patch_hw(grid_thw.cpu(), merge)  # (N, 2)
    idx, wts = [], []
    start = 0
    for t, h, w in grid_thw.tolist():
        rows, cols = hw[start: start + t * h * w, 0], hw[start: start + t * h * w, 1]
        start += t * h * w
        (rt, rw), (ct, cw) = _axis_taps(h, side), _axis_taps(w, side)
        # outer product of row and column taps: (n, 2, 2) -> (n, 4)
        idx.append((rt[rows][:, :, None] * side + ct[cols][:, None, :]).reshape(-1, 4))
        wts.append((rw[rows][:, :, None] * cw[cols][:, None, :]).reshape(-1, 4))
    return torch.cat(idx), torch.cat(wts)


def frame_cu_seqlens(grid_thw: torch.Tensor) -> torch.Tensor:
    """Attention segments: every frame (h * w patches) of every image is its own segment."""
    lens = torch.repeat_interleave(grid_thw[:, 1] * grid_thw[:, 2], grid_thw[:, 0])
    return F.pad(lens.cumsum(0), (1, 0)).to(torch.int32)


class VisionAttention(nn.Module):
    def __init__(self, config: RaxVisionConfig) -> None:
        super().__init__()
        self.heads = config.num_heads
        self.head_dim = config.hidden_size // config.num_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=True)
        self.proj = nn.Linear(config.hidden_size, config.hidden_size, bias=True)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], cu_seqlens: torch.Tensor):
        N = x.shape[0]
        q, k, v = self.qkv(x).view(N, 3, self.heads, self.head_dim).unbind(1)  # (N, H, D) each
        q, k = apply_vision_rotary(q, *rope), apply_vision_rotary(k, *rope)
        out = varlen_attention(q, k, v, cu_seqlens, causal=False, scale=self.head_dim ** -0.5)
        return self.proj(out.reshape(N, -1))


class VisionMLP(nn.Module):
    def __init__(self, config: RaxVisionConfig) -> None:
        super().__init__()
        self.linear_fc1 = nn.Linear(config.hidden_size, config.intermediate_size, bias=True)
        self.linear_fc2 = nn.Linear(config.intermediate_size, config.hidden_size, bias=True)
        self.act = ACT[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_fc2(self.act(self.linear_fc1(x)))


class VisionBlock(nn.Module):
    def __init__(self, config: RaxVisionConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.hidden_size, eps=1e-6)
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=1e-6)
        self.attn = VisionAttention(config)
        self.mlp = VisionMLP(config)

    def forward(self, x, rope, cu_seqlens):
        x = x + self.attn(self.norm1(x), rope, cu_seqlens)
        return x + self.mlp(self.norm2(x))


class PatchMerger(nn.Module):
    """LayerNorm per patch, then merge x merge neighbouring patches -> one text-width token."""

    def __init__(self, config: RaxVisionConfig) -> None:
        super().__init__()
        self.merged = config.hidden_size * config.spatial_merge_size ** 2
        self.norm = nn.LayerNorm(config.hidden_size, eps=1e-6)
        self.linear_fc1 = nn.Linear(self.merged, self.merged)
        self.linear_fc2 = nn.Linear(self.merged, config.out_hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Patches arrive in merge-block order, so each run of merge**2 rows is one block.
        x = self.norm(x).view(-1, self.merged)  # (N / merge**2, merge**2 * hidden)
        return self.linear_fc2(F.gelu(self.linear_fc1(x)))


class PatchEmbed(nn.Module):
    """The checkpoint's Conv3d (kernel == stride == one patch) as a Linear over flattened patches."""

    def __init__(self, config: RaxVisionConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(config.patch_dim, config.hidden_size, bias=True)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.proj(pixels.to(self.proj.weight.dtype))


class RaxVisionModel(nn.Module):
    def __init__(self, config: RaxVisionConfig) -> None:
        super().__init__()
        self.config = config
        self.side = int(config.num_position_embeddings ** 0.5)
        self.patch_embed = PatchEmbed(config)
        self.pos_embed = nn.Embedding(config.num_position_embeddings, config.hidden_size)
        self.rotary = VisionRotary(config.hidden_size // config.num_heads, config.rope_theta)
        self.blocks = nn.ModuleList(VisionBlock(config) for _ in range(config.depth))
        self.merger = PatchMerger(config)

    def forward(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> torch.Tensor:
        """pixel_values (sum t*h*w, patch_dim), grid_thw (images, 3) -> tokens (sum t*h*w / merge**2, out)."""
        merge = self.config.spatial_merge_size
        if pixel_values.shape != (int(grid_thw.prod(-1).sum()), self.config.patch_dim):
            raise ValueError(f"pixel_values {tuple(pixel_values.shape)} do not match grids {grid_thw.tolist()}")
        dev = pixel_values.device
        x = self.patch_embed(pixel_values)
        idx, wts = interpolation_taps(grid_thw, self.side, merge)
        # weights stay float32, so the blend is float32 (as in transformers) before the cast
        pos = (self.pos_embed(idx.to(dev)) * wts.to(dev)[:, :, None]).sum(1)
        x = x + pos.to(x.dtype)
        rope = self.rotary(vision_patch_hw(grid_thw.cpu(), merge).to(dev))
        cu = frame_cu_seqlens(grid_thw.cpu()).to(dev)
        for block in self.blocks:
            x = block(x, rope, cu)
        return self.merger(x)
