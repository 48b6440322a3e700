"""Reference norms for the Gated DeltaNet block: l2norm and the gated RMSNorm.

`naive_l2norm` is x / sqrt(sum(x^2) + eps) over the last axis (eps inside the root,
as fla and transformers do), computed in float32, returned in x's dtype.

`naive_rms_norm_gated` is Qwen3.5's `Qwen3_5RMSNormGated`, op for op:
    h = rmsnorm(x in float32).to(x.dtype)   # the round trip matters in bf16
    y = (weight * h) * silu(z in float32) -> x.dtype
fla's fused kernel keeps everything in float32 until the final cast, so in bf16
the two differ by about one rounding; in float32 they agree.

Not here: layer norm, residual/prenorm fusion, learnable parameters (the model owns them).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from raxdoc.model.ops.backend import OpInputError


def naive_l2norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """L2-normalise the last axis."""
    xf = x.float()
    return (xf * torch.rsqrt(xf.square().sum(-1, keepdim=True) + eps)).to(x.dtype)


def naive_rms_norm_gated(x: torch.Tensor, z: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """RMSNorm(x) * weight * silu(z) over the last axis; x, z (..., D), weight (D,)."""
    if x.shape != z.shape or weight.shape != x.shape[-1:]:
        raise OpInputError(
            f"rms_norm_gated wants x, z (..., D) and weight (D,); got {tuple(x.shape)}, {tuple(z.shape)}, "
            f"{tuple(weight.shape)}"
        )
    xf = x.float()
    h = (xf * torch.rsqrt(xf.square().mean(-1, keepdim=True) + eps)).to(x.dtype)
    return ((weight * h) * F.silu(z.float())).to(x.dtype)
