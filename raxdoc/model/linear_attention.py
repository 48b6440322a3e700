"""Gated DeltaNet token mixer of the hybrid decoder (3 of every 4 layers in Rax 4.5).

x -> in_proj_qkv -> short causal depthwise conv (SiLU) -> q, k, v heads; beta = sigmoid(in_proj_b x),
g = -exp(A_log) * softplus(in_proj_a x + dt_bias) (log decay per value head); the gated delta rule
(with l2-normalised q, k) mixes tokens; a gated RMSNorm (gate = in_proj_z x) and out_proj finish.
When value heads outnumber key heads (GVA) each q/k head serves consecutive value heads.

Scope: projections, reshapes and state plumbing. The recurrence, conv and gated norm are the ops in
``raxdoc.model.ops`` (plain torch on CPU, fla/Triton on CUDA); this file holds no copy of that math.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from raxdoc.model import ops
from raxdoc.model.config import RaxTextConfig


class LinearState:
    """Fixed-size per-sequence state of one Gated DeltaNet layer, batch-first.

    conv: the last ``kernel`` conv inputs, oldest first (B, conv_dim, kernel); recurrent: float32 (B, Hv, Dk, Dv).
    A slot cache may instead keep the states in pools and name the rows: ``pool`` (S, Hv, Dk, Dv),
    ``conv_pool`` (S, conv_dim, kernel) and ``slots`` (B,) long; a decode step then updates those rows
    in place (``recurrent`` and ``conv`` stay None).
    """

    def __init__(self) -> None:
        self.conv: torch.Tensor | None = None
        self.recurrent: torch.Tensor | None = None
        self.pool: torch.Tensor | None = None
        self.conv_pool: torch.Tensor | None = None
        self.slots: torch.Tensor | None = None


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
        """x (B, T, hidden) -> (B, T, hidden). With ``cu_seqlens`` B is 1 and state rows are sequences."""
        B, T, _ = x.shape
        conv_w = self.conv1d.weight.squeeze(1)  # (conv_dim, kernel)
        qkv = self.in_proj_qkv(x)  # (B, T, conv_dim)
        pooled = state is not None and state.slots is not None
        decode = state is not None and (pooled or state.recurrent is not None) and T == 1 and cu_seqlens is None
        if decode and pooled:
            qkv = ops.causal_conv1d_update_pooled(qkv, state.conv_pool, state.slots, conv_w, activation=self.act)
        elif decode:
            conv = state.conv
            qkv = ops.causal_conv1d_update(qkv, conv, conv_w, activation=self.act)  # updates conv in place
            state.conv = conv  # assigned back too, so a state object may hand out gathered copies
        else:
            init = None if state is None else state.conv
            qkv, conv_final = ops.causal_conv1d(qkv, conv_w, activation=self.act, initial_state=init,
                                                output_final_state=state is not None, cu_seqlens=cu_seqlens)
            if state is not None:
                state.conv = conv_final
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

        if decode and pooled:
            o = ops.fused_recurrent_gated_delta_rule_update(q, k, v, g, beta, state.pool, state.slots,
                                                            scale=self.dk ** -0.5, use_qk_l2norm_in_kernel=True)
        else:
            rule = ops.fused_recurrent_gated_delta_rule if decode else ops.chunk_gated_delta_rule
            o, final = rule(q, k, v, g, beta, scale=self.dk ** -0.5,
                            initial_state=None if state is None else state.recurrent,
                            output_final_state=state is not None, use_qk_l2norm_in_kernel=True,
                            cu_seqlens=cu_seqlens)
            if state is not None:
                state.recurrent = final
        z = self.in_proj_z(x).reshape(B, T, self.n_v, self.dv)
        o = ops.rms_norm_gated(o, z, self.norm.weight, eps=self.eps)  # (B, T, Hv, Dv)
        return self.out_proj(o.reshape(B, T, self.value_dim))
