"""Kernels of the Gated DeltaNet layers, each twice: a plain-torch reference
(`naive_*`, the spec, runs anywhere) and a dispatching version that calls fla's
Triton kernels when every tensor is on CUDA and fla is installed. The attention
kernels (same pattern: reference beside fast paths) live in `ops.attention`.

Every choice of path is made in `backend` from `raxdoc.settings`: `RAXDOC_OPS=torch`
forces the reference path everywhere (parity runs on a GPU); `RAXDOC_OPS=fla` forbids
the fallback. Importing this package never imports fla, flash-attn or Triton.
"""

from raxdoc.model.ops.backend import BackendUnavailableError, OpInputError, use_fla
from raxdoc.model.ops.conv1d import (
    causal_conv1d,
    causal_conv1d_update,
    causal_conv1d_update_pooled,
    naive_causal_conv1d,
    naive_causal_conv1d_update,
)
from raxdoc.model.ops.gated_delta import (
    chunk_gated_delta_rule,
    fused_recurrent_gated_delta_rule,
    fused_recurrent_gated_delta_rule_update,
    naive_chunk_gated_delta_rule,
    naive_recurrent_gated_delta_rule,
)
from raxdoc.model.ops.norm import l2norm, naive_l2norm, naive_rms_norm_gated, rms_norm_gated

__all__ = [
    "BackendUnavailableError",
    "OpInputError",
    "causal_conv1d",
    "causal_conv1d_update",
    "causal_conv1d_update_pooled",
    "chunk_gated_delta_rule",
    "fused_recurrent_gated_delta_rule",
    "fused_recurrent_gated_delta_rule_update",
    "l2norm",
    "naive_causal_conv1d",
    "naive_causal_conv1d_update",
    "naive_chunk_gated_delta_rule",
    "naive_l2norm",
    "naive_recurrent_gated_delta_rule",
    "naive_rms_norm_gated",
    "rms_norm_gated",
    "use_fla",
]
