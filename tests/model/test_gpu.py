"""CUDA checks (skipped on CPU): the fla path agrees with the plain-torch path in bf16, cached decode
on the fla path agrees with the uncached forward, and a CUDA float32 model agrees with the CPU one."""

import importlib.util

import pytest
import torch

from raxdoc.model import RaxForConditionalGeneration
from raxdoc.testing.presets import write_random_checkpoint
from tests.model.conftest import assert_close, image_prompt

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
needs_fla = pytest.mark.skipif(importlib.util.find_spec("fla") is None, reason="needs flash-linear-attention")


@pytest.fixture(scope="module")
def bf16_model(tmp_path_factory):
    path = write_random_checkpoint(tmp_path_factory.mktemp("gpu"), "tiny")
    return RaxForConditionalGeneration.from_pretrained(path, dtype=torch.bfloat16, device="cuda"), path


@needs_fla
@torch.no_grad()
def test_fla_path_matches_torch_path_bf16(bf16_model, monkeypatch):
    model, path = bf16_model
    ids, pixels, grid = image_prompt(path, [(1, 8, 6), (1, 4, 4)], [40, 90, 17])
    ids, pixels, grid = ids.cuda(), pixels.cuda(), grid.cuda()
    monkeypatch.setenv("RAXDOC_OPS", "torch")
    ref = model(ids, pixel_values=pixels, image_grid_thw=grid)
    monkeypatch.setenv("RAXDOC_OPS", "fla")
    fast = model(ids, pixel_values=pixels, image_grid_thw=grid)
    assert_close(fast, ref, rtol=3e-2)


@needs_fla
@torch.no_grad()
def test_fla_cached_decode_matches_uncached(bf16_model, monkeypatch):
    model, _ = bf16_model
    monkeypatch.setenv("RAXDOC_OPS", "fla")
    ids = torch.randint(0, 1000, (2, 75), device="cuda")
    full = model(ids)
    cache = model.new_cache()
    steps = [model.forward_step(ids[:, :70], cache)]
    steps += [model.forward_step(ids[:, i: i + 1], cache) for i in range(70, 75)]
    assert_close(torch.cat(steps, 1), full, rtol=3e-2)


@torch.no_grad()
def test_cuda_float32_torch_path_matches_cpu(tmp_path, monkeypatch):
    """Device placement: every tensor (rope tables, vision taps, cu_seqlens) follows the model to CUDA."""
    monkeypatch.setenv("RAXDOC_OPS", "torch")
    path = write_random_checkpoint(tmp_path, "tiny")
    cpu = RaxForConditionalGeneration.from_pretrained(path)
    gpu = RaxForConditionalGeneration.from_pretrained(path, device="cuda")
    assert {p.device.type for p in gpu.parameters()} == {"cuda"}
    ids, pixels, grid = image_prompt(path, [(1, 4, 6)], [5, 70])
    ref = cpu(ids, pixel_values=pixels, image_grid_thw=grid)
    out = gpu(ids.cuda(), pixel_values=pixels.cuda(), image_grid_thw=grid.cuda())
    assert_close(out.cpu(), ref, rtol=1e-3)  # TF32 matmuls may be on


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "full"])
@pytest.mark.parametrize("hq, hkv, d", [(8, 2, 256), (16, 16, 64)], ids=["decoder_gqa_d256", "vit_d64"])
@torch.no_grad()
def test_varlen_attention_bundled_flash_equals_sdpa_per_segment(causal, hq, hkv, d, monkeypatch):
    """One aten flash call over packed segments of awkward lengths == SDPA segment by segment."""
    from raxdoc.model.ops import backend
    from raxdoc.model.ops.attention import naive_varlen_attention, varlen_attention

    gen = torch.Generator().manual_seed(hq + d)
    lengths = [1, 63, 200, 64, 5]
    n = sum(lengths)
    q = torch.randn(n, hq, d, generator=gen).to("cuda", torch.bfloat16)
    k, v = (torch.randn(n, hkv, d, generator=gen).to("cuda", torch.bfloat16) for _ in range(2))
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32, device="cuda")
    monkeypatch.delenv("RAXDOC_OPS", raising=False)
    monkeypatch.delenv("RAXDOC_PREFILL_ATTENTION", raising=False)
    monkeypatch.setattr(backend, "flash_attn_installed", lambda: False)  # the bundled kernel, not flash-attn's
    assert backend.prefill_attention_path(q) == "aten_flash"
    fast = varlen_attention(q, k, v, cu, causal=causal, scale=d ** -0.5)
    ref = naive_varlen_attention(q, k, v, cu, causal=causal, scale=d ** -0.5)
    monkeypatch.setenv("RAXDOC_PREFILL_ATTENTION", "sdpa")
    assert backend.prefill_attention_path(q) == "sdpa"
    torch.testing.assert_close(varlen_attention(q, k, v, cu, causal=causal, scale=d ** -0.5), ref, atol=0, rtol=0)
    torch.testing.assert_close(fast.float(), ref.float(), atol=2e-2, rtol=2e-2)
