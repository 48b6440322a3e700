"""Decode conv over a pool of windows (`causal_conv1d_update_pooled`): the torch path and the Triton
kernel (under Triton's interpreter on CPU, set by tests/conftest.py) == the naive op on gathered rows."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from ops_inputs import conv_inputs

from raxdoc.model.ops import OpInputError
from raxdoc.model.ops.conv1d import naive_causal_conv1d_update
from raxdoc.model.ops.conv1d.slot_update import causal_conv1d_update_pooled

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _kernel_params():
    no_triton = importlib.util.find_spec("triton") is None
    return [pytest.param(False, id="torch"),
            pytest.param(True, id="triton", marks=pytest.mark.skipif(no_triton, reason="needs Triton"))]


@pytest.mark.parametrize("use_kernel", _kernel_params())
@pytest.mark.parametrize("D, W, bias, activation", [(6, 4, True, "silu"), (300, 4, False, "silu"),
                                                      (17, 3, True, None)],
                         ids=["small", "two_channel_blocks", "width3_linear"])
def test_pooled_update_equals_naive_on_gathered_rows(use_kernel, D, W, bias, activation):
    S, slots = 6, [4, 0, 2]
    x, weight, b = conv_inputs(B=3, T=1, D=D, W=W, bias=bias, device=DEVICE)
    pool = torch.randn(S, D, W, generator=torch.Generator().manual_seed(D)).to(DEVICE)
    before = pool.clone()
    idx = torch.tensor(slots, device=DEVICE)
    windows = before[idx].clone()
    want = naive_causal_conv1d_update(x, windows, weight, b, activation)
    got = causal_conv1d_update_pooled(x, pool, idx, weight, b, activation, use_kernel=use_kernel)
    assert got.shape == x.shape
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pool[idx], windows)  # shifted, newest column = x, in place
    others = [s for s in range(S) if s not in slots]
    assert torch.equal(pool[others], before[others])


@pytest.mark.parametrize("use_kernel", _kernel_params())
def test_bf16_pool_keeps_its_rounding(use_kernel):
    x, weight, b = conv_inputs(B=2, T=1, D=8, W=4, dtype=torch.bfloat16, device=DEVICE)
    pool = torch.randn(3, 8, 4).to(DEVICE, torch.bfloat16)
    idx = torch.tensor([2, 0], device=DEVICE)
    windows = pool[idx].clone()
    want = naive_causal_conv1d_update(x, windows, weight, b, "silu")
    got = causal_conv1d_update_pooled(x, pool, idx, weight, b, "silu", use_kernel=use_kernel)
    torch.testing.assert_close(got.float(), want.float(), atol=2e-2, rtol=2e-2)
    assert torch.equal(pool[idx], windows)


def test_bad_shapes_raise_typed_errors():
    x, weight, b = conv_inputs(B=2, T=1, D=8, W=4)
    with pytest.raises(OpInputError):
        causal_conv1d_update_pooled(x, torch.zeros(3, 8, 3), torch.tensor([0, 1]), weight, b)
    with pytest.raises(OpInputError):
        causal_conv1d_update_pooled(x, torch.zeros(3, 8, 4), torch.tensor([0, 1, 2]), weight, b)
    with pytest.raises(OpInputError):
        causal_conv1d_update_pooled(x, torch.zeros(3, 8, 4), torch.tensor([0, 1]), weight, b, activation="gelu")
