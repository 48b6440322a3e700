"""Naive gated delta rule: chunked == token loop == packed varlen == split runs, in float32."""

from __future__ import annotations

import pytest
import torch
from ops_inputs import F32_ATOL, F32_RTOL, gdn_inputs, gdn_state

from raxdoc.model.ops import (
    OpInputError,
    chunk_gated_delta_rule,
    fused_recurrent_gated_delta_rule,
    naive_chunk_gated_delta_rule,
    naive_l2norm,
    naive_recurrent_gated_delta_rule,
)

LENGTHS = [1, 63, 64, 65, 200]


def close(a, b):
    torch.testing.assert_close(a, b, atol=F32_ATOL, rtol=F32_RTOL)


@pytest.mark.parametrize("with_h0", [False, True], ids=["zero_state", "initial_state"])
@pytest.mark.parametrize("T", LENGTHS)
def test_chunk_matches_recurrent(T, with_h0):
    q, k, v, g, beta = gdn_inputs(B=2, T=T, H=2, K=16, V=8, seed=T)
    h0 = gdn_state(2, 2, 16, 8) if with_h0 else None
    o_r, s_r = naive_recurrent_gated_delta_rule(q, k, v, g, beta, initial_state=h0, output_final_state=True)
    o_c, s_c = naive_chunk_gated_delta_rule(q, k, v, g, beta, initial_state=h0, output_final_state=True)
    assert o_c.shape == (2, T, 2, 8) and s_c.shape == (2, 2, 16, 8) and s_c.dtype == torch.float32
    close(o_c, o_r)
    close(s_c, s_r)
    assert o_r.abs().max() > 0.1  # not a trivially zero problem


def test_recurrent_is_the_written_spec():
    """Two tokens by hand: S = e^g S; S += k (beta (v - k^T S))^T; o = scale q^T S."""
    q, k, v, g, beta = gdn_inputs(T=2, H=1, K=4, V=3, seed=3)
    h0 = gdn_state(1, 1, 4, 3)
    S = h0[0, 0].clone()
    outs = []
    for t in range(2):
        S = S * g[0, t, 0].exp()
        kt, vt = k[0, t, 0], v[0, t, 0]
        S = S + torch.outer(kt, beta[0, t, 0] * (vt - kt @ S))
        outs.append((q[0, t, 0] * 4**-0.5) @ S)
    o, s = naive_recurrent_gated_delta_rule(q, k, v, g, beta, initial_state=h0, output_final_state=True)
    close(o[0, :, 0], torch.stack(outs))
    close(s[0, 0], S)


@pytest.mark.parametrize("op", [naive_chunk_gated_delta_rule, naive_recurrent_gated_delta_rule])
@pytest.mark.parametrize("with_h0", [False, True], ids=["zero_state", "initial_state"])
def test_varlen_matches_each_segment(op, with_h0):
    lengths = LENGTHS if op is naive_chunk_gated_delta_rule else [1, 5, 64, 65]
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()])
    q, k, v, g, beta = gdn_inputs(B=1, T=int(cu[-1]), H=2, K=8, V=4, seed=11)
    h0 = gdn_state(len(lengths), 2, 8, 4) if with_h0 else None
    o, s = op(q, k, v, g, beta, initial_state=h0, output_final_state=True, cu_seqlens=cu)
    assert s.shape == (len(lengths), 2, 8, 4)
    for i, (a, b) in enumerate(zip(cu[:-1].tolist(), cu[1:].tolist())):
        seg = [x[:, a:b] for x in (q, k, v, g, beta)]
        o_i, s_i = op(*seg, initial_state=None if h0 is None else h0[i : i + 1], output_final_state=True)
        close(o[:, a:b], o_i)
        close(s[i : i + 1], s_i)


@pytest.mark.parametrize("op", [naive_chunk_gated_delta_rule, naive_recurrent_gated_delta_rule])
def test_varlen_empty_segment_passes_its_state_through(op):
    q, k, v, g, beta = gdn_inputs(B=1, T=5, H=2, K=8, V=4, seed=12)
    h0 = gdn_state(3, 2, 8, 4)
    o, s = op(q, k, v, g, beta, initial_state=h0, output_final_state=True, cu_seqlens=torch.tensor([0, 2, 2, 5]))
    assert o.shape == (1, 5, 2, 4)
    assert torch.equal(s[1], h0[1])
    close(o[:, 2:], op(q[:, 2:], k[:, 2:], v[:, 2:], g[:, 2:], beta[:, 2:], initial_state=h0[2:])[0])


@pytest.mark.parametrize("split", [1, 64, 65, 130])
@pytest.mark.parametrize("op", [naive_chunk_gated_delta_rule, naive_recurrent_gated_delta_rule])
def test_two_part_run_equals_one_run(op, split):
    q, k, v, g, beta = gdn_inputs(B=2, T=200, H=2, K=8, V=8, seed=5)
    h0 = gdn_state(2, 2, 8, 8)
    o, s = op(q, k, v, g, beta, initial_state=h0, output_final_state=True)
    first = [x[:, :split] for x in (q, k, v, g, beta)]
    second = [x[:, split:] for x in (q, k, v, g, beta)]
    o1, s1 = op(*first, initial_state=h0, output_final_state=True)
    o2, s2 = op(*second, initial_state=s1, output_final_state=True)
    close(torch.cat([o1, o2], dim=1), o)
    close(s2, s)


def test_chunk_prefill_then_recurrent_decode_equals_one_prefill():
    """The engine's pattern: chunked prefill, then one token at a time from the state."""
    q, k, v, g, beta = gdn_inputs(B=2, T=70, H=2, K=8, V=8, seed=6, normalized_k=False)
    kw = dict(output_final_state=True, use_qk_l2norm_in_kernel=True)
    o_full, s_full = naive_chunk_gated_delta_rule(q, k, v, g, beta, **kw)
    o_pre, state = naive_chunk_gated_delta_rule(*(x[:, :66] for x in (q, k, v, g, beta)), **kw)
    outs = [o_pre]
    for t in range(66, 70):
        o_t, state = fused_recurrent_gated_delta_rule(
            *(x[:, t : t + 1] for x in (q, k, v, g, beta)), initial_state=state, **kw
        )
        outs.append(o_t)
    close(torch.cat(outs, dim=1), o_full)
    close(state, s_full)


@pytest.mark.parametrize("op", [naive_chunk_gated_delta_rule, naive_recurrent_gated_delta_rule])
def test_grouped_value_heads_read_key_head_j_over_group(op):
    q, k, v, g, beta = gdn_inputs(B=1, T=65, H=2, HV=6, K=8, V=4, seed=7)
    o, s = op(q, k, v, g, beta, output_final_state=True)
    q3, k3 = q.repeat_interleave(3, dim=2), k.repeat_interleave(3, dim=2)
    o_ref, s_ref = op(q3, k3, v, g, beta, output_final_state=True)
    close(o, o_ref)
    close(s, s_ref)


@pytest.mark.parametrize("op", [naive_chunk_gated_delta_rule, naive_recurrent_gated_delta_rule])
def test_l2norm_flag_and_scale(op):
    q, k, v, g, beta = gdn_inputs(B=1, T=20, H=2, K=8, V=4, seed=8, normalized_k=False)
    o_flag, _ = op(q, k, v, g, beta, scale=0.3, use_qk_l2norm_in_kernel=True)
    # scale multiplies q after normalisation; default scale is K**-0.5
    o_ref, _ = op(naive_l2norm(q) * (0.3 / 8**-0.5), naive_l2norm(k), v, g, beta)
    close(o_flag, o_ref)


@pytest.mark.parametrize("op", [naive_chunk_gated_delta_rule, naive_recurrent_gated_delta_rule])
def test_bf16_in_bf16_out_float32_state(op):
    q, k, v, g, beta = gdn_inputs(B=1, T=65, H=2, K=8, V=4, seed=9)
    low = [x.bfloat16() for x in (q, k, v, g, beta)]
    o, s = op(*low, output_final_state=True)
    assert o.dtype == torch.bfloat16 and s.dtype == torch.float32
    o_ref, s_ref = op(*(x.float() for x in low), output_final_state=True)
    torch.testing.assert_close(o, o_ref.bfloat16())  # math ran in float32: only the output rounding differs
    close(s, s_ref)


def test_initial_state_is_not_modified():
    q, k, v, g, beta = gdn_inputs(B=1, T=10, H=2, K=8, V=4)
    h0 = gdn_state(1, 2, 8, 4)
    before = h0.clone()
    for op in (chunk_gated_delta_rule, fused_recurrent_gated_delta_rule):
        op(q, k, v, g, beta, initial_state=h0, output_final_state=True)
    assert torch.equal(h0, before)


def test_final_state_only_when_asked():
    q, k, v, g, beta = gdn_inputs(T=3)
    assert naive_chunk_gated_delta_rule(q, k, v, g, beta)[1] is None
    assert naive_recurrent_gated_delta_rule(q, k, v, g, beta)[1] is None


@pytest.mark.parametrize(
    "bad",
    ["batch_with_cu_seqlens", "cu_seqlens_short", "state_rows", "heads", "g_shape"],
)
def test_bad_inputs_raise_typed_errors(bad):
    q, k, v, g, beta = gdn_inputs(B=2, T=6, H=2, K=8, V=4)
    kw = {}
    if bad == "batch_with_cu_seqlens":
        kw["cu_seqlens"] = torch.tensor([0, 3, 6])
    elif bad == "cu_seqlens_short":
        q, k, v, g, beta = (x[:1] for x in (q, k, v, g, beta))
        kw["cu_seqlens"] = torch.tensor([0, 3, 5])
    elif bad == "state_rows":
        kw["initial_state"] = gdn_state(3, 2, 8, 4)
    elif bad == "heads":
        v = torch.randn(2, 6, 3, 4)
    elif bad == "g_shape":
        g = g[..., :1]
    for op in (naive_chunk_gated_delta_rule, naive_recurrent_gated_delta_rule):
        with pytest.raises(OpInputError):
            op(q, k, v, g, beta, **kw)
