"""Causal depthwise conv1d: naive references and the dispatching versions."""

from raxdoc.model.ops.conv1d.fast import causal_conv1d, causal_conv1d_update
from raxdoc.model.ops.conv1d.naive import naive_causal_conv1d, naive_causal_conv1d_update
from raxdoc.model.ops.conv1d.slot_update import causal_conv1d_update_pooled

__all__ = ["causal_conv1d", "causal_conv1d_update", "causal_conv1d_update_pooled", "naive_causal_conv1d",
           "naive_causal_conv1d_update"]
