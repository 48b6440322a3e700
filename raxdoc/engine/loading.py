"""Loading a checkpoint onto a `SlotRunner`: what `Engine.from_pretrained` does before it builds
the engine. Reads the model and processor with the config's dtype (the profile's, else bf16 on
CUDA and float32 on CPU), takes the checkpoint's merge size, and sizes the slot pool to the memory
the config's `gpu_memory_utilization` allows (`cache_budget`, then `plan_cache`).

The device's memory is read through `memory_info`, a callable returning (free, total) bytes:
`torch.cuda.mem_get_info` on CUDA by default; a test passes a fake device's numbers on CPU.

Not here: the engine itself, scheduling, or anything after the runner exists.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from raxdoc.engine.config import EngineConfig

# Share of the cache budget held back for activations (prefill and ViT intermediates, decode
# logits, CUDA graph pools, allocator slack). A share rather than an estimate from the prefill /
# ViT token budgets: the peak depends on which kernels run (flash or one SDPA per image, fla's chunk
# intermediates), on the graphs captured and on fragmentation, which sizes alone do not give, while
# the profiles already scale their token budgets with the GPU's memory, so a share grows with them.
# With utilization 0.9 this leaves about the headroom of the old rule (a quarter of free memory).
ACTIVATION_RESERVE = 0.2


def cache_budget(free: int, total: int, in_use: int, utilization: float) -> int:
    """Bytes the slot pool may take: this engine's share of the device (`utilization` x `total`) less
    what it already holds (`in_use`, the loaded weights), never more than is free, less
    `ACTIVATION_RESERVE` of it. The share is per engine, so `actors_per_gpu` engines with a share of
    1 / actors_per_gpu each fit side by side."""
    share = min(utilization * total - in_use, free)
    return max(0, int(share * (1 - ACTIVATION_RESERVE)))


def weight_bytes(model: Any) -> int:
    """Bytes of a module's parameters and buffers: what loading the checkpoint put on the device."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def plan_slots(model: Any, config: EngineConfig, cache_bytes: int, context: str = "") -> int:
    """Slots the pool gets within `cache_bytes`, after the runner's spare slot; at most `max_num_seqs`."""
    from raxdoc.engine import CacheDims, CacheTooSmallError, plan_cache

    itemsize = next(model.parameters()).element_size()
    dims = CacheDims.from_config(model.config.text)
    # Recurrent state is float32 in the pool (SlotRunner), whatever the weights' dtype.
    sizes = dict(dtype_bytes=itemsize, max_model_len=config.max_model_len, state_dtype_bytes=4)
    try:
        # The runner's pool holds one spare slot (padding rows of graph batches): budget it first.
        spare = plan_cache(cache_bytes, dims, max_num_seqs=1, **sizes).bytes_per_slot
        return plan_cache(cache_bytes - spare, dims, max_num_seqs=config.max_num_seqs, **sizes).num_slots
    except CacheTooSmallError as err:
        raise CacheTooSmallError(f"no cache slot fits (the pool needs two: one and the spare): {err}"
                                 f"{context}") from err


def load_slot_runner(path_or_id: str, *, profile: Any = None, dtype: Any = None, device: str | None = None,
                     free_bytes: int | None = None, overrides: dict[str, Any] | None = None,
                     memory_info: Callable[[], tuple[int, int]] | None = None):
    """-> (SlotRunner, RaxProcessor, EngineConfig); arguments as `Engine.from_pretrained`.

    Slots: `max_num_seqs`, cut to what fits. `free_bytes` is the cache budget itself (nothing held
    back); else `memory_info()` -> (free, total) gives it through `cache_budget` (default on CUDA:
    the device's `mem_get_info`; on CPU without `memory_info`, no memory cap)."""
    import torch

    from raxdoc.engine.slot_runner import SlotRunner
    from raxdoc.model import RaxForConditionalGeneration, RaxProcessor
    from raxdoc.model.families import read_config, reader_kind_of
    from raxdoc.model.loader import LoaderError, check_checkpoint, resolve

    folder = resolve(path_or_id)
    try:
        raw = read_config(folder)
    except ValueError:
        raw = None  # check_checkpoint names what is wrong with it
    if raw is not None and reader_kind_of(raw) != "rax":
        raise LoaderError(f"{folder} is a {raw.get('model_type')!r} checkpoint: raxdoc's engine runs qwen3_5 "
                          f"checkpoints only (`raxdoc extract` reads this one with the transformers backend)")
    check_checkpoint(folder)  # one typed error naming what is wrong, before anything loads
    path_or_id = folder
    overrides = overrides or {}
    config = EngineConfig.from_profile(profile, **overrides) if profile is not None else EngineConfig(**overrides)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = dtype or config.dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    processor = RaxProcessor.from_pretrained(path_or_id)
    model = RaxForConditionalGeneration.from_pretrained(path_or_id, dtype=dtype, device=device).eval()
    if "spatial_merge_size" not in overrides:  # patches per placeholder: this checkpoint's, not 2x2
        config = replace(config, spatial_merge_size=model.config.vision.spatial_merge_size)
    if memory_info is None and free_bytes is None and device.startswith("cuda"):
        memory_info = lambda: torch.cuda.mem_get_info(torch.device(device))  # noqa: E731
    num_slots = config.max_num_seqs
    if free_bytes is not None:
        num_slots = plan_slots(model, config, free_bytes)
    elif memory_info is not None:
        free, total = memory_info()
        weights = weight_bytes(model)
        budget = cache_budget(free, total, weights, config.gpu_memory_utilization)
        gib = 2 ** 30
        context = (f"; gpu_memory_utilization={config.gpu_memory_utilization} of {total / gib:.2f} GiB, "
                   f"weights {weights / gib:.2f} GiB, {free / gib:.2f} GiB free, {ACTIVATION_RESERVE:.0%} of "
                   f"the rest kept for activations: raise gpu_memory_utilization or lower max_model_len")
        num_slots = plan_slots(model, config, budget, context)
    # CUDA graphs on CUDA unless the config says eager; CPU always runs eagerly.
    graphs = device.startswith("cuda") and not config.enforce_eager
    runner = SlotRunner(model, num_slots, config.max_model_len, cuda_graphs=graphs,
                        decode_attention=config.decode_attention)
    return runner, processor, config
