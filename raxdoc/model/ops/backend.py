"""Which kernel runs: every choice between a plain-torch reference and a fast path, in one module.

Decisions, each taking the tensors it is about and reading `raxdoc.settings` at the call:

- `use_fla(*tensors)`: fla's Triton kernels for the Gated DeltaNet ops (convs, delta rule, norms);
- `use_triton(*tensors)`: our own Triton kernels (the pooled conv update);
- `prefill_attention_path(q)`: "flash_attn", "aten_flash" or "sdpa" for packed varlen attention;
- `decode_attention_kernel(k_buffer, prefer)`: "gather", "flash_kvcache", "triton_slots" or
  "aten_flash" for the slot pool's decode attention.

`RAXDOC_OPS=torch` makes every decision pick the reference before any probe is asked, whatever
the attention switches or an engine's configured kernel say: a parity run reaches no fla,
flash-attn or Triton code. `RAXDOC_OPS=fla` makes `use_fla` fail rather than fall back.

Two process-wide overrides, set by the engine's start-up self-check (`raxdoc.engine.selfcheck`):
`disable(path)` switches one fast path off for the rest of the process after it failed or
disagreed with the reference ("fla", "triton", "prefill_flash"; a `RAXDOC_OPS=fla` run then fails
rather than falls back), and `reference_only()` is a context in which every decision picks the
reference, as `RAXDOC_OPS=torch` would: the check's oracle runs in the same process.

Device probes are small module functions so tests can fake them: `fla_installed`,
`flash_attn_installed`, `triton_installed`, `bundled_flash_available`, `on_cuda`. This module never
imports fla or Triton (importlib only looks for them); `flash_attn_installed` imports flash-attn,
because a build that does not match torch is found but fails to import, and it is only asked
about CUDA half-precision tensors. The fast paths import their package after a decision said yes.
Also here: the typed errors the ops raise. Not here: the kernels themselves.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import threading

import torch

from raxdoc import settings
from raxdoc.settings import ops_mode  # noqa: F401  (re-exported: the ops' mode, read at every call)

_HALF = (torch.float16, torch.bfloat16)
# Fast paths `disable` can switch off: fla's kernels, our Triton kernels, flash prefill attention.
FAST_PATHS = ("fla", "triton", "prefill_flash")
_disabled: set[str] = set()
# Depth of `reference_only()` contexts per thread (the check runs its oracle on the calling thread).
_local = threading.local()


def disable(path: str) -> None:
    """Switch fast path `path` (one of FAST_PATHS) off for the rest of this process."""
    if path not in FAST_PATHS:
        raise ValueError(f"unknown fast path {path!r}; one of {FAST_PATHS}")
    _disabled.add(path)


def enable(path: str) -> None:
    """Undo `disable(path)` (the self-check re-tries a path it switched off while isolating another)."""
    _disabled.discard(path)


def disabled() -> frozenset[str]:
    return frozenset(_disabled)


@contextlib.contextmanager
def reference_only():
    """Every decision picks the plain-torch reference inside this context (this thread only)."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1


def _reference() -> bool:
    return settings.reference_ops() or getattr(_local, "depth", 0) > 0


class OpInputError(ValueError):
    """An op got tensors whose shapes or arguments do not fit together."""


class BackendUnavailableError(RuntimeError):
    """A fast path was asked for by name (`RAXDOC_OPS=fla`, a decode kernel) but cannot run here."""


@functools.cache
def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a None entry in sys.modules or a broken parent
        return False


def fla_installed() -> bool:
    """Whether `import fla` could succeed, without importing it."""
    return _findable("fla")


def triton_installed() -> bool:
    """Whether `import triton` could succeed, without importing it."""
    return _findable("triton")


@functools.cache
def flash_attn_installed() -> bool:
    """Whether flash-attn imports (see the module docstring for why this one imports)."""
    try:
        import flash_attn  # noqa: F401
    except ImportError:
        return False
    return True


def bundled_flash_available(t) -> bool:
    """Whether PyTorch's bundled flash kernel can take `t`: CUDA, fp16/bf16, sm80+, op present."""
    return (t.is_cuda and t.dtype in _HALF and hasattr(torch.ops.aten, "_flash_attention_forward")
            and torch.cuda.get_device_capability(t.device) >= (8, 0))


def on_cuda(*tensors) -> bool:
    """Every tensor given (None entries ignored) is on CUDA, and there is at least one."""
    present = [t for t in tensors if t is not None]
    return bool(present) and all(t.is_cuda for t in present)


def _flash_attn_usable(t) -> bool:
    # CUDA and dtype first: a CPU run never imports flash-attn.
    return on_cuda(t) and t.dtype in _HALF and flash_attn_installed()


def use_fla(*tensors) -> bool:
    """True when this call should go to fla; None entries are ignored."""
    mode = settings.ops_mode()
    if _reference():
        return False
    usable = "fla" not in _disabled and on_cuda(*tensors) and fla_installed()
    if mode == "fla" and not usable:
        raise BackendUnavailableError(
            f"{settings.OPS_ENV}=fla but fla is {'installed' if fla_installed() else 'not installed'}"
            f"{', switched off by the self-check' if 'fla' in _disabled else ''} "
            f"and the tensors are {'on CUDA' if on_cuda(*tensors) else 'not all on CUDA'}"
        )
    return usable


def use_triton(*tensors) -> bool:
    """True when one of our Triton kernels should run: CUDA tensors, Triton installed, not a parity run."""
    return not _reference() and "triton" not in _disabled and on_cuda(*tensors) and triton_installed()


def prefill_attention_path(q) -> str:
    """Packed varlen attention for `q` (N, H, D): one flash-attn call ("flash_attn"), one call to
    PyTorch's bundled flash kernel ("aten_flash"), or one SDPA per segment ("sdpa", the reference;
    also what `RAXDOC_PREFILL_ATTENTION=sdpa` asks for)."""
    if _reference() or settings.prefill_attention() == "sdpa" or "prefill_flash" in _disabled:
        return "sdpa"
    if _flash_attn_usable(q):
        return "flash_attn"
    if bundled_flash_available(q):
        return "aten_flash"
    return "sdpa"


def decode_attention_kernel(k_buffer, prefer: str | None = None) -> str:
    """The decode attention kernel for a slot pool whose K buffer is `k_buffer`.

    `prefer`: None = `RAXDOC_DECODE_ATTENTION`; "auto" = flash-attn's kv-cache kernel when usable,
    else our Triton kernel on CUDA, else "gather" (the reference); a kernel by name is an error
    when it cannot run ("triton_slots" needs only Triton: its tests run it under the interpreter)."""
    prefer = settings.decode_attention() if prefer is None else prefer
    if prefer not in settings.DECODE_ATTENTION:
        raise ValueError(f"decode attention must be one of {settings.DECODE_ATTENTION}, got {prefer!r}")
    if _reference() or prefer == "gather":
        return "gather"
    if prefer == "aten_flash":
        if not bundled_flash_available(k_buffer):
            raise BackendUnavailableError("aten_flash decode attention needs CUDA (sm80+), a fp16/bf16 pool "
                                          "and torch.ops.aten._flash_attention_forward")
        return "aten_flash"
    if prefer == "triton_slots":
        if not triton_installed():
            raise BackendUnavailableError("triton_slots decode attention needs Triton")
        return "triton_slots"
    if _flash_attn_usable(k_buffer):
        return "flash_kvcache"
    if prefer == "flash_kvcache":
        raise BackendUnavailableError("flash_kvcache decode attention needs flash-attn, CUDA and a fp16/bf16 pool")
    if on_cuda(k_buffer) and triton_installed():
        return "triton_slots"
    return "gather"
