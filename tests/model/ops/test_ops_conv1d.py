"""Naive causal conv1d: definition, full == step-by-step, prefill + decode, varlen, states."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from ops_inputs import F32_ATOL, F32_RTOL, conv_inputs

from raxdoc.model.ops import (
    OpInputError,
    causal_conv1d,
    causal_conv1d_update,
    naive_causal_conv1d,
    naive_causal_conv1d_update,
)


def close(a, b):
    torch.testing.assert_close(a, b, atol=F32_ATOL, rtol=F32_RTOL)


@pytest.mark.parametrize("W", [2, 3, 4, 5])
def test_matches_the_definition(W):
    x, w, b = conv_inputs(B=2, T=7, D=3, W=W, seed=W)
    y, _ = naive_causal_conv1d(x, w, b, activation=None)
    padded = F.pad(x, (0, 0, W - 1, 0))  # zeros before the start, (B, W-1+T, D)
    ref = torch.stack([(padded[:, t : t + W] * w.T).sum(1) + b for t in range(7)], dim=1)
    close(y, ref)
    y_silu, _ = naive_causal_conv1d(x, w, b, activation="silu")
    close(y_silu, F.silu(ref))


@pytest.mark.parametrize("W", [2, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_full_equals_step_by_step_update(W, bias):
    x, w, b = conv_inputs(B=2, T=9, D=5, W=W, bias=bias)
    y_full, final = naive_causal_conv1d(x, w, b, output_final_state=True)
    state = torch.zeros(2, 5, W)
    steps = [naive_causal_conv1d_update(x[:, t], state, w, b) for t in range(9)]
    close(torch.stack(steps, dim=1), y_full)
    close(state, final)


@pytest.mark.parametrize("prefill", [1, 2, 3, 5, 12])
def test_prefill_then_decode_equals_full_forward(prefill):
    """Prefill shorter than the kernel (1, 2, 3 < W) is the awkward case: the state is part zeros."""
    x, w, b = conv_inputs(B=2, T=12, D=4, W=4, seed=prefill)
    y_full, final_full = naive_causal_conv1d(x, w, b, output_final_state=True)
    y_pre, state = naive_causal_conv1d(x[:, :prefill], w, b, output_final_state=True)
    outs = [y_pre] + [causal_conv1d_update(x[:, t : t + 1], state, w, b) for t in range(prefill, 12)]
    close(torch.cat(outs, dim=1), y_full)
    close(state, final_full)


def test_initial_state_continues_a_sequence():
    x, w, b = conv_inputs(B=2, T=10, D=4, W=4)
    y_full, final_full = naive_causal_conv1d(x, w, b, output_final_state=True)
    _, state = naive_causal_conv1d(x[:, :6], w, b, output_final_state=True)
    y2, final2 = naive_causal_conv1d(x[:, 6:], w, b, initial_state=state, output_final_state=True)
    close(y2, y_full[:, 6:])
    close(final2, final_full)


def test_state_layout_is_last_w_inputs_oldest_first():
    x, w, b = conv_inputs(B=1, T=6, D=3, W=4)
    _, state = naive_causal_conv1d(x, w, b, output_final_state=True)
    assert torch.equal(state, x[:, -4:].transpose(1, 2))
    _, short = naive_causal_conv1d(x[:, :2], w, b, output_final_state=True)
    assert torch.equal(short[..., :2], torch.zeros(1, 3, 2)) and torch.equal(short[..., 2:], x[:, :2].transpose(1, 2))


@pytest.mark.parametrize("with_h0", [False, True], ids=["zero_state", "initial_state"])
def test_varlen_matches_each_segment(with_h0):
    lengths = [1, 3, 4, 9]
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()])
    x, w, b = conv_inputs(B=1, T=int(cu[-1]), D=5, W=4, seed=2)
    h0 = torch.randn(len(lengths), 5, 4) if with_h0 else None
    y, final = causal_conv1d(x, w, b, initial_state=h0, output_final_state=True, cu_seqlens=cu)
    for i, (s, e) in enumerate(zip(cu[:-1].tolist(), cu[1:].tolist())):
        y_i, f_i = naive_causal_conv1d(
            x[:, s:e], w, b, initial_state=None if h0 is None else h0[i : i + 1], output_final_state=True
        )
        close(y[:, s:e], y_i)
        close(final[i : i + 1], f_i)


def test_varlen_empty_segment_passes_its_state_through():
    x, w, b = conv_inputs(B=1, T=5, D=3, W=4)
    h0 = torch.randn(3, 3, 4)
    y, final = naive_causal_conv1d(x, w, b, initial_state=h0, output_final_state=True,
                                   cu_seqlens=torch.tensor([0, 2, 2, 5]))
    assert y.shape == (1, 5, 3) and torch.equal(final[1], h0[1])
    close(y[:, 2:], naive_causal_conv1d(x[:, 2:], w, b, initial_state=h0[2:])[0])


def test_update_accepts_n_d_and_n_1_d():
    x, w, b = conv_inputs(B=3, T=1, D=4, W=4)
    s1 = torch.randn(3, 4, 4)
    s2 = s1.clone()
    y3 = naive_causal_conv1d_update(x, s1, w, b)
    y2 = naive_causal_conv1d_update(x[:, 0], s2, w, b)
    assert y3.shape == (3, 1, 4) and y2.shape == (3, 4)
    close(y3[:, 0], y2)
    assert torch.equal(s1, s2) and torch.equal(s1[..., -1], x[:, 0])


def test_bf16_output_and_state_dtype():
    x, w, b = conv_inputs(B=1, T=5, D=4, W=4, dtype=torch.bfloat16)
    y, state = naive_causal_conv1d(x, w, b, output_final_state=True)
    assert y.dtype == torch.bfloat16 and state.dtype == torch.bfloat16
    y_ref, _ = naive_causal_conv1d(x.float(), w.float(), b.float())
    torch.testing.assert_close(y, y_ref.bfloat16())


@pytest.mark.parametrize("bad", ["activation", "weight", "state", "cu_batch"])
def test_bad_inputs_raise_typed_errors(bad):
    x, w, b = conv_inputs(B=2, T=5, D=4, W=4)
    kw = {}
    if bad == "activation":
        kw["activation"] = "gelu"
    elif bad == "weight":
        w = w[:3]
    elif bad == "state":
        kw["initial_state"] = torch.zeros(2, 4, 3)
    elif bad == "cu_batch":
        kw["cu_seqlens"] = torch.tensor([0, 5])
    with pytest.raises(OpInputError):
        naive_causal_conv1d(x, w, b, **kw)
