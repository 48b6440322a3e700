"""Decode over a state pool (`fused_recurrent_gated_delta_rule_update`): rows read and written in place."""

from __future__ import annotations

import os

import pytest
import torch
from ops_inputs import F32_ATOL, F32_RTOL, gdn_inputs, gdn_state

from raxdoc.model.ops import OpInputError, fused_recurrent_gated_delta_rule_update, naive_recurrent_gated_delta_rule


@pytest.mark.parametrize("slots", [[3], [4, 0, 2], [1, 6, 5, 0, 3, 2, 4]], ids=["one", "three", "all_but_one"])
@pytest.mark.parametrize("HV", [2, 4], ids=["heads", "grouped_values"])
def test_update_equals_gathered_recurrent_and_leaves_other_rows(slots, HV):
    B, S = len(slots), 8
    q, k, v, g, beta = gdn_inputs(B=B, T=1, H=2, HV=HV, K=16, V=8, normalized_k=False)
    pool = gdn_state(S, HV, 16, 8)
    before = pool.clone()
    idx = torch.tensor(slots)
    o_ref, s_ref = naive_recurrent_gated_delta_rule(q, k, v, g, beta, initial_state=before[idx],
                                                    output_final_state=True, use_qk_l2norm_in_kernel=True)
    o = fused_recurrent_gated_delta_rule_update(q, k, v, g, beta, pool, idx, use_qk_l2norm_in_kernel=True)
    torch.testing.assert_close(o, o_ref, atol=F32_ATOL, rtol=F32_RTOL)
    torch.testing.assert_close(pool[idx], s_ref, atol=F32_ATOL, rtol=F32_RTOL)
    untouched = [s for s in range(S) if s not in slots]
    assert torch.equal(pool[untouched], before[untouched])


def test_repeated_updates_follow_the_token_loop():
    """Five decode steps through the pool == one five-token recurrent run per sequence."""
    q, k, v, g, beta = gdn_inputs(B=2, T=5, H=2, HV=2, K=16, V=8)
    pool = gdn_state(4, 2, 16, 8)
    idx = torch.tensor([2, 1])
    o_ref, s_ref = naive_recurrent_gated_delta_rule(q, k, v, g, beta, initial_state=pool[idx].clone(),
                                                    output_final_state=True)
    outs = [fused_recurrent_gated_delta_rule_update(*(x[:, t:t + 1] for x in (q, k, v, g, beta)), pool, idx)
            for t in range(5)]
    torch.testing.assert_close(torch.cat(outs, 1), o_ref, atol=F32_ATOL, rtol=F32_RTOL)
    torch.testing.assert_close(pool[idx], s_ref, atol=F32_ATOL, rtol=F32_RTOL)


def test_bf16_inputs_keep_a_float32_pool():
    q, k, v, g, beta = gdn_inputs(B=2, T=1, H=2, K=16, V=8, dtype=torch.bfloat16)
    pool = gdn_state(3, 2, 16, 8)
    o = fused_recurrent_gated_delta_rule_update(q, k, v, g, beta, pool, torch.tensor([0, 2]))
    assert o.dtype == torch.bfloat16 and pool.dtype == torch.float32
    assert torch.isfinite(pool).all()


@pytest.mark.parametrize("bad", ["pool_heads", "pool_rank", "indices_len"])
def test_bad_pool_or_indices_raise_typed_errors(bad):
    q, k, v, g, beta = gdn_inputs(B=2, T=1, H=2, K=16, V=8)
    pool, idx = gdn_state(3, 2, 16, 8), torch.tensor([0, 1])
    if bad == "pool_heads":
        pool = gdn_state(3, 4, 16, 8)
    elif bad == "pool_rank":
        pool = pool[0]
    else:
        idx = torch.tensor([0, 1, 2])
    with pytest.raises(OpInputError):
        fused_recurrent_gated_delta_rule_update(q, k, v, g, beta, pool, idx)


@pytest.fixture
def fla_on_cpu(monkeypatch):
    """fla's Triton kernels on CPU tensors under Triton's interpreter (TRITON_INTERPRET=1 from
    tests/conftest.py). Where fla and Triton are installed (not in CI: fla on the path would also
    change transformers' CPU path); the GPU run checks the same branch on CUDA (test_ops_gpu.py)."""
    pytest.importorskip("triton")
    pytest.importorskip("fla")
    if os.environ.get("TRITON_INTERPRET") != "1":  # a GPU machine: CPU tensors cannot go to real kernels
        pytest.skip("needs Triton's interpreter (tests/conftest.py sets it only without CUDA)")
    from triton.runtime import interpreter

    from raxdoc.model.ops.gated_delta import fast

    patch_tensor = interpreter._patch_lang_tensor

    def patched(tensor, scope):
        # Triton 3.6's interpreter calls int() on one-element arrays, which NumPy 2 refuses.
        patch_tensor(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

    monkeypatch.setattr(interpreter, "_patch_lang_tensor", patched)
    monkeypatch.setattr(fast, "use_fla", lambda *tensors: True)


@pytest.mark.parametrize("HV", [2, 4], ids=["heads", "grouped_values"])
def test_fla_kda_branch_equals_naive_update(fla_on_cpu, HV):
    """The fla branch maps the gated delta rule onto the KDA kernel (decay repeated over the key
    channels) and updates only the named rows: same outputs and states as the naive branch."""
    B, S = 3, 6
    q, k, v, g, beta = gdn_inputs(B=B, T=1, H=2, HV=HV, K=16, V=32, normalized_k=False)
    pool = gdn_state(S, HV, 16, 32)
    before = pool.clone()
    idx = torch.tensor([4, 0, 2])
    o_ref, s_ref = naive_recurrent_gated_delta_rule(q, k, v, g, beta, initial_state=before[idx],
                                                    output_final_state=True, use_qk_l2norm_in_kernel=True)
    o = fused_recurrent_gated_delta_rule_update(q, k, v, g, beta, pool, idx, use_qk_l2norm_in_kernel=True)
    torch.testing.assert_close(o, o_ref, atol=F32_ATOL, rtol=F32_RTOL)
    torch.testing.assert_close(pool[idx], s_ref, atol=F32_ATOL, rtol=F32_RTOL)
    assert torch.equal(pool[[1, 3, 5]], before[[1, 3, 5]])
