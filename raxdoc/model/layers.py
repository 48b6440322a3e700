"""Decoder building blocks: the SwiGLU MLP and one hybrid decoder layer.

Scope: per-token math and the residual wiring of a layer. Not here: the token mixers themselves
(``attention.py``, ``linear_attention.py``) or their caches (``cache.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from raxdoc.model.attention import FullAttention
from raxdoc.model.config import RaxTextConfig
from raxdoc.model.linear_attention import GatedDeltaNet
from raxdoc.model.norm import RMSNorm

ACT = {"silu": F.silu, "gelu": F.gelu, "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh")}


class MLP(nn.Module):
    """SwiGLU: down(act(gate(x)) * up(x))."""

    def __init__(self, hidden: int, inner: int, act: str) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inner, bias=False)
        self.up_proj = nn.Linear(hidden, inner, bias=False)
        self.down_proj = nn.Linear(inner, hidden, bias=False)
        self.act = ACT[act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    """Pre-norm residual block: token mixer (Gated DeltaNet or gated attention), then the MLP."""

    def __init__(self, config: RaxTextConfig, index: int) -> None:
        super().__init__()
        self.kind = config.layer_types[index]
        # Attribute names follow the checkpoint (linear_attn / self_attn) so the loader maps 1:1.
        if self.kind == "linear_attention":
            self.linear_attn = GatedDeltaNet(config)
        else:
            self.self_attn = FullAttention(config)
        self.mlp = MLP(config.hidden_size, config.intermediate_size, config.hidden_act)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], state=None,
                cu_seqlens: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input_layernorm(x)
        if self.kind == "linear_attention":
            h = self.linear_attn(h, state=state, cu_seqlens=cu_seqlens)
        else:
            h = self.self_attn(h, rope, state=state, cu_seqlens=cu_seqlens)
        x = x + h
        return x + self.mlp(self.post_attention_layernorm(x))
