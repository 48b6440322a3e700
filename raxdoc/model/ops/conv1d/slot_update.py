"""One decode step of the causal depthwise conv over a pool of conv windows, in place by slot.

`causal_conv1d_update_pooled(x, pool, slots, weight, bias, activation)`: row i's window is
`pool[slots[i]]` (D, W), oldest first; it is shifted left, gets x[i] as its newest column, and the
row's output is act(sum(window * weight) + bias). fla 0.6's conv update takes a batch of windows,
not slot indices, so a slot cache had to gather every row's window and write it back each step;
this updates the pool rows where they lie.

Two paths: plain torch (gather, `naive_causal_conv1d_update`, `index_copy_`) anywhere, and a small
Triton kernel on CUDA (a program per row and block of channels; Triton is imported only then).
The kernel also runs on CPU under Triton's interpreter, which is how the tests check it.

Not here: prefill convs (`fast.causal_conv1d`), choosing slots.
"""

from __future__ import annotations

import torch

from raxdoc.model.ops.backend import OpInputError, use_triton
from raxdoc.model.ops.conv1d.naive import ACTIVATIONS, naive_causal_conv1d_update


def causal_conv1d_update_pooled(x: torch.Tensor, pool: torch.Tensor, slots: torch.Tensor, weight: torch.Tensor,
                                bias: torch.Tensor | None = None, activation: str | None = "silu",
                                use_kernel: bool | None = None) -> torch.Tensor:
    """x (N, D) or (N, 1, D); pool (S, D, W); slots (N,) long; weight (D, W) -> y shaped like x.
    `use_kernel`: None = the Triton kernel when `backend.use_triton` says so (CUDA, Triton installed,
    not `RAXDOC_OPS=torch`); True forces it (interpreter tests)."""
    if activation not in ACTIVATIONS:
        raise OpInputError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
    S, D, W = pool.shape
    N = slots.shape[0]
    if weight.shape != (D, W) or x.numel() != N * D or x.shape[-1] != D or slots.dim() != 1:
        raise OpInputError(f"want x (N, D) or (N, 1, D), pool (S, D, W), slots (N,), weight (D, W); got "
                           f"{tuple(x.shape)}, {tuple(pool.shape)}, {tuple(slots.shape)}, {tuple(weight.shape)}")
    if use_kernel is None:
        use_kernel = use_triton(x, pool)
    if not use_kernel:
        windows = pool.index_select(0, slots)
        y = naive_causal_conv1d_update(x, windows, weight, bias, activation)
        pool.index_copy_(0, slots, windows)
        return y
    if not pool.is_contiguous():
        raise OpInputError("the conv pool must be contiguous (rows are addressed by stride)")
    from raxdoc.model.ops.conv1d.slot_update_kernel import launch

    return launch(x, pool, slots, weight, bias, activation in ("silu", "swish"))
