"""Attention kernels of the full-attention layers, each beside its plain-torch reference.

- `varlen`: prefill attention over packed segments (one SDPA per segment as the reference;
  flash-attn's or PyTorch's bundled varlen flash kernel on CUDA);
- `decode`: one query token per row over a slot pool's K/V (`GatherAttention` as the reference;
  flash-attn's kv-cache kernel, our Triton split-K kernel, PyTorch's bundled flash on CUDA);
- `slot_decode_kernel`: the Triton kernel itself (imports Triton; only `decode` imports it).

Which kernel runs is decided by `raxdoc.settings` and the tensors' device, never by callers.
"""
