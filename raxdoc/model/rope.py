"""Rotary position embeddings: the decoder's interleaved mRoPE, the ViT's 2D rotary, and ``rope_index``.

Scope: position ids and cos/sin tables, plus applying them. ``rope_index`` reproduces transformers'
``Qwen3_5Model.get_rope_index`` for images (text advances all three axes, an image's tokens take
(t, h, w) grid positions offset from the text before it). Not here: videos, padded batches
(the engine packs sequences instead of padding them).
"""

from __future__ import annotations

import torch

from raxdoc.model.config import RaxConfig, RaxTextConfig


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class TextRotary(torch.nn.Module):
    """cos/sin for the decoder's full-attention layers from (3, ...) mRoPE positions."""

    def __init__(self, config: RaxTextConfig) -> None:
        super().__init__()
        self.rd, self.theta, self.section = config.rotary_dim, config.rope_theta, config.mrope_section

    @torch.no_grad()
    def forward(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """positions (3, *S) -> cos, sin (*S, rotary_dim) in ``dtype``."""
        # Tables are rebuilt per call (a few hundred floats): no buffers, so meta-device init stays exact.
        dev, rd = positions.device, self.rd
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, rd, 2, dtype=torch.float, device=dev) / rd))
        # Interleaved mRoPE: frequency i follows axis h if i % 3 == 1 (within the first 3*sec_h
        # frequencies), axis w if i % 3 == 2 (first 3*sec_w), else axis t.
        axis = torch.zeros(rd // 2, dtype=torch.long, device=dev)
        for ax in (1, 2):
            axis[ax: 3 * self.section[ax]: 3] = ax
        pos = positions.movedim(0, -1).float()  # (*S, 3)
        freqs = pos[..., axis] * inv_freq  # (*S, rd/2), one axis per frequency
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def apply_text_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first rotary_dim channels of x (..., T, H, D) with cos/sin (..., T, rd); the rest pass."""
    rd = cos.shape[-1]
    cos, sin = cos.unsqueeze(-2), sin.unsqueeze(-2)  # broadcast over heads
    x_rot, x_pass = x[..., :rd], x[..., rd:]
    return torch.cat((x_rot * cos + rotate_half(x_rot) * sin, x_pass), dim=-1)


class VisionRotary(torch.nn.Module):
    """Axial 2D rotary of the ViT: half the frequencies follow the row, half the column."""

    def __init__(self, head_dim: int, theta: float) -> None:
        super().__init__()
        self.spatial, self.theta = head_dim // 2, theta

    @torch.no_grad()
    def forward(self, hw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """hw (N, 2) row/column ids -> cos, sin (N, head_dim) in float32."""
        s = self.spatial
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, s, 2, dtype=torch.float, device=hw.device) / s))
        freqs = hw[..., None].float() * inv_freq  # (N, 2, head_dim/4)
        freqs = freqs.flatten(1)  # (N, head_dim/2): row freqs then column freqs
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()


def apply_vision_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (N, H, D) rotated in float32 (as transformers does), returned in x's dtype."""
    xf = x.float()
    out = xf * cos[:, None] + rotate_half(xf) * sin[:, None]
    return out.to(x.dtype)


def vision_patch_hw(grid_thw: torch.Tensor, merge: int) -> torch.Tensor:
    """(row, col) of every patch, in the processor's merge-block order: (sum t*h*w, 2)."""
    out = []
    for t, h, w in grid_thw.tolist():
        rows = torch.arange(h).view(h // merge, merge, 1, 1).expand(-1, -1, w // merge, merge)
        cols = torch.arange(w).view(1, 1, w // merge, merge).expand(h // merge, merge, -1, -1)
        # (h/m, m, w/m, m) -> block-major (h/m, w/m, m, m)
        hw = torch.stack([rows.transpose(1, 2).flatten(), cols.transpose(1, 2).flatten()], dim=-1)
        out.append(hw.repeat(t, 1))
    return torch.cat(out).to(grid_thw.device)


def _row_positions(is_image: list[bool], grids, merge: int) -> torch.Tensor:
    """(3, T) positions of one unpadded sequence; consumes one grid from ``grids`` per image."""
    T, parts, cur, i = len(is_image), [], 0, 0
    while i < T:
        j = i
        if not is_image[i]:
            while j < T and not is_image[j]:
                j += 1
            parts.append(torch.arange(cur, cur + j - i).expand(3, -1))
            cur += j - i
        else:
            try:
                t, h, w = next(grids)
            except StopIteration:
                raise ValueError("more image token runs than rows in image_grid_thw") from None
            gh, gw = h // merge, w // merge
            j = i + t * gh * gw
            if j > T or not all(is_image[i:j]):
                raise ValueError(f"image with grid {(t, h, w)} needs {t * gh * gw} image tokens at {i}")
            tt, hh, ww = torch.meshgrid(torch.arange(t), torch.arange(gh), torch.arange(gw), indexing="ij")
            parts.append(torch.stack([tt, hh, ww]).reshape(3, -1) + cur)
            # The next text resumes after the image's largest spatial extent.
            cur += max(gh, gw)
        i = j
    return torch.cat(parts, dim=1)


def rope_index(input_ids: torch.Tensor | list[torch.Tensor], image_grid_thw: torch.Tensor | None,
               config: RaxConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """mRoPE positions and rope deltas for unpadded sequences of text and images.

    ``input_ids`` (B, T) -> positions (3, B, T); a list of 1-D sequences (the engine's packed
    layout) -> positions (3, sum T_i), the sequences end to end. Deltas are (B, 1). Images are taken
    from ``image_grid_thw`` in order across the sequences, one per run of image tokens
    (``t*h*w / merge**2`` tokens each). A decode step at absolute index p uses position p + delta
    on all three axes.
    """
    grids = iter(image_grid_thw.tolist() if image_grid_thw is not None else [])
    rows = list(input_ids)
    is_image = [(r == config.image_token_id).tolist() for r in rows]
    pos = [_row_positions(m, grids, config.vision.spatial_merge_size) for m in is_image]
    if next(grids, None) is not None:
        raise ValueError("image_grid_thw has more rows than image token runs in input_ids")
    device = rows[0].device
    deltas = torch.tensor([[int(p.max()) + 1 - p.shape[1]] for p in pos], device=device)
    if isinstance(input_ids, torch.Tensor):
        return torch.stack(pos, dim=1).to(device), deltas
    return torch.cat(pos, dim=1).to(device), deltas
