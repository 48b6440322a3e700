"""The decoder's RMSNorm, zero-centred: the stored weight w scales by (1 + w), as Qwen3.5 saves it.

Used for input/post-attention norms, the final norm and the q/k norms of full attention. Not here:
the Gated DeltaNet output norm (plain weight, gated by silu(z): ``ops.rms_norm_gated``) and the
ViT's LayerNorms.
"""

from __future__ import annotations

import torch
from torch import nn


class RMSNorm(nn.Module):
    """Zero-centred RMSNorm: the weight is stored as an offset from 1 (Qwen3.5's decoder norms)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise and scale in float32, cast once at the end (as transformers does for Qwen3.5).
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf * (1.0 + self.weight.float())).to(x.dtype)
