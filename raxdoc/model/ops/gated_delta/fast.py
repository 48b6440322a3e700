"""Dispatching gated delta rule: fla's Triton kernels on CUDA, the naive ops elsewhere.

Signatures are fla 0.6's (the subset we use), so the fla branch is a pass-through.
fla 0.6 handles grouped value attention (HV a multiple of H) itself, like the naive
ops, so callers need not repeat q/k. fla is imported inside the function, and only
when `use_fla` says so: a CPU run never loads it.

`fused_recurrent_gated_delta_rule_update` is the decode step over a state pool: row i
reads and writes `state[state_indices[i]]` in place, so a batch of slots never copies its
states out and back (at rax-4.5 sizes that copy moved ~2x the state bytes the step itself
reads). fla 0.6's gated-delta kernel has no slot indices; its KDA kernel does, and the gated
delta rule is KDA with the per-head decay repeated over the key channels, so the fla
branch calls `fused_recurrent_kda_fwd` with g broadcast to (B, T, HV, K).

Not here: fla's in-kernel gate (`use_gate_in_kernel`), context parallelism, backward.
"""

from __future__ import annotations

import torch

from raxdoc.model.ops.backend import OpInputError, use_fla
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


def fused_recurrent_gated_delta_rule_update(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    g: torch.Tensor,
    beta: torch.Tensor,
    state: torch.Tensor,
    state_indices: torch.Tensor,
    scale: float | None = None,
    use_qk_l2norm_in_kernel: bool = False,
) -> torch.Tensor:
    """Decode over a state pool: q/k (B, T, H, K), v (B, T, HV, V), g/beta (B, T, HV); `state`
    (S, HV, K, V) float32; `state_indices` (B,) long, the pool row of each batch row. Returns o
    (B, T, HV, V); rows `state_indices` of `state` hold the final states afterwards. Rows must be
    distinct except for padding rows whose results are discarded (the last writer wins there)."""
    B, T, HV, V = v.shape
    if state.dim() != 4 or state.shape[1] != HV or state.shape[3] != V or state.shape[2] != k.shape[-1]:
        raise OpInputError(f"state must be (S, {HV}, {k.shape[-1]}, {V}); got {tuple(state.shape)}")
    if state_indices.shape != (B,):
        raise OpInputError(f"state_indices must be ({B},); got {tuple(state_indices.shape)}")
    if not use_fla(q, k, v, g, beta, state):
        o, final = naive_recurrent_gated_delta_rule(
            q, k, v, g, beta, scale=scale, initial_state=state.index_select(0, state_indices),
            output_final_state=True, use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel,
        )
        state.index_copy_(0, state_indices, final.to(state.dtype))
        return o
    from fla.ops.kda.fused_recurrent import fused_recurrent_kda_fwd

    if not state.is_contiguous():
        raise OpInputError("the fla decode kernel addresses state rows by stride: the pool must be contiguous")
    # The kernel walks raw offsets: every input contiguous, g per key channel (B, T, HV, K).
    o, _ = fused_recurrent_kda_fwd(
        q=q.contiguous(), k=k.contiguous(), v=v.contiguous(),
        g=g.float()[..., None].expand(B, T, HV, k.shape[-1]).contiguous(), beta=beta.contiguous(),
        initial_state=state, scale=scale, inplace_final_state=True, ssm_state_indices=state_indices,
        use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel,
    )
    return o
