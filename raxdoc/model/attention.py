"""Gated full attention of the hybrid decoder (every 4th layer in Rax 4.5).

q_proj yields per head [query | gate] (2 * head_dim); q and k get a per-head RMSNorm, the first
rotary_dim channels get interleaved mRoPE, K/V heads are shared by query groups (GQA) and the output
is multiplied by sigmoid(gate) before o_proj. Not here: positions (``rope.py``), cache allocation
(``cache.py``).
"""

from __future__ import annotations

import torch
from torch import nn

from raxdoc.model.config import RaxTextConfig
from raxdoc.model.norm import RMSNorm
from raxdoc.model.rope import apply_text_rotary
from raxdoc.model.ops.attention import sdpa, varlen_attention


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
           cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
    """Causal attention without a cache: batch-first (B, T, H, D), or packed (1, N, H, D) + cu_seqlens."""
    if cu_seqlens is not None:
        return varlen_attention(q[0], k[0], v[0], cu_seqlens, causal=True, scale=scale)[None]
    return sdpa(q, k, v, causal=True, scale=scale)


class AttentionState:
    """K/V seen so far by one full-attention layer, batch-first: (B, S, Hkv, D), grown by concatenation.

    The layer hands its rotated q, k, v to ``state.attend``: an engine can pass any object with that
    method (a slot pool with paged K/V and flash-attn varlen, say) without the layer knowing.
    """

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.shape[1]

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
               cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        """Append k, v (B, T, Hkv, D); queries (B, T, H, D) at past + i see keys 0 .. past + i."""
        if cu_seqlens is not None:
            raise NotImplementedError("AttentionState is batch-first; packed prefill needs the engine's state")
        past, T = self.length, q.shape[1]
        self.k = k if self.k is None else torch.cat([self.k, k], dim=1)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=1)
        if past == 0:
            return sdpa(q, self.k, self.v, causal=True, scale=scale)
        mask = None
        if T > 1:
            qi = torch.arange(T, device=q.device)[:, None] + past
            mask = torch.arange(past + T, device=q.device)[None, :] <= qi
        return sdpa(q, self.k, self.v, causal=False, scale=scale, mask=mask)


class FullAttention(nn.Module):
    def __init__(self, config: RaxTextConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = config.head_dim
        self.scale = self.head_dim ** -0.5
        hd, bias = self.head_dim, config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, self.n_heads * hd * 2, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, self.n_kv * hd, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, self.n_kv * hd, bias=bias)
        self.o_proj = nn.Linear(self.n_heads * hd, config.hidden_size, bias=bias)
        self.q_norm = RMSNorm(hd, config.rms_norm_eps)
        self.k_norm = RMSNorm(hd, config.rms_norm_eps)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor],
                state: AttentionState | None = None, cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, hidden), rope cos/sin (B, T, rotary_dim) -> (B, T, hidden).

        With ``cu_seqlens`` (B must be 1) the T tokens are packed sequences, each attending only to
        itself. With ``state`` the attention (and K/V storage) is ``state.attend``.
        """
        B, T, _ = x.shape
        qg = self.q_proj(x).view(B, T, self.n_heads, 2 * self.head_dim)
        q, gate = qg.chunk(2, dim=-1)  # per head: query then gate, (B, T, H, D) each
        gate = gate.reshape(B, T, -1)
        q = self.q_norm(q)
        k = self.k_norm(self.k_proj(x).view(B, T, self.n_kv, self.head_dim))
        v = self.v_proj(x).view(B, T, self.n_kv, self.head_dim)
        cos, sin = rope
        q, k = apply_text_rotary(q, cos, sin), apply_text_rotary(k, cos, sin)

        if state is None:
            out = attend(q, k, v, self.scale, cu_seqlens)
        else:
            out = state.attend(q, k, v, self.scale, cu_seqlens)
        out = out.reshape(B, T, -1) * torch.sigmoid(gate)
        return self.o_proj(out)
