"""Every setting raxdoc reads from its environment, and the defaults the layers share: one place.

Switches (read at each call, so a test or a parity run can flip them between calls):

| variable | values | default |
|---|---|---|
| `RAXDOC_OPS` | `auto`, `torch` (plain-torch ops and attention everywhere), `fla` (fla or an error) | `auto` |
| `RAXDOC_DECODE_ATTENTION` | `auto`, `gather`, `triton_slots`, `flash_kvcache`, `aten_flash` | `auto` |
| `RAXDOC_OVERLAP_DECODE` | `on`, `off` | on for CUDA runners |
| `RAXDOC_PREFILL_ATTENTION` | `auto`, `sdpa` (one SDPA per sequence or image) | `auto` |

These functions only read and check the values. What they mean for a kernel choice (e.g.
`RAXDOC_OPS=torch` winning over both attention switches and over an engine's configured decode
kernel, so a parity run reaches no fla, flash-attn or Triton code) is decided in one place,
`raxdoc.model.ops.backend`. Profiles (`raxdoc.profiles`) hold the per-GPU sizes; they flow one way,
profile -> `EngineConfig` -> scheduler, and nothing below the profile reads these variables itself.

Standard library only: every layer (model, engine, pipeline) may import this module.
"""

from __future__ import annotations

import os

DEFAULT_MODEL = "raxcore-dev/Rax-4.5"

OPS_ENV = "RAXDOC_OPS"
DECODE_ATTENTION_ENV = "RAXDOC_DECODE_ATTENTION"
OVERLAP_DECODE_ENV = "RAXDOC_OVERLAP_DECODE"
PREFILL_ATTENTION_ENV = "RAXDOC_PREFILL_ATTENTION"

OPS_MODES = ("auto", "torch", "fla")
DECODE_ATTENTION = ("auto", "gather", "flash_kvcache", "triton_slots", "aten_flash")
PREFILL_ATTENTION = ("auto", "sdpa")
_ON, _OFF = ("1", "on", "true", "yes"), ("0", "off", "false", "no")

# Weight and activation dtypes a profile or an `EngineConfig` may name.
DTYPES = ("float32", "bfloat16", "float16")
# Bounds of `gpu_memory_utilization` (profile and engine): below 5% not even the weights fit.
MEMORY_UTILIZATION_RANGE = (0.05, 1.0)


class SettingError(ValueError):
    """An environment switch holds a value raxdoc does not know."""


def _read(name: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise SettingError(f"{name}={value!r}: expected one of {choices}")
    return value


def ops_mode() -> str:
    """`RAXDOC_OPS`: auto (fla on CUDA when installed), torch (reference ops only) or fla."""
    return _read(OPS_ENV, OPS_MODES)


def reference_ops() -> bool:
    """True for a `RAXDOC_OPS=torch` run: no fla, flash-attn or Triton kernel may be used."""
    return ops_mode() == "torch"


def decode_attention() -> str:
    """`RAXDOC_DECODE_ATTENTION` as written (checked); `backend.decode_attention_kernel` applies it."""
    return _read(DECODE_ATTENTION_ENV, DECODE_ATTENTION)


def prefill_attention() -> str:
    """`RAXDOC_PREFILL_ATTENTION` as written (checked); `backend.prefill_attention_path` applies it."""
    return _read(PREFILL_ATTENTION_ENV, PREFILL_ATTENTION)


def overlap_decode() -> bool | None:
    """`RAXDOC_OVERLAP_DECODE` as True / False; None when unset (the runner's device decides)."""
    value = os.environ.get(OVERLAP_DECODE_ENV, "").strip().lower()
    if not value:
        return None
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise SettingError(f"{OVERLAP_DECODE_ENV}={value!r}: expected on or off")


def check_environment() -> None:
    """Read every switch once, so a bad value is a `SettingError` naming its variable now, before a run
    starts engines that would each fail on it."""
    ops_mode()
    decode_attention()
    prefill_attention()
    overlap_decode()
