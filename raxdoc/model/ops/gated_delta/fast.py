"""Dispatching gated delta rule: fla's Triton kernels on CUDA, the naive ops elsewhere.

Signatures are fla 0.6's (the subset we use), so the fla branch is a pass-through.
fla 0.6 handles grouped value attention (HV a multiple of H) itself, like the naive
ops, so callers need not repeat q/k. fla is imported inside the function, and only
when `use_fla` says so: a CPU run never loads it.

Not here: fla's in-kernel gate (`use_gate_in_kernel`), context parallelism, backward.
"""

from __future__ import annotations

import torch

from raxdoc.model.ops.backend import use_fla
from raxdoc.model.ops.gated_delta.naive import naive_chunk_gated_delta_rule, naive_recurrent_gated_delta_rule


def chunk_gated_delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    g: torch.Tensor,
    beta: torch.Tensor,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    cu_seqlens: torch.Tensor | None = None,
    use_qk_l2norm_in_kernel: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Prefill form: (o (B, T, HV, V), final state (N, HV, K, V) or None)."""
    if not use_fla(q, k, v, g, beta, initial_state):
        return naive_chunk_gated_delta_rule(
            q, k, v, g, beta, scale=scale, initial_state=initial_state, output_final_state=output_final_state,
            cu_seqlens=cu_seqlens, use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel,
        )
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule as fla_chunk

    return fla_chunk(
        q=q, k=k, v=v, g=g, beta=beta, scale=scale, initial_state=initial_state,
        output_final_state=output_final_state, cu_seqlens=cu_seqlens,
        use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel,
    )


def fused_recurrent_gated_delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    g: torch.Tensor,
    beta: torch.Tensor,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    cu_seqlens: torch.Tensor | None = None,
    use_qk_l2norm_in_kernel: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Decode form (a few tokens per sequence); same contract as `chunk_gated_delta_rule`."""
    if not use_fla(q, k, v, g, beta, initial_state):
        return naive_recurrent_gated_delta_rule(
            q, k, v, g, beta, scale=scale, initial_state=initial_state, output_final_state=output_final_state,
            cu_seqlens=cu_seqlens, use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel,
        )
    from fla.ops.gated_delta_rule import fused_recurrent_gated_delta_rule as fla_recurrent

    # Keywords only: fla's positional order here is (q, k, v, g, gk, gv, beta, ...).
    return fla_recurrent(
        q=q, k=k, v=v, g=g, beta=beta, scale=scale, initial_state=initial_state,
        output_final_state=output_final_state, cu_seqlens=cu_seqlens,
        use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel,
    )
