"""Our naive ops against transformers' own torch path for Qwen3.5 (the correctness oracle).

transformers' modeling_qwen3_5 is imported with `sys.modules["fla"] = None`, so its
kernel hooks fall back to the plain-torch functions compared here.
"""

from __future__ import annotations

import sys
import warnings

import pytest
import torch
from ops_inputs import F32_ATOL, F32_RTOL, conv_inputs, gdn_inputs, gdn_state

from raxdoc.model.ops import (
    naive_causal_conv1d,
    naive_causal_conv1d_update,
    naive_chunk_gated_delta_rule,
    naive_l2norm,
    naive_recurrent_gated_delta_rule,
    naive_rms_norm_gated,
)


@pytest.fixture(scope="module")
def hf():
    with pytest.MonkeyPatch.context() as mp:
        if sys.modules.get("fla") is not None:
            pytest.skip("fla already imported in this process; transformers would take its kernels")
        mp.setitem(sys.modules, "fla", None)
        from transformers.models.qwen3_5 import modeling_qwen3_5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its "falling back to PyTorch" notice
        yield modeling_qwen3_5


def close(a, b):
    torch.testing.assert_close(a, b, atol=F32_ATOL, rtol=F32_RTOL)


@pytest.mark.parametrize("T", [1, 65, 200])
@pytest.mark.parametrize("HV", [2, 4], ids=["same_heads", "grouped_values"])
def test_gated_delta_matches_transformers(hf, T, HV):
    q, k, v, g, beta = gdn_inputs(B=2, T=T, H=2, HV=HV, K=16, V=8, seed=T + HV, normalized_k=False)
    h0 = gdn_state(2, HV, 16, 8)
    kw = dict(initial_state=h0, output_final_state=True, use_qk_l2norm_in_kernel=True)
    o_hf, s_hf = hf.torch_chunk_gated_delta_rule(q, k, v, g=g, beta=beta, **kw)
    o_hr, s_hr = hf.torch_recurrent_gated_delta_rule(q, k, v, g=g, beta=beta, **kw)
    o_c, s_c = naive_chunk_gated_delta_rule(q, k, v, g, beta, **kw)
    o_r, s_r = naive_recurrent_gated_delta_rule(q, k, v, g, beta, **kw)
    close(o_c, o_hf)
    close(s_c, s_hf)
    close(o_r, o_hr)
    close(s_r, s_hr)


@pytest.mark.parametrize("W", [2, 4])
def test_conv_prefill_matches_transformers(hf, W):
    x, w, _ = conv_inputs(B=2, T=9, D=6, W=W)
    y_hf = hf.causal_conv1d_fn(x.transpose(1, 2), w, None, activation="silu")  # (B, D, T) there
    y, _ = naive_causal_conv1d(x, w, None, activation="silu")
    close(y, y_hf.transpose(1, 2))


def test_conv_decode_step_matches_transformers_state_and_output(hf):
    """Same (N, D, W) state buffer, same in-place update: prefill state from us, steps from both."""
    x, w, b = conv_inputs(B=2, T=7, D=6, W=4)
    _, state = naive_causal_conv1d(x[:, :3], w, b, output_final_state=True)
    # transformers' cache stores the last W inputs of the (left-zero-padded) prefill
    hf_state = torch.nn.functional.pad(x[:, :3].transpose(1, 2), (4 - 3, 0))[..., -4:].clone()
    close(state, hf_state)
    for t in range(3, 7):
        y_hf = hf.causal_conv1d_update(x[:, t : t + 1].transpose(1, 2), hf_state, w, b, "silu")  # (B, D, 1)
        y = naive_causal_conv1d_update(x[:, t], state, w, b, "silu")
        close(y, y_hf[..., 0])
        close(state, hf_state)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_gated_matches_transformers_exactly(hf, dtype):
    norm = hf.Qwen3_5RMSNormGated(16, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 1.5, 16))
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(5, 3, 16, generator=gen) * 3).to(dtype)
    z = torch.randn(5, 3, 16, generator=gen).to(dtype)
    with torch.no_grad():
        ref = norm(x, z)
    out = naive_rms_norm_gated(x, z, norm.weight.detach(), eps=1e-6)
    assert out.dtype == dtype
    torch.testing.assert_close(out, ref, atol=0, rtol=0)  # same ops in the same order


def test_l2norm_matches_transformers(hf):
    x = torch.randn(4, 7, 32)
    close(naive_l2norm(x), hf.l2norm(x, dim=-1, eps=1e-6))
    assert naive_l2norm(x.bfloat16()).dtype == torch.bfloat16


def _layer_with_ops(layer, hidden, conv_state=None, rec_state=None):
    """transformers' Qwen3_5GatedDeltaNet.forward rebuilt from our ops; returns (out, conv_state, rec_state)."""
    from raxdoc.model import ops

    B, T, _ = hidden.shape
    mixed = layer.in_proj_qkv(hidden)  # (B, T, 2*key_dim + value_dim)
    weight = layer.conv1d.weight.squeeze(1)  # (D, W)
    if conv_state is not None and T == 1:
        mixed = ops.causal_conv1d_update(mixed, conv_state, weight, layer.conv1d.bias, "silu")
    else:
        mixed, conv_state = ops.causal_conv1d(mixed, weight, layer.conv1d.bias, "silu", conv_state, True)
    q, k, v = torch.split(mixed, [layer.key_dim, layer.key_dim, layer.value_dim], dim=-1)
    q = q.reshape(B, T, -1, layer.head_k_dim)
    k = k.reshape(B, T, -1, layer.head_k_dim)
    v = v.reshape(B, T, -1, layer.head_v_dim)
    beta = layer.in_proj_b(hidden).sigmoid()
    g = -layer.A_log.float().exp() * torch.nn.functional.softplus(layer.in_proj_a(hidden).float() + layer.dt_bias)
    op = ops.fused_recurrent_gated_delta_rule if T == 1 and rec_state is not None else ops.chunk_gated_delta_rule
    o, rec_state = op(q, k, v, g, beta, initial_state=rec_state, output_final_state=True,
                      use_qk_l2norm_in_kernel=True)  # GVA handled inside the op, no repeat here
    z = layer.in_proj_z(hidden).reshape(B, T, -1, layer.head_v_dim)
    o = ops.rms_norm_gated(o, z, layer.norm.weight, eps=layer.norm.variance_epsilon)
    return layer.out_proj(o.reshape(B, T, -1)), conv_state, rec_state


def test_ops_rebuild_the_transformers_gated_deltanet_layer(hf):
    """Conventions line up with the real layer (qkv split, conv weight and state, GVA, gate, norm):
    our ops reproduce its uncached forward, and prefill + cached decode reproduce it too."""
    from raxdoc.testing.presets import preset_config

    text = preset_config("tiny")["text_config"]
    config = hf.Qwen3_5TextConfig(**text)
    assert config.linear_num_value_heads > config.linear_num_key_heads  # the grouped-value case
    torch.manual_seed(0)
    layer = hf.Qwen3_5GatedDeltaNet(config, layer_idx=0).eval()
    with torch.no_grad():
        for p in layer.parameters():  # move norm weight, dt_bias and friends off their init values
            p.add_(torch.randn_like(p) * 0.05)
        hidden = torch.randn(2, 70, config.hidden_size)
        ref = layer(hidden)
        out, _, _ = _layer_with_ops(layer, hidden)
        close(out, ref)
        # prefill 67 tokens, then decode 3 one at a time from the states
        pre, conv_state, rec_state = _layer_with_ops(layer, hidden[:, :67])
        steps = [pre]
        for t in range(67, 70):
            step, conv_state, rec_state = _layer_with_ops(layer, hidden[:, t : t + 1], conv_state, rec_state)
            steps.append(step)
        close(torch.cat(steps, dim=1), ref)
