"""Dispatching causal conv1d: fla's Triton kernels on CUDA, the naive ops elsewhere.

fla 0.6 keeps the same (N, D, W) state layout as the naive ops, so states pass
through unchanged. Its `causal_conv1d_update` returns (y, cache) and takes weight
by keyword after a `residual` slot; the wrapper hides both. fla is imported inside
the functions, only when `use_fla` says so.
"""

from __future__ import annotations

import torch

from raxdoc.model.ops.backend import use_fla
from raxdoc.model.ops.conv1d.naive import naive_causal_conv1d, naive_causal_conv1d_update


def causal_conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = "silu",
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    cu_seqlens: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Prefill: (y (B, T, D), final conv state (N, D, W) or None); see `naive_causal_conv1d`."""
    if not use_fla(x, weight, bias, initial_state):
        return naive_causal_conv1d(x, weight, bias, activation, initial_state, output_final_state, cu_seqlens)
    from fla.modules.causal_conv1d import causal_conv1d as fla_conv

    return fla_conv(
        x=x, weight=weight, bias=bias, initial_state=initial_state, output_final_state=output_final_state,
        activation=activation, cu_seqlens=cu_seqlens,
    )


def causal_conv1d_update(
    x: torch.Tensor,
    conv_state: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = "silu",
) -> torch.Tensor:
    """One decode step, conv_state updated in place; see `naive_causal_conv1d_update`."""
    if not use_fla(x, conv_state, weight, bias):
        return naive_causal_conv1d_update(x, conv_state, weight, bias, activation)
    from fla.modules.causal_conv1d import causal_conv1d_update as fla_update

    y, _ = fla_update(x=x, cache=conv_state, weight=weight, bias=bias, activation=activation)
    return y
