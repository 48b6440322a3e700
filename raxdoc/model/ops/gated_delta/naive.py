"""Gated delta rule in plain torch: the spec the fla kernels are tested against.

Layout follows fla: q/k (B, T, H, K), v (B, T, HV, V), g and beta (B, T, HV), g the
log-space decay (the state is multiplied by exp(g) each step), states (N, HV, K, V)
float32. HV may be a multiple of H (grouped value attention): value head j reads
key head j // (HV // H), as fla 0.6 and transformers' repeat_interleave do.

Per token t, with S the (K, V) state of one head:
    S = exp(g_t) * S
    S = S + k_t (beta_t * (v_t - k_t^T S))^T
    o_t = (scale * q_t)^T S

`naive_recurrent_gated_delta_rule` is that loop; `naive_chunk_gated_delta_rule`
gets the same numbers 64 tokens at a time through the UT transform. Both do
their math in float32 and return o in q's dtype. With cu_seqlens, B is 1 and each
packed segment runs on its own from its own initial state row.

Not here: backward passes, the fused gate (`-exp(A_log) * softplus(a + dt_bias)`
stays with the model), and speed.
"""

from __future__ import annotations

import torch

from raxdoc.model.ops.backend import OpInputError
from raxdoc.model.ops.norm.naive import naive_l2norm

DEFAULT_CHUNK_SIZE = 64


def _check(q, k, v, g, beta, initial_state, cu_seqlens) -> int:
    """Validate shapes; return N, the number of sequences."""
    if q.dim() != 4 or q.shape != k.shape:
        raise OpInputError(f"q and k must both be (B, T, H, K); got {tuple(q.shape)} and {tuple(k.shape)}")
    B, T, H, _ = q.shape
    if v.dim() != 4 or v.shape[:2] != (B, T):
        raise OpInputError(f"v must be (B, T, HV, V) with B, T = {B}, {T}; got {tuple(v.shape)}")
    HV = v.shape[2]
    if HV % H:
        raise OpInputError(f"value heads ({HV}) must be a multiple of key heads ({H})")
    for name, t in (("g", g), ("beta", beta)):
        if t.shape != (B, T, HV):
            raise OpInputError(f"{name} must be (B, T, HV) = {(B, T, HV)}; got {tuple(t.shape)}")
    n = B
    if cu_seqlens is not None:
        if B != 1:
            raise OpInputError(f"with cu_seqlens the batch must be 1 (packed); got B={B}")
        if cu_seqlens.dim() != 1 or len(cu_seqlens) < 2 or int(cu_seqlens[0]) != 0 or int(cu_seqlens[-1]) != T:
            raise OpInputError(f"cu_seqlens must run from 0 to T={T}; got {cu_seqlens.tolist()}")
        if bool((cu_seqlens[1:] < cu_seqlens[:-1]).any()):
            raise OpInputError(f"cu_seqlens must be non-decreasing; got {cu_seqlens.tolist()}")
        n = len(cu_seqlens) - 1
    if initial_state is not None and initial_state.shape != (n, HV, q.shape[-1], v.shape[-1]):
        raise OpInputError(
            f"initial_state must be (N, HV, K, V) = {(n, HV, q.shape[-1], v.shape[-1])}; "
            f"got {tuple(initial_state.shape)}"
        )
    return n


def _prepare(q, k, v, g, beta, scale, use_qk_l2norm_in_kernel):
    """To float32, head-major (B, HV, T, ·), q/k normalised, q scaled."""
    H, HV = q.shape[2], v.shape[2]
    q, k = q.float(), k.float()
    if use_qk_l2norm_in_kernel:
        q, k = naive_l2norm(q), naive_l2norm(k)
    if HV != H:
        q = q.repeat_interleave(HV // H, dim=2)  # (B, T, HV, K)
        k = k.repeat_interleave(HV // H, dim=2)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    q = q * scale
    # (B, T, HV, ·) -> (B, HV, T, ·)
    q, k, v = (x.transpose(1, 2).float() for x in (q, k, v))
    g, beta = (x.transpose(1, 2).float() for x in (g, beta))
    return q, k, v, g, beta


def _varlen(fn, q, k, v, g, beta, initial_state, output_final_state, cu_seqlens, **kw):
    """Run `fn` on each packed segment separately; concatenate outputs, stack states."""
    bounds = cu_seqlens.tolist()
    outs, states = [], []
    for i, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        h0 = None if initial_state is None else initial_state[i : i + 1]
        o, ht = fn(
            q[:, start:end], k[:, start:end], v[:, start:end], g[:, start:end], beta[:, start:end],
            initial_state=h0, output_final_state=True, **kw,
        )
        outs.append(o)
        states.append(ht)
    o = torch.cat(outs, dim=1)
    return o, (torch.cat(states, dim=0) if output_final_state else None)


def _initial(initial_state, q, v) -> torch.Tensor:
    """The float32 (B, HV, K, V) starting state; never aliases the caller's tensor."""
    if initial_state is None:
        return q.new_zeros(*q.shape[:2], q.shape[-1], v.shape[-1])
    return initial_state.float().clone()


def naive_recurrent_gated_delta_rule(
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
    """Token-by-token gated delta rule. Returns (o (B, T, HV, V), final state (N, HV, K, V) float32 or None)."""
    _check(q, k, v, g, beta, initial_state, cu_seqlens)
    kw = dict(scale=scale, use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel)
    if cu_seqlens is not None:
        return _varlen(naive_recurrent_gated_delta_rule, q, k, v, g, beta, initial_state, output_final_state,
                       cu_seqlens, **kw)
    out_dtype = q.dtype
    q, k, v, g, beta = _prepare(q, k, v, g, beta, scale, use_qk_l2norm_in_kernel)
    state = _initial(initial_state, q, v)  # (B, HV, K, V)
    o = v.new_zeros(v.shape)  # (B, HV, T, V)
    for t in range(q.shape[2]):
        state = state * g[:, :, t, None, None].exp()
        k_t = k[:, :, t]  # (B, HV, K)
        predicted = torch.einsum("bhk,bhkv->bhv", k_t, state)
        delta = beta[:, :, t, None] * (v[:, :, t] - predicted)  # (B, HV, V)
        state = state + k_t[..., :, None] * delta[..., None, :]
        o[:, :, t] = torch.einsum("bhk,bhkv->bhv", q[:, :, t], state)
    o = o.transpose(1, 2).to(out_dtype)  # (B, T, HV, V)
    return o, (state if output_final_state else None)


def naive_chunk_gated_delta_rule(
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
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Chunked (UT transform) gated delta rule; same contract as the recurrent one."""
    _check(q, k, v, g, beta, initial_state, cu_seqlens)
    kw = dict(scale=scale, use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel, chunk_size=chunk_size)
    if cu_seqlens is not None:
        return _varlen(naive_chunk_gated_delta_rule, q, k, v, g, beta, initial_state, output_final_state,
                       cu_seqlens, **kw)
    out_dtype = q.dtype
    q, k, v, g, beta = _prepare(q, k, v, g, beta, scale, use_qk_l2norm_in_kernel)
    B, HV, T, K = q.shape
    C = chunk_size
    pad = -T % C
    if pad:
        # Zero k, beta and g on the padding: those steps neither write nor decay the state.
        q, k, v = (torch.nn.functional.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
        g, beta = (torch.nn.functional.pad(x, (0, pad)) for x in (g, beta))
    n_chunks = (T + pad) // C
    # (B, HV, T, ·) -> (B, HV, n_chunks, C, ·)
    q, k, v = (x.reshape(B, HV, n_chunks, C, x.shape[-1]) for x in (q, k, v))
    g, beta = (x.reshape(B, HV, n_chunks, C) for x in (g, beta))

    gamma = g.cumsum(-1)  # log decay from the chunk start through position i
    causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
    # decay_ij = exp(gamma_i - gamma_j) for j <= i; masked before exp so nothing overflows
    decay = (gamma[..., :, None] - gamma[..., None, :]).masked_fill(~causal, float("-inf")).exp()
    k_beta = k * beta[..., None]
    # Unit lower-triangular system (I + A), A_ij = beta_i k_i.k_j decay_ij for j < i; its inverse
    # folds the chunk's C sequential delta updates into matrix products (the UT / WY form).
    system = (k_beta @ k.transpose(-1, -2)) * decay.tril(-1) + torch.eye(C, device=q.device)
    u = torch.linalg.solve_triangular(system, v * beta[..., None], upper=False, unitriangular=True)
    w = torch.linalg.solve_triangular(system, k_beta * gamma.exp()[..., None], upper=False, unitriangular=True)
    scores = (q @ k.transpose(-1, -2)) * decay  # intra-chunk, causal incl. the diagonal
    q_decayed = q * gamma.exp()[..., None]  # reads the state left by the previous chunk
    chunk_decay = gamma[..., -1].exp()  # (B, HV, n_chunks)
    k_to_end = k * (gamma[..., -1:] - gamma).exp()[..., None]  # decays each write to the chunk end

    state = _initial(initial_state, q, v)  # (B, HV, K, V)
    o = torch.empty_like(v)
    for c in range(n_chunks):
        v_new = u[:, :, c] - w[:, :, c] @ state  # what the state does not yet predict
        o[:, :, c] = q_decayed[:, :, c] @ state + scores[:, :, c] @ v_new
        state = state * chunk_decay[:, :, c, None, None] + k_to_end[:, :, c].transpose(-1, -2) @ v_new
    # (B, HV, n_chunks, C, V) -> (B, T, HV, V)
    o = o.reshape(B, HV, n_chunks * C, v.shape[-1])[:, :, :T].transpose(1, 2).to(out_dtype)
    return o, (state if output_final_state else None)
