"""Gated delta rule: naive references and the dispatching versions."""

from raxdoc.model.ops.gated_delta.fast import (
    chunk_gated_delta_rule,
    fused_recurrent_gated_delta_rule,
    fused_recurrent_gated_delta_rule_update,
)
from raxdoc.model.ops.gated_delta.naive import naive_chunk_gated_delta_rule, naive_recurrent_gated_delta_rule

__all__ = [
    "chunk_gated_delta_rule",
    "fused_recurrent_gated_delta_rule",
    "fused_recurrent_gated_delta_rule_update",
    "naive_chunk_gated_delta_rule",
    "naive_recurrent_gated_delta_rule",
]
