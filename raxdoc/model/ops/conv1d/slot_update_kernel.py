"""The Triton kernel behind `slot_update.causal_conv1d_update_pooled` (imports Triton when installed;
without it the module still imports and `launch` refuses to run).

Grid: (rows, channel blocks). A program loads its row's slot id, the window columns 1..W-1 of its
channels and the new input, writes the shifted window back in place and the activated output.
The window width W is small (4 in Rax 4.5) and a compile-time constant: one column at a time.
"""

from __future__ import annotations

import torch

from raxdoc.model.ops.backend import BackendUnavailableError

try:
    import triton
    import triton.language as tl
except ImportError:  # a plain install without Triton imports every module; only `launch` needs it
    triton = tl = None

BLOCK_D = 256


def _jit(fn):
    return fn if triton is None else triton.jit(fn)


@_jit
def _conv_update_kernel(x_ptr, pool_ptr, slots_ptr, w_ptr, b_ptr, y_ptr, D,
                        stride_pool_s, stride_pool_d,
                        W: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    block = tl.program_id(1)
    d = block * BLOCK + tl.arange(0, BLOCK)
    mask = d < D
    slot = tl.load(slots_ptr + row).to(tl.int64)
    base = pool_ptr + slot * stride_pool_s + d * stride_pool_d
    x = tl.load(x_ptr + row * D + d, mask=mask, other=0.0)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for j in tl.static_range(W - 1):  # window column j <- column j + 1, in place
        col = tl.load(base + j + 1, mask=mask, other=0.0)
        tl.store(base + j, col, mask=mask)
        acc += col.to(tl.float32) * tl.load(w_ptr + d * W + j, mask=mask, other=0.0).to(tl.float32)
    tl.store(base + W - 1, x.to(pool_ptr.dtype.element_ty), mask=mask)
    newest = x.to(pool_ptr.dtype.element_ty).to(tl.float32)  # the pool's rounding, as the naive op sees it
    acc += newest * tl.load(w_ptr + d * W + W - 1, mask=mask, other=0.0).to(tl.float32)
    if HAS_BIAS:
        acc += tl.load(b_ptr + d, mask=mask, other=0.0).to(tl.float32)
    if SILU:
        acc = acc * tl.sigmoid(acc)
    tl.store(y_ptr + row * D + d, acc.to(y_ptr.dtype.element_ty), mask=mask)


def launch(x: torch.Tensor, pool: torch.Tensor, slots: torch.Tensor, weight: torch.Tensor,
           bias: torch.Tensor | None, silu: bool) -> torch.Tensor:
    if triton is None:
        raise BackendUnavailableError("the pooled conv update kernel needs Triton")
    N, (_, D, W) = slots.shape[0], pool.shape
    x2 = x.reshape(N, D).contiguous()
    y = torch.empty_like(x2)
    w = weight.contiguous()
    _conv_update_kernel[(N, triton.cdiv(D, BLOCK_D))](
        x2, pool, slots, w, bias if bias is not None else w, y, D, pool.stride(0), pool.stride(1),
        W=W, HAS_BIAS=bias is not None, SILU=silu, BLOCK=BLOCK_D)
    return y.reshape(x.shape)
