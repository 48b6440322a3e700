"""Triton decode attention that reads K/V straight from the slot pool (no gather copy).

One new query token per row; row b attends over keys 0 .. lens[b]-1 of slot `slots[b]` in
caches laid out (S, L, Hkv, D). Split-K ("flash decoding"): the grid is (rows, kv heads,
splits); a program takes one kv head, all the query heads that share it (GQA group, padded
to 16 rows for `tl.dot`) and one chunk of `max_len / splits` positions, and writes a partial
output and its log-sum-exp; `slot_decode_attention` merges the splits in torch. Chunks past
a row's length load nothing (masked) and give log-sum-exp -inf, weight 0. Tiles are loaded in
the cache's dtype and computed in float32 (tf32 dots on a GPU; Triton's CPU interpreter gets
bfloat16 dots wrong, and the step is bound by reading the cache, not by the dots).

Why: `GatherAttention` copies every row's K/V up to the batch's span into a fresh buffer each
step (at rax-4.5 sizes, 256 rows x 2k keys, ~1 GB per layer) before SDPA reads it again; this
kernel reads each key once. Static grid and shapes, lengths from a device tensor: no host sync,
CUDA-graph safe, one graph per batch size.

Imports Triton at module import when it is installed (a plain install without it still imports
this module; only calling the kernel needs Triton). Only `decode.TritonSlotAttention` imports it,
when `backend.decode_attention_kernel` chose it. Runs on CPU under Triton's interpreter
(`TRITON_INTERPRET=1`, set before Triton is imported): that is how the tests check it without a
GPU. Not here: appending the new K/V (the caller's `index_put_`), prefill.
"""

from __future__ import annotations

import torch

from raxdoc.model.ops.backend import BackendUnavailableError

try:
    import triton
    import triton.language as tl
except ImportError:  # no Triton: the module imports, `slot_decode_attention` refuses to run
    triton = tl = None

MIN_ROWS = 16  # tl.dot needs at least 16 rows
TILE_ELEMENTS = 8192  # keys x head_dim per float32 K or V tile (32 KiB): 32 keys at head_dim 256


def _jit(fn):
    return fn if triton is None else triton.jit(fn)


@_jit
def _slot_decode_kernel(
    q_ptr, k_ptr, v_ptr, slots_ptr, lens_ptr, o_ptr, lse_ptr, scale,
    stride_qb, stride_qh,
    stride_ks, stride_kl, stride_kh,
    stride_vs, stride_vl, stride_vh,
    stride_ob, stride_oh, stride_os,
    stride_lb, stride_lh,
    GROUP: tl.constexpr, BLOCK_G: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr,
    CHUNK: tl.constexpr, BLOCK_N: tl.constexpr,
):
    row = tl.program_id(0)
    kv_head = tl.program_id(1)
    split = tl.program_id(2)
    slot = tl.load(slots_ptr + row).to(tl.int64)
    length = tl.load(lens_ptr + row)
    g = tl.arange(0, BLOCK_G)
    d = tl.arange(0, BLOCK_D)
    g_mask = g < GROUP
    d_mask = d < HEAD_DIM
    heads = kv_head * GROUP + g  # query heads of this kv head
    q = tl.load(q_ptr + row * stride_qb + heads[:, None] * stride_qh + d[None, :],
                mask=g_mask[:, None] & d_mask[None, :], other=0.0).to(tl.float32)  # (BLOCK_G, BLOCK_D)
    m_i = tl.full([BLOCK_G], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_G], dtype=tl.float32)
    acc = tl.zeros([BLOCK_G, BLOCK_D], dtype=tl.float32)
    k_base = k_ptr + slot * stride_ks + kv_head * stride_kh
    v_base = v_ptr + slot * stride_vs + kv_head * stride_vh
    for offset in range(0, CHUNK, BLOCK_N):
        n = split * CHUNK + offset + tl.arange(0, BLOCK_N)
        n_mask = n < length
        kv_mask = n_mask[:, None] & d_mask[None, :]
        # (BLOCK_N, BLOCK_D)
        k = tl.load(k_base + n[:, None] * stride_kl + d[None, :], mask=kv_mask, other=0.0).to(tl.float32)
        s = tl.dot(q, tl.trans(k)) * scale  # (BLOCK_G, BLOCK_N)
        s = tl.where(n_mask[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        # A block with no valid key keeps m at -inf: shift by 0 there so exp gives 0, not nan.
        shift = tl.where(m_new == float("-inf"), 0.0, m_new)
        alpha = tl.exp(m_i - shift)
        p = tl.exp(s - shift[:, None])
        v = tl.load(v_base + n[:, None] * stride_vl + d[None, :], mask=kv_mask, other=0.0).to(tl.float32)
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None] + tl.dot(p, v)
        m_i = m_new
    safe_l = tl.where(l_i > 0, l_i, 1.0)
    out = acc / safe_l[:, None]
    lse = tl.where(l_i > 0, m_i + tl.log(safe_l), float("-inf"))
    tl.store(o_ptr + row * stride_ob + heads[:, None] * stride_oh + split * stride_os + d[None, :], out,
             mask=g_mask[:, None] & d_mask[None, :])
    tl.store(lse_ptr + row * stride_lb + heads * stride_lh + split, lse, mask=g_mask)


def num_splits(max_len: int, target_chunk: int = 256) -> int:
    """Splits of the key axis: chunks of about `target_chunk` keys, at least one."""
    return max(1, triton.cdiv(max_len, target_chunk))


def slot_decode_attention(k_cache: torch.Tensor, v_cache: torch.Tensor, q: torch.Tensor, slots: torch.Tensor,
                          lens: torch.Tensor, scale: float, splits: int | None = None) -> torch.Tensor:
    """caches (S, L, Hkv, D) with a contiguous last dim; q (B, H, D); slots, lens (B,) -> (B, H, D) in q's
    dtype. Row b attends keys [0, lens[b]) of slot slots[b]; every lens[b] must be >= 1."""
    if triton is None:
        raise BackendUnavailableError("the slot decode attention kernel needs Triton")
    B, H, D = q.shape
    L, hkv = k_cache.shape[1], k_cache.shape[2]
    if H % hkv or k_cache.shape[3] != D or k_cache.stride(3) != 1 or v_cache.stride(3) != 1:
        raise ValueError(f"q (B, {H}, {D}) does not fit caches {tuple(k_cache.shape)} with a contiguous last dim")
    splits = splits or num_splits(L)
    block_d = max(16, triton.next_power_of_2(D))
    block_n = max(16, min(64, TILE_ELEMENTS // block_d))
    chunk = triton.cdiv(triton.cdiv(L, splits), block_n) * block_n
    group = H // hkv
    q = q.contiguous()
    o = torch.empty(B, H, splits, D, dtype=torch.float32, device=q.device)
    lse = torch.empty(B, H, splits, dtype=torch.float32, device=q.device)
    _slot_decode_kernel[(B, hkv, splits)](
        q, k_cache, v_cache, slots, lens, o, lse, scale,
        q.stride(0), q.stride(1),
        k_cache.stride(0), k_cache.stride(1), k_cache.stride(2),
        v_cache.stride(0), v_cache.stride(1), v_cache.stride(2),
        o.stride(0), o.stride(1), o.stride(2),
        lse.stride(0), lse.stride(1),
        GROUP=group, BLOCK_G=max(MIN_ROWS, triton.next_power_of_2(group)), HEAD_DIM=D,
        BLOCK_D=block_d, CHUNK=chunk, BLOCK_N=block_n,
        # q, acc and two float32 tiles live in registers: at head_dim 256 that is ~200 a thread over
        # 4 warps, so spread it over 8 there (a guess until a GPU run tunes it).
        num_warps=8 if block_d >= 256 else 4,
    )
    # Merge the splits: weights exp(lse - max); splits past a row's length have lse -inf, weight 0.
    top = lse.amax(-1, keepdim=True)
    weights = torch.exp(lse - top)  # (B, H, splits)
    out = (o * weights[..., None]).sum(2) / weights.sum(-1, keepdim=True)
    return out.to(q.dtype)
