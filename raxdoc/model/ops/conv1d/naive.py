"""Causal depthwise conv1d in plain torch, for prefill and for one decode step.

x is (B, T, D) channels-last, weight (D, W), bias (D,) or None; activation "silu"
(= "swish") or None. Output y[t] = act(bias + sum_i weight[:, i] * x[t - (W-1) + i]),
inputs before the sequence start taken from the conv state (zeros when none).

Conv state layout (fla 0.6 and transformers' Qwen3.5 cache agree on it): (N, D, W),
the last W inputs of the sequence, oldest first, so state[..., -1] is the newest.
Only the newest W-1 feed the next output; the W-th column is kept so the layout
(and the buffer) is the same one fla and transformers use. States are in x's dtype.
Math is float32; outputs come back in x's dtype.

Not here: backward, residual fusion, fla's context parallelism.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from raxdoc.model.ops.backend import OpInputError

ACTIVATIONS = ("silu", "swish", None)


def _activate(y: torch.Tensor, activation: str | None) -> torch.Tensor:
    return F.silu(y) if activation in ("silu", "swish") else y


def _check(x, weight, bias, activation, initial_state, cu_seqlens) -> int:
    if activation not in ACTIVATIONS:
        raise OpInputError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
    if x.dim() != 3 or weight.dim() != 2 or weight.shape[0] != x.shape[-1]:
        raise OpInputError(f"want x (B, T, D) and weight (D, W); got {tuple(x.shape)} and {tuple(weight.shape)}")
    if bias is not None and bias.shape != (x.shape[-1],):
        raise OpInputError(f"bias must be (D,) = ({x.shape[-1]},); got {tuple(bias.shape)}")
    n = x.shape[0]
    if cu_seqlens is not None:
        if n != 1 or int(cu_seqlens[0]) != 0 or int(cu_seqlens[-1]) != x.shape[1]:
            raise OpInputError(f"with cu_seqlens x must be (1, T, D) and cu_seqlens run 0..T; got "
                               f"{tuple(x.shape)}, {cu_seqlens.tolist()}")
        n = len(cu_seqlens) - 1
    if initial_state is not None and initial_state.shape != (n, *weight.shape):
        raise OpInputError(f"initial_state must be (N, D, W) = {(n, *weight.shape)}; got {tuple(initial_state.shape)}")
    return n


def naive_causal_conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = "silu",
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    cu_seqlens: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Prefill: (y (B, T, D), final conv state (N, D, W) or None)."""
    _check(x, weight, bias, activation, initial_state, cu_seqlens)
    if cu_seqlens is not None:
        bounds = cu_seqlens.tolist()
        ys, states = [], []
        for i, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
            h0 = None if initial_state is None else initial_state[i : i + 1]
            y, ht = naive_causal_conv1d(x[:, start:end], weight, bias, activation, h0, True)
            ys.append(y)
            states.append(ht)
        return torch.cat(ys, dim=1), (torch.cat(states) if output_final_state else None)

    B, T, D = x.shape
    W = weight.shape[1]
    state = x.new_zeros(B, D, W) if initial_state is None else initial_state.to(x.dtype)
    x_t = x.transpose(1, 2)  # (B, D, T)
    # (B, D, W+T): the whole state as left context; its oldest column only feeds an extra
    # first output, dropped below, which keeps T = 0 (an empty varlen segment) legal.
    window = torch.cat([state, x_t], dim=-1).float()
    y = F.conv1d(window, weight.float().unsqueeze(1), None if bias is None else bias.float(), groups=D)[..., 1:]
    y = _activate(y, activation).transpose(1, 2).to(x.dtype)  # (B, T, D)
    final = torch.cat([state, x_t], dim=-1)[..., -W:].contiguous() if output_final_state else None
    return y, final


def naive_causal_conv1d_update(
    x: torch.Tensor,
    conv_state: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = "silu",
) -> torch.Tensor:
    """One decode step for N sequences: x (N, D) or (N, 1, D); conv_state (N, D, W) is
    shifted left and gets x as its newest column, in place. Returns y shaped like x."""
    if activation not in ACTIVATIONS:
        raise OpInputError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
    N, D, W = conv_state.shape
    if weight.shape != (D, W) or x.numel() != N * D or x.shape[0] != N or x.shape[-1] != D:
        raise OpInputError(f"want x (N, D) or (N, 1, D), conv_state (N, D, W), weight (D, W); got "
                           f"{tuple(x.shape)}, {tuple(conv_state.shape)}, {tuple(weight.shape)}")
    x_n = x.reshape(N, D)
    conv_state.copy_(torch.cat([conv_state[..., 1:], x_n.unsqueeze(-1).to(conv_state.dtype)], dim=-1))
    y = (conv_state.float() * weight.float()).sum(-1)  # (N, D)
    if bias is not None:
        y = y + bias.float()
    return _activate(y, activation).to(x.dtype).reshape(x.shape)
