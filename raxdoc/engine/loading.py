"""Loading a checkpoint onto a `SlotRunner`: what `Engine.from_pretrained` does before it builds
the engine. Reads the model and processor, resolves dtype and device from the profile, takes the
checkpoint's merge size, and sizes the slot pool to the free GPU memory (`cache_plan.plan_cache`).

Not here: the engine itself, scheduling, or anything after the runner exists.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from raxdoc.engine.config import EngineConfig


def load_slot_runner(path_or_id: str, *, profile: Any = None, dtype: Any = None, device: str | None = None,
                     free_bytes: int | None = None, overrides: dict[str, Any] | None = None):
    """-> (SlotRunner, RaxProcessor, EngineConfig); arguments as `Engine.from_pretrained`."""
    import torch

    from raxdoc.engine.cache_plan import CacheDims, plan_cache
    from raxdoc.engine.slot_runner import SlotRunner
    from raxdoc.model import RaxForConditionalGeneration, RaxProcessor

    overrides = overrides or {}

    config = EngineConfig.from_profile(profile, **overrides) if profile is not None else EngineConfig(**overrides)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = dtype or (getattr(profile, "dtype", None) if profile is not None else None) or (
        "bfloat16" if device.startswith("cuda") else "float32")
    processor = RaxProcessor.from_pretrained(path_or_id)
    model = RaxForConditionalGeneration.from_pretrained(path_or_id, dtype=dtype, device=device).eval()
    if "spatial_merge_size" not in overrides:  # patches per placeholder: this checkpoint's, not 2x2
        config = replace(config, spatial_merge_size=model.config.vision.spatial_merge_size)
    num_slots = config.max_num_seqs
    if free_bytes is None and device.startswith("cuda"):
        free_bytes = int(torch.cuda.mem_get_info()[0] * 0.75)
    if free_bytes is not None:
        itemsize = next(model.parameters()).element_size()
        dims = CacheDims.from_config(model.config.text)
        sizes = dict(dtype_bytes=itemsize, max_model_len=config.max_model_len, state_dtype_bytes=4)
        # The runner's pool holds one spare slot (padding rows of graph batches): budget it first.
        spare = plan_cache(free_bytes, dims, max_num_seqs=1, **sizes).bytes_per_slot
        num_slots = plan_cache(free_bytes - spare, dims, max_num_seqs=config.max_num_seqs, **sizes).num_slots
    # CUDA graphs on CUDA unless the config says eager; CPU always runs eagerly.
    graphs = device.startswith("cuda") and not config.enforce_eager
    runner = SlotRunner(model, num_slots, config.max_model_len, cuda_graphs=graphs,
                        decode_attention=config.decode_attention)
    return runner, processor, config
