"""`EngineConfig`: the engine's sizes and switches, frozen and checked on construction.

Built from a profile (`from_profile`: sizes, dtype, memory share) or directly; read by `Engine`
and by `loading.load_slot_runner`, which sizes the slot pool from it. Derived runtime values (the
slot count a runner could afford) live in the engine, never here. Environment switches are read
through `raxdoc.settings` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raxdoc import settings
from raxdoc.engine.scheduler import SchedulerConfig

# Full-attention decode kernels a slot-pool runner can use (`ops.attention.pick_decode_attention`).
DECODE_ATTENTION = settings.DECODE_ATTENTION


@dataclass(frozen=True)
class EngineConfig:
    # Most sequences decoding at once; the slot count is min(this, runner.num_slots).
    max_num_seqs: int = 64
    # Prompt + output tokens per sequence (the size of one KV slot).
    max_model_len: int = 4096
    # Prompt tokens prefilled per step; a page is ~1,400, so 8k admits ~5 pages a step.
    prefill_token_budget: int = 8192
    # ViT patch tokens encoded per step (each image placeholder is merge_size**2 patches).
    vit_token_budget: int = 16384
    # End-of-generation ids; empty = look up <|im_end|> and <|endoftext|> in the tokenizer.
    eos_token_ids: tuple[int, ...] = ()
    # Placeholder id counted as vision tokens; None = look up <|image_pad|> in the tokenizer.
    image_token_id: int | None = None
    # The vision tower's spatial merge (2x2 in Rax 4.5): patches per placeholder = this squared.
    spatial_merge_size: int = 2
    # Host threads filling grammar masks; None = sized per step to the batch and the host (`grammar.mask_threads`).
    grammar_threads: int | None = None
    # Constrained rows with this many tokens or fewer left are steered to close the JSON
    # (`grammar_close.py`), so a looping model still ends with parseable output. 0 = off.
    grammar_close_reserve: int = 32
    # Run decode eagerly instead of replaying CUDA graphs (a profile's `cuda_graphs = False`).
    enforce_eager: bool = False
    # Full-attention decode kernel by name (see `raxdoc.model.ops.attention.decode`); None = the
    # RAXDOC_DECODE_ATTENTION environment variable, else "auto". RAXDOC_OPS=torch overrides it.
    decode_attention: str | None = None
    # Queue decode step N+1 before reading step N's ids, so the host's per-token work (append,
    # grammar, stops) runs while the device computes. None = on when the runner supports it
    # (`SlotRunner`) and runs on CUDA; True forces it wherever supported (CPU tests).
    overlap_decode: bool | None = None
    # Weights and activations dtype by name; None = bfloat16 on CUDA, float32 on CPU.
    dtype: str | None = None
    # Share of the device's total memory this engine may take (weights + cache + activations);
    # `loading.cache_budget` turns it into the slot pool's size (on CUDA, or wherever a
    # `memory_info` is given; a CPU pool is otherwise not sized by memory).
    gpu_memory_utilization: float = 0.9

    def __post_init__(self) -> None:
        self.scheduler_config(self.max_num_seqs)  # validates the shared fields
        object.__setattr__(self, "eos_token_ids", tuple(int(i) for i in self.eos_token_ids))
        if self.spatial_merge_size < 1:
            raise ValueError(f"spatial_merge_size must be >= 1, got {self.spatial_merge_size}")
        if self.grammar_threads is not None and self.grammar_threads < 1:
            raise ValueError(f"grammar_threads must be None or >= 1, got {self.grammar_threads}")
        if self.decode_attention is not None and self.decode_attention not in DECODE_ATTENTION:
            raise ValueError(f"decode_attention must be one of {DECODE_ATTENTION}, got {self.decode_attention!r}")
        if self.grammar_close_reserve < 0:
            raise ValueError(f"grammar_close_reserve must be >= 0, got {self.grammar_close_reserve}")
        if self.dtype is not None and self.dtype not in settings.DTYPES:
            raise ValueError(f"dtype must be None or one of {settings.DTYPES}, got {self.dtype!r}")
        low, high = settings.MEMORY_UTILIZATION_RANGE
        if not low <= self.gpu_memory_utilization <= high:
            raise ValueError(f"gpu_memory_utilization must be in [{low}, {high}], got {self.gpu_memory_utilization!r}")

    def wants_overlap(self, device: Any) -> bool:
        """`overlap_decode`, else `RAXDOC_OVERLAP_DECODE` (on/off), else on for a CUDA device."""
        if self.overlap_decode is not None:
            return self.overlap_decode
        env = settings.overlap_decode()
        if env is not None:
            return env
        return getattr(device, "type", str(device)) == "cuda"

    @classmethod
    def from_profile(cls, profile: Any, **overrides: Any) -> "EngineConfig":
        """From a `raxdoc.profiles.Profile` (or anything with its field names)."""
        fields = {name: getattr(profile, name) for name in
                  ("max_num_seqs", "max_model_len", "prefill_token_budget", "vit_token_budget", "dtype",
                   "gpu_memory_utilization")}
        fields["enforce_eager"] = not getattr(profile, "cuda_graphs", True)
        return cls(**{**fields, **overrides})

    def scheduler_config(self, num_slots: int) -> SchedulerConfig:
        return SchedulerConfig(max_num_seqs=min(self.max_num_seqs, num_slots),
                               max_model_len=self.max_model_len,
                               prefill_token_budget=self.prefill_token_budget,
                               vit_token_budget=self.vit_token_budget)
