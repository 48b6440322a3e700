"""fla path vs the naive ops on CUDA, in bfloat16 and float32 (skipped without a GPU or fla).

Errors are measured as relative RMS, ||fast - naive|| / ||naive||, against the naive
op run on the same (already rounded) inputs: the naive ops compute in float32, so
the reference is the more precise one. fla uses TF32 tensor-core dots for float32.
"""

from __future__ import annotations

import pytest
import torch
from ops_inputs import conv_inputs, gdn_inputs, gdn_state

from raxdoc.model import ops

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

REL_TOL = {torch.float32: 5e-3, torch.bfloat16: 2e-2}  # fp32: TF32 dots in fla; bf16: bf16 chunk states
DTYPES = [torch.float32, torch.bfloat16]


@pytest.fixture(autouse=True)
def _need_fla():
    pytest.importorskip("fla")


def rel_err(fast: torch.Tensor, ref: torch.Tensor) -> float:
    return ((fast.float() - ref.float()).norm() / ref.float().norm().clamp_min(1e-12)).item()


def assert_rel(fast, ref, dtype):
    assert fast.shape == ref.shape and fast.dtype == ref.dtype
    err = rel_err(fast, ref)
    assert err < REL_TOL[dtype], f"relative error {err:.2e} over {REL_TOL[dtype]:.0e}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T", [1, 63, 64, 65, 300])
@pytest.mark.parametrize("HV", [4, 8], ids=["same_heads", "grouped_values"])
def test_chunk_fla_matches_naive(dtype, T, HV):
    q, k, v, g, beta = gdn_inputs(B=2, T=T, H=4, HV=HV, K=128, V=128, dtype=dtype, normalized_k=False,
                                  device="cuda")
    h0 = gdn_state(2, HV, 128, 128, device="cuda")
    kw = dict(initial_state=h0, output_final_state=True, use_qk_l2norm_in_kernel=True)
    assert ops.use_fla(q)
    o, s = ops.chunk_gated_delta_rule(q, k, v, g, beta, **kw)
    o_ref, s_ref = ops.naive_chunk_gated_delta_rule(q, k, v, g, beta, **kw)
    assert_rel(o, o_ref, dtype)
    assert_rel(s, s_ref, dtype)


# The engine hands fla int32 cu_seqlens (flash-attn's convention); fla documents LongTensor.
CU_DTYPES = [torch.int64, torch.int32]


@pytest.mark.parametrize("cu_dtype", CU_DTYPES, ids=["cu64", "cu32"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_chunk_fla_varlen_matches_naive(dtype, cu_dtype):
    lengths = [1, 63, 64, 65, 200]
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], device="cuda", dtype=cu_dtype)
    q, k, v, g, beta = gdn_inputs(B=1, T=int(cu[-1]), H=4, K=128, V=128, dtype=dtype, normalized_k=False,
                                  device="cuda")
    h0 = gdn_state(len(lengths), 4, 128, 128, device="cuda")
    kw = dict(initial_state=h0, output_final_state=True, cu_seqlens=cu, use_qk_l2norm_in_kernel=True)
    o, s = ops.chunk_gated_delta_rule(q, k, v, g, beta, **kw)
    o_ref, s_ref = ops.naive_chunk_gated_delta_rule(q, k, v, g, beta, **kw)
    assert_rel(o, o_ref, dtype)
    assert_rel(s, s_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_recurrent_fla_decode_steps_match_naive(dtype):
    """Batched one-token decode from a prefilled state, the engine's hot loop."""
    q, k, v, g, beta = gdn_inputs(B=3, T=4, H=4, HV=8, K=128, V=128, dtype=dtype, normalized_k=False,
                                  device="cuda")
    state = gdn_state(3, 8, 128, 128, device="cuda")
    ref_state = state.clone()
    for t in range(4):
        step = [x[:, t : t + 1] for x in (q, k, v, g, beta)]
        o, state = ops.fused_recurrent_gated_delta_rule(*step, initial_state=state, output_final_state=True,
                                                        use_qk_l2norm_in_kernel=True)
        o_ref, ref_state = ops.naive_recurrent_gated_delta_rule(*step, initial_state=ref_state,
                                                                output_final_state=True, use_qk_l2norm_in_kernel=True)
        assert_rel(o, o_ref, dtype)
    assert_rel(state, ref_state, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B", [1, 7, 64])
def test_pool_update_fla_matches_naive(dtype, B):
    """The engine's decode: fla's KDA kernel with slot indices updates pool rows in place. Rows are
    scattered over the pool, padding rows share one spare row (as the runner pads), and rows the
    batch does not name keep their state bit for bit."""
    S, HV, K, V = 2 * B + 2, 8, 128, 128
    q, k, v, g, beta = gdn_inputs(B=B + 2, T=4, H=4, HV=HV, K=K, V=V, dtype=dtype, normalized_k=False,
                                  device="cuda")
    slots = torch.randperm(S - 1, generator=torch.Generator().manual_seed(B))[:B].tolist()
    idx = torch.tensor(slots + [S - 1, S - 1], device="cuda")  # two padding rows on the spare row
    pool = gdn_state(S, HV, K, V, device="cuda")
    ref = pool.clone()
    for t in range(4):
        step = [x[:, t : t + 1] for x in (q, k, v, g, beta)]
        o = ops.fused_recurrent_gated_delta_rule_update(*step, pool, idx, use_qk_l2norm_in_kernel=True)
        o_ref, s_ref = ops.naive_recurrent_gated_delta_rule(*(x[:B] for x in step), initial_state=ref[idx[:B]],
                                                            output_final_state=True, use_qk_l2norm_in_kernel=True)
        ref[idx[:B]] = s_ref
        assert_rel(o[:B], o_ref, dtype)
    assert_rel(pool[idx[:B]], ref[idx[:B]], dtype)
    others = [s for s in range(S - 1) if s not in slots]
    assert torch.equal(pool[others], ref[others])


@pytest.mark.parametrize("cu_dtype", CU_DTYPES, ids=["cu64", "cu32"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_fla_matches_naive_varlen_states_and_update(dtype, cu_dtype):
    lengths = [1, 3, 4, 70]
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], device="cuda", dtype=cu_dtype)
    x, w, b = conv_inputs(B=1, T=int(cu[-1]), D=256, W=4, dtype=dtype, device="cuda")
    h0 = torch.randn(len(lengths), 256, 4, device="cuda", dtype=dtype)
    y, s = ops.causal_conv1d(x, w, b, initial_state=h0, output_final_state=True, cu_seqlens=cu)
    y_ref, s_ref = ops.naive_causal_conv1d(x, w, b, initial_state=h0, output_final_state=True, cu_seqlens=cu)
    assert_rel(y, y_ref, dtype)
    assert torch.equal(s, s_ref)  # the state is copied inputs: no arithmetic
    step = torch.randn(len(lengths), 256, device="cuda", dtype=dtype)
    y1 = ops.causal_conv1d_update(step, s, w, b)
    y1_ref = ops.naive_causal_conv1d_update(step, s_ref, w, b)
    assert_rel(y1, y1_ref, dtype)
    assert torch.equal(s, s_ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_norms_fla_match_naive(dtype):
    x, z = (torch.randn(37, 128, device="cuda", dtype=dtype) for _ in range(2))
    w = torch.rand(128, device="cuda")
    assert_rel(ops.rms_norm_gated(x, z, w.to(dtype)), ops.naive_rms_norm_gated(x, z, w.to(dtype)), dtype)
    assert_rel(ops.l2norm(x), ops.naive_l2norm(x), dtype)


def test_env_forces_torch_path_on_gpu(monkeypatch):
    monkeypatch.setenv("RAXDOC_OPS", "torch")
    q, k, v, g, beta = gdn_inputs(B=1, T=70, H=2, K=64, V=64, device="cuda")
    assert not ops.use_fla(q)
    o, _ = ops.chunk_gated_delta_rule(q, k, v, g, beta)
    assert torch.equal(o, ops.naive_chunk_gated_delta_rule(q, k, v, g, beta)[0])
