"""The Triton slot decode-attention kernel == SDPA over each row's own prefix.

Without a GPU the kernel runs under Triton's interpreter (TRITON_INTERPRET=1, set by
tests/conftest.py before anything imports Triton); skipped where Triton is not installed. Awkward sizes on purpose:
lengths 1 and around the 64-key tiles and the split chunks, head_dim not a power of two, GQA
groups of 1 and 4, padding rows sharing the spare slot, several splits and one.
"""

from __future__ import annotations

import pytest
import torch

from raxdoc.model.ops.attention import sdpa

pytest.importorskip("triton")
from raxdoc.model.ops.attention.slot_decode_kernel import slot_decode_attention  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# Float32 tiles: the interpreter's dots are exact float32, a GPU's tl.dot takes TF32 (10-bit mantissa).
F32_TOL = dict(atol=2e-5, rtol=1e-4) if DEVICE == "cpu" else dict(atol=5e-3, rtol=5e-3)


def _reference(k_cache, v_cache, q, slots, lens, scale):
    rows = []
    for i, (s, n) in enumerate(zip(slots.tolist(), lens.tolist())):
        rows.append(sdpa(q[i][None, None].float(), k_cache[s, :n][None].float(), v_cache[s, :n][None].float(),
                         False, scale)[0, 0])
    return torch.stack(rows)


@pytest.mark.parametrize("H, hkv, D", [(4, 1, 24), (8, 2, 32), (2, 2, 16)], ids=["gqa4_d24", "gqa4_d32", "mha_d16"])
@pytest.mark.parametrize("splits", [1, 3])
def test_kernel_equals_sdpa_per_row(H, hkv, D, splits):
    gen = torch.Generator().manual_seed(H * 100 + D + splits)
    S, L = 6, 200
    k_cache = torch.randn(S, L, hkv, D, generator=gen).to(DEVICE)
    v_cache = torch.randn(S, L, hkv, D, generator=gen).to(DEVICE)
    slots = torch.tensor([2, 0, 4, 1, 5, 5], device=DEVICE)  # the last two: padding rows on spare slot 5
    lens = torch.tensor([1, 63, 65, 200, 1, 1], device=DEVICE)
    q = torch.randn(len(slots), H, D, generator=gen).to(DEVICE)
    out = slot_decode_attention(k_cache, v_cache, q, slots, lens, scale=D ** -0.5, splits=splits)
    assert out.shape == q.shape and out.dtype == q.dtype
    torch.testing.assert_close(out, _reference(k_cache, v_cache, q, slots, lens, D ** -0.5), **F32_TOL)


def test_bfloat16_cache_within_bf16_rounding():
    gen = torch.Generator().manual_seed(5)
    k_cache, v_cache = (torch.randn(3, 130, 2, 32, generator=gen).to(DEVICE, torch.bfloat16) for _ in range(2))
    q = torch.randn(2, 8, 32, generator=gen).to(DEVICE, torch.bfloat16)
    slots, lens = torch.tensor([1, 2], device=DEVICE), torch.tensor([130, 64], device=DEVICE)
    out = slot_decode_attention(k_cache, v_cache, q, slots, lens, scale=0.2)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), _reference(k_cache, v_cache, q, slots, lens, 0.2), atol=2e-2, rtol=2e-2)


def test_keys_past_a_row_length_are_never_read():
    """Non-finite values past each row's length (a previous occupant's leftovers) do not leak."""
    k_cache, v_cache = torch.randn(2, 2, 96, 1, 16).to(DEVICE)
    k_cache[:, 10:] = float("nan")
    v_cache[:, 10:] = float("inf")
    q = torch.randn(2, 2, 16, device=DEVICE)
    slots, lens = torch.tensor([1, 0], device=DEVICE), torch.tensor([10, 3], device=DEVICE)
    out = slot_decode_attention(k_cache, v_cache, q, slots, lens, scale=0.25, splits=2)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, _reference(k_cache, v_cache, q, slots, lens, 0.25), **F32_TOL)


def test_mismatched_head_dim_is_refused():
    k_cache = torch.zeros(2, 8, 1, 16, device=DEVICE)
    with pytest.raises(ValueError, match="does not fit"):
        slot_decode_attention(k_cache, k_cache, torch.zeros(1, 2, 32, device=DEVICE),
                              torch.tensor([0], device=DEVICE), torch.tensor([1], device=DEVICE), 1.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("B", [1, 7, 64])
def test_rax_sizes_on_gpu_match_gather_and_replay_in_a_cuda_graph(B):
    """Rax 4.5's attention layers (8 query heads over 2 KV heads of 256) on a bf16 pool of 4k keys."""
    from raxdoc.model.ops.attention.decode import GatherAttention, TritonSlotAttention

    gen = torch.Generator().manual_seed(B)
    S, L, hkv, H, D = B + 1, 4096, 2, 8, 256
    k_cache, v_cache = (torch.randn(S, L, hkv, D, generator=gen).to("cuda", torch.bfloat16) for _ in range(2))
    q = torch.randn(B, 1, H, D, generator=gen).to("cuda", torch.bfloat16)
    k, v = (torch.randn(B, 1, hkv, D, generator=gen).to("cuda", torch.bfloat16) for _ in range(2))
    slots = torch.randperm(S, generator=gen)[:B].cuda()
    past = torch.randint(0, L, (B,), generator=gen).cuda()
    kc, vc = k_cache.clone(), v_cache.clone()
    ref = GatherAttention()(kc, vc, q, k, v, slots, past, span=L, scale=D ** -0.5)
    triton_attention = TritonSlotAttention()
    out = triton_attention(k_cache, v_cache, q, k, v, slots, past, span=0, scale=D ** -0.5)
    torch.testing.assert_close(out.float(), ref.float(), atol=2e-2, rtol=2e-2)
    assert torch.equal(k_cache, kc) and torch.equal(v_cache, vc)  # the same append
    graph = torch.cuda.CUDAGraph()
    torch.cuda.synchronize()
    with torch.cuda.graph(graph):
        replayed = triton_attention(k_cache, v_cache, q, k, v, slots, past, span=0, scale=D ** -0.5)
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(replayed, out)
