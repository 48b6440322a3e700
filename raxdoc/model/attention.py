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
from raxdoc.model.rope import apply_text_rotary
from raxdoc.model.varlen import sdpa, varlen_attention


class AttentionState:
    """K/V seen so far by one full-attention layer, batch-first: (B, S, Hkv, D)."""

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.shape[1]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.k = k if self.k is None else torch.cat([self.k, k], dim=1)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=1)
        return self.k, self.v


class FullAttention(nn.Module):
    def __init__(self, config: RaxTextConfig) -> None:
        super().__init__()
        from raxdoc.model.layers import RMSNorm  # layers imports this module

        self.n_heads, self.n_kv, self.head_dim = config.num_attention_heads, config.num_key_value_heads, config.head_dim
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
        itself. With ``state`` the new K/V are appended and the queries see everything before them.
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

        if cu_seqlens is not None:
            if state is not None:
                raise NotImplementedError("packed prefill with a K/V cache: prefill each sequence alone")
            out = varlen_attention(q[0], k[0], v[0], cu_seqlens, causal=True, scale=self.scale)[None]
        elif state is None or state.length == 0:
            if state is not None:
                state.append(k, v)
            out = sdpa(q, k, v, causal=True, scale=self.scale)
        else:
            past = state.length
            k, v = state.append(k, v)
            mask = None
            if T > 1:  # query i sits at past + i: it sees keys 0 .. past + i
                qi = torch.arange(T, device=x.device)[:, None] + past
                mask = torch.arange(past + T, device=x.device)[None, :] <= qi
            out = sdpa(q, k, v, causal=False, scale=self.scale, mask=mask)
        out = out.reshape(B, T, -1) * torch.sigmoid(gate)
        return self.o_proj(out)
