"""l2norm and gated RMSNorm: naive references and the dispatching versions."""

from raxdoc.model.ops.norm.fast import l2norm, rms_norm_gated
from raxdoc.model.ops.norm.naive import naive_l2norm, naive_rms_norm_gated

__all__ = ["l2norm", "naive_l2norm", "naive_rms_norm_gated", "rms_norm_gated"]
