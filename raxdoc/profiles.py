"""Throughput settings per GPU tier, as data: what the engine and the pipeline size themselves by.

A profile says how much work one engine takes at once (sequences, prefill and ViT token budgets),
how large a page may be (pixel bounds), and how the GPU is shared (actors per GPU, memory fraction).
`auto` picks a tier from the device name and memory. Every field can be overridden by name from the
CLI and the API; overrides are validated like the profile itself.

Not here: measuring anything (bench/), touching a GPU beyond reading its name and memory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from raxdoc.settings import DTYPES, MEMORY_UTILIZATION_RANGE


# Largest integer field: int32 (torch indices, Arrow columns); largest page, 100 Mpx (10,000 px square,
# a 300 MB RGB array): far past any reader's page, yet small enough to render.
_INT_MAX, _PIXELS_MAX = 2**31 - 1, 100_000_000


@dataclass(frozen=True)
class Profile:
    name: str
    # Weights and activations dtype; CPUs run float32 (bf16 matmuls are slow on most CPUs).
    dtype: str
    # Most sequences decoding at once: the engine's slot count, one page per sequence.
    max_num_seqs: int
    # Most prompt tokens (text + visual) one prefill step packs; bounds activation memory.
    prefill_token_budget: int
    # Most patch tokens one ViT step packs (4 patches make a visual token after the 2x2 merge).
    vit_token_budget: int
    # Page pixel bounds pages are rendered within (pipeline.ingest_stage.render_options; the image
    # processor keeps the checkpoint's own); 1288 px on the long side of a letter page
    # is ~1,240 visual tokens, enough for 8-pt invoice print.
    min_pixels: int
    max_pixels: int
    # Longest sequence a slot holds: visual + instruction + output tokens.
    max_model_len: int
    # Output tokens a page may use when the caller says nothing.
    max_new_tokens: int
    # Engine actors sharing one GPU (fractional num_gpus per actor = 1 / actors_per_gpu).
    actors_per_gpu: int
    # Share of the GPU's total memory one engine may take (weights + cache + activations): the
    # engine sizes its slot pool to it (`EngineConfig.from_profile`, `engine.loading.cache_budget`).
    gpu_memory_utilization: float
    # Capture decode steps as CUDA graphs at padded batch sizes; off means eager.
    cuda_graphs: bool

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"profile {self.name}: dtype must be one of {DTYPES}, got {self.dtype!r}")
        for field in ("max_num_seqs", "prefill_token_budget", "vit_token_budget", "min_pixels",
                      "max_pixels", "max_model_len", "max_new_tokens", "actors_per_gpu"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"profile {self.name}: {field} must be a positive integer, got {value!r}")
            largest = _PIXELS_MAX if field.endswith("_pixels") else _INT_MAX
            if value > largest:
                raise ValueError(f"profile {self.name}: {field} {value} is too large (at most {largest:,})")
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"profile {self.name}: min_pixels {self.min_pixels} > max_pixels {self.max_pixels}")
        if not isinstance(self.cuda_graphs, bool):  # "off" would be true
            raise ValueError(f"profile {self.name}: cuda_graphs must be True or False, got {self.cuda_graphs!r}")
        low, high = MEMORY_UTILIZATION_RANGE
        share = self.gpu_memory_utilization
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not low <= share <= high:
            raise ValueError(f"profile {self.name}: gpu_memory_utilization must be in [{low}, {high}], "
                             f"got {self.gpu_memory_utilization!r}")
        if self.max_new_tokens >= self.max_model_len:
            raise ValueError(f"profile {self.name}: max_new_tokens {self.max_new_tokens} leaves no room "
                             f"for the prompt in max_model_len {self.max_model_len}")

    def with_overrides(self, **overrides: Any) -> "Profile":
        """A copy with fields replaced; unknown names and bad values are errors naming the field."""
        known = {f.name for f in dataclasses.fields(self)} - {"name"}
        unknown = sorted(k for k in overrides if k not in known)
        if unknown:
            raise ValueError(f"unknown profile field(s) {unknown}; known: {sorted(known)}")
        given = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **given) if given else self


_PAGE = 1288 * 1000  # pixels of a letter page at 1288 px on its long side

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("cpu", "float32", max_num_seqs=4, prefill_token_budget=4096, vit_token_budget=8192,
                min_pixels=256 * 256, max_pixels=_PAGE, max_model_len=4096, max_new_tokens=1024,
                actors_per_gpu=1, gpu_memory_utilization=0.9, cuda_graphs=False),
        Profile("l4", "bfloat16", max_num_seqs=64, prefill_token_budget=8192, vit_token_budget=16384,
                min_pixels=256 * 256, max_pixels=_PAGE, max_model_len=4096, max_new_tokens=1024,
                actors_per_gpu=1, gpu_memory_utilization=0.88, cuda_graphs=True),
        Profile("a10g", "bfloat16", max_num_seqs=64, prefill_token_budget=8192, vit_token_budget=16384,
                min_pixels=256 * 256, max_pixels=_PAGE, max_model_len=4096, max_new_tokens=1024,
                actors_per_gpu=1, gpu_memory_utilization=0.88, cuda_graphs=True),
        Profile("a100", "bfloat16", max_num_seqs=192, prefill_token_budget=16384, vit_token_budget=32768,
                min_pixels=256 * 256, max_pixels=_PAGE, max_model_len=4096, max_new_tokens=1024,
                actors_per_gpu=1, gpu_memory_utilization=0.9, cuda_graphs=True),
        Profile("h100", "bfloat16", max_num_seqs=256, prefill_token_budget=32768, vit_token_budget=65536,
                min_pixels=256 * 256, max_pixels=_PAGE, max_model_len=4096, max_new_tokens=1024,
                actors_per_gpu=1, gpu_memory_utilization=0.9, cuda_graphs=True),
    )
}


def pick_profile(device_name: str | None, total_memory_bytes: int | None) -> Profile:
    """The tier for a device: by name first, then by memory; `None` (no GPU) is `cpu`."""
    if device_name is None:
        return PROFILES["cpu"]
    name = device_name.lower()
    for key, tier in (("h100", "h100"), ("h200", "h100"), ("a100", "a100"), ("a10g", "a10g"),
                      ("l4", "l4"), ("a10", "a10g")):
        if key in name:
            return PROFILES[tier]
    gib = (total_memory_bytes or 0) / 2**30
    if gib >= 70:
        return PROFILES["h100"]
    if gib >= 35:
        return PROFILES["a100"]
    return PROFILES["l4"]


def resolve_profile(name: str = "auto", **overrides: Any) -> Profile:
    """A profile by name (`auto` reads the local CUDA device) with overrides applied."""
    if name == "auto":
        device_name, memory = _local_device()
        profile = pick_profile(device_name, memory)
    elif name in PROFILES:
        profile = PROFILES[name]
    else:
        raise ValueError(f"unknown profile {name!r}; choose auto or one of {sorted(PROFILES)}")
    return profile.with_overrides(**overrides)


def _local_device() -> tuple[str | None, int | None]:
    try:
        import torch
    except ImportError:
        return None, None
    if not torch.cuda.is_available():
        return None, None
    props = torch.cuda.get_device_properties(0)
    return props.name, props.total_memory
