"""Gated DeltaNet token mixer of the hybrid decoder (3 of every 4 layers in Rax 4.5).

x -> in_proj_qkv -> short causal depthwise conv (SiLU) -> q, k, v heads; beta = sigmoid(in_proj_b x),
g = -exp(A_log) * softplus(in_proj_a x + dt_bias) (log decay per value head); the gated delta rule
(with l2-normalised q, k) mixes tokens; a gated RMSNorm (gate = in_proj_z x) and out_proj finish.
When value heads outnumber key heads (GVA) each q/k head serves consecutive value heads.

Scope: projections and reshapes, plus `LinearState`, the batch-first state that picks the prefill or
decode form of each op. The recurrence, conv and gated norm are the ops in ``raxdoc.model.ops`` (plain
torch on CPU, fla/Triton on CUDA); this file holds no copy of that math. Where a cache keeps its
states is the cache's business: the layer only calls the state's methods.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from raxdoc.model import ops
from raxdoc.model.config import RaxTextConfig


class LinearState:
    """Fixed-size per-sequence state of one Gated DeltaNet layer, batch-first; owns how it is read and written.

    ``conv``: the last ``kernel`` conv inputs, oldest first (B, conv_dim, kernel); ``recurrent``: float32
    (B, Hv, Dk, Dv). Both None until the first call. The layer hands each step to ``causal_conv`` then
    ``gated_delta_rule``: a step of one token per row on a started state is a decode step (the state is
    updated in place), anything else a prefill or chunk from the current state (the final states are
    kept). A cache that keeps its states elsewhere supplies any object with these two methods instead,
    the way full-attention states supply ``attend``.
    """

    def __init__(self) -> None:
        self.conv: torch.Tensor | None = None
        self.recurrent: torch.Tensor | None = None

    def _decoding(self, x: torch.Tensor, cu_seqlens: torch.Tensor | None) -> bool:
        # Decided on `recurrent`, which the conv call leaves alone: both calls of a step agree.
        return self.recurrent is not None and x.shape[1] == 1 and cu_seqlens is None

    def causal_conv(self, x: torch.Tensor, weight: torch.Tensor, *, activation: str,
                    cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, conv_dim), weight (conv_dim, kernel) -> conv output shaped like x."""
        if self._decoding(x, cu_seqlens):
            return ops.causal_conv1d_update(x, self.conv, weight, activation=activation)  # conv updated in place
        y, self.conv = ops.causal_conv1d(x, weight, activation=activation, initial_state=self.conv,
                                         output_final_state=True, cu_seqlens=cu_seqlens)
        return y

    def gated_delta_rule(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, g: torch.Tensor,
                         beta: torch.Tensor, *, scale: float, use_qk_l2norm_in_kernel: bool,
                         cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        """q, k (B, T, Hv, Dk), v (B, T, Hv, Dv), g, beta (B, T, Hv) -> o (B, T, Hv, Dv)."""
        rule = ops.fused_recurrent_gated_delta_rule if self._decoding(q, cu_seqlens) else ops.chunk_gated_delta_rule
        o, self.recurrent = rule(q, k, v, g, beta, scale=scale, initial_state=self.recurrent,
                                 output_final_state=True, use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel,
                                 cu_seqlens=cu_seqlens)
        return o


class _Uncached:
    """No state: the whole sequence in one call (the uncached forward); nothing is kept."""

    @staticmethod
    def causal_conv(x, weight, *, activation, cu_seqlens=None):
        return ops.causal_conv1d(x, weight, activation=activation, cu_seqlens=cu_seqlens)[0]

    @staticmethod
    def gated_delta_rule(q, k, v, g, beta, *, scale, use_qk_l2norm_in_kernel, cu_seqlens=None):
        return ops.chunk_gated_delta_rule(q, k, v, g, beta, scale=scale, cu_seqlens=cu_seqlens,
                                          use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel)[0]


class GatedDeltaNet(nn.Module):
    def __init__(self, config: RaxTextConfig) -> None:
        super().__init__()
        self.n_k, self.n_v = config.linear_num_key_heads, config.linear_num_value_heads
        self.dk, self.dv = config.linear_key_head_dim, config.linear_value_head_dim
        self.key_dim, self.value_dim = self.n_k * self.dk, self.n_v * self.dv
        self.conv_dim = 2 * self.key_dim + self.value_dim
        self.kernel = config.linear_conv_kernel_dim
        self.act = config.hidden_act
        self.eps = config.rms_norm_eps
        h = config.hidden_size
        self.in_proj_qkv = nn.Linear(h, self.conv_dim, bias=False)
        self.in_proj_z = nn.Linear(h, self.value_dim, bias=False)
        self.in_proj_b = nn.Linear(h, self.n_v, bias=False)
        self.in_proj_a = nn.Linear(h, self.n_v, bias=False)
        # Depthwise conv weight kept in the checkpoint's Conv1d shape (conv_dim, 1, kernel).
        self.conv1d = nn.Module()
        self.conv1d.weight = nn.Parameter(torch.empty(self.conv_dim, 1, self.kernel))
        self.dt_bias = nn.Parameter(torch.ones(self.n_v))
        self.A_log = nn.Parameter(torch.zeros(self.n_v))
        self.norm = nn.Module()  # gated RMSNorm over each value head; plain weight (not 1 + w)
        self.norm.weight = nn.Parameter(torch.ones(self.dv))
        self.out_proj = nn.Linear(self.value_dim, h, bias=False)

    def forward(self, x: torch.Tensor, state: LinearState | None = None,
                cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, hidden) -> (B, T, hidden). With ``cu_seqlens`` B is 1 and state rows are sequences.
        ``state``: a `LinearState` or any object with its two methods; None runs without a cache."""
        B, T, _ = x.shape
        state = _Uncached if state is None else state
        qkv = state.causal_conv(self.in_proj_qkv(x), self.conv1d.weight.squeeze(1), activation=self.act,
                                cu_seqlens=cu_seqlens)  # (B, T, conv_dim)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.value_dim], dim=-1)
        q = q.reshape(B, T, self.n_k, self.dk)
        k = k.reshape(B, T, self.n_k, self.dk)
        v = v.reshape(B, T, self.n_v, self.dv)
        if self.n_v != self.n_k:  # GVA: key head i serves value heads i*r .. i*r + r - 1
            r = self.n_v // self.n_k
            q, k = q.repeat_interleave(r, dim=2), k.repeat_interleave(r, dim=2)
        beta = self.in_proj_b(x).sigmoid()  # (B, T, Hv)
        # float32 so exp(A_log) cannot overflow in half precision
        g = -self.A_log.float().exp() * F.softplus(self.in_proj_a(x).float() + self.dt_bias.float())
        o = state.gated_delta_rule(q, k, v, g, beta, scale=self.dk ** -0.5, use_qk_l2norm_in_kernel=True,
                                   cu_seqlens=cu_seqlens)  # (B, T, Hv, Dv)
        z = self.in_proj_z(x).reshape(B, T, self.n_v, self.dv)
        o = ops.rms_norm_gated(o, z, self.norm.weight, eps=self.eps)  # (B, T, Hv, Dv)
        return self.out_proj(o.reshape(B, T, self.value_dim))
