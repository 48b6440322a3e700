"""Dispatching norms: fla's fused Triton kernels on CUDA, the naive ones elsewhere.

fla is imported inside each function, and only when `use_fla` says so.
"""

from __future__ import annotations

import torch

from raxdoc.model.ops.backend import OpInputError, use_fla
from raxdoc.model.ops.norm.naive import naive_l2norm, naive_rms_norm_gated


def l2norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """L2-normalise the last axis (see `naive_l2norm`)."""
    if not use_fla(x):
        return naive_l2norm(x, eps)
    from fla.modules.norm.l2norm import l2norm as fla_l2norm

    return fla_l2norm(x, eps=eps)


def rms_norm_gated(x: torch.Tensor, z: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """RMSNorm(x) * weight * silu(z) (see `naive_rms_norm_gated` for the precision note)."""
    if not use_fla(x, z, weight):
        return naive_rms_norm_gated(x, z, weight, eps)
    if x.shape != z.shape or weight.shape != x.shape[-1:]:
        raise OpInputError(f"rms_norm_gated shapes {tuple(x.shape)}, {tuple(z.shape)}, {tuple(weight.shape)}")
    from fla.modules.norm.fused_norm_gate import rms_norm_gated as fla_rms_norm_gated

    return fla_rms_norm_gated(x=x, g=z, weight=weight, bias=None, activation="silu", eps=eps)
