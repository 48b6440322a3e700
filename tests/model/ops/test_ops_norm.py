"""Naive l2norm and gated RMSNorm: definitions, dtypes, shape errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from ops_inputs import F32_ATOL, F32_RTOL

from raxdoc.model.ops import OpInputError, l2norm, naive_l2norm, naive_rms_norm_gated, rms_norm_gated


def test_l2norm_gives_unit_rows_and_keeps_zero_rows_finite():
    x = torch.randn(3, 5, 16) * 7
    x[0, 0] = 0
    y = l2norm(x)
    torch.testing.assert_close(y[1:].norm(dim=-1), torch.ones(2, 5), atol=F32_ATOL, rtol=F32_RTOL)
    assert torch.equal(y[0, 0], torch.zeros(16))  # eps inside the root: no NaN on an all-zero row


def test_rms_norm_gated_definition_in_float32():
    gen = torch.Generator().manual_seed(0)
    x, z, w = torch.randn(4, 12, generator=gen), torch.randn(4, 12, generator=gen), torch.rand(12, generator=gen)
    ref = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w * z * torch.sigmoid(z)
    torch.testing.assert_close(rms_norm_gated(x, z, w), ref, atol=F32_ATOL, rtol=F32_RTOL)


def test_rms_norm_gated_bf16_rounds_the_normalised_value_like_qwen():
    x, z = torch.randn(2, 64).bfloat16(), torch.randn(2, 64).bfloat16()
    w = torch.ones(64)
    out = naive_rms_norm_gated(x, z, w)
    h = F.rms_norm(x.float(), (64,), eps=1e-6).bfloat16()  # the intermediate cast
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, (h.float() * F.silu(z.float())).bfloat16(), atol=0, rtol=0)


def test_shape_errors():
    with pytest.raises(OpInputError):
        naive_rms_norm_gated(torch.zeros(2, 8), torch.zeros(2, 4), torch.ones(8))
    with pytest.raises(OpInputError):
        rms_norm_gated(torch.zeros(2, 8), torch.zeros(2, 8), torch.ones(4))
    assert naive_l2norm(torch.zeros(0, 8)).shape == (0, 8)
