"""Choosing between the plain-torch ops and fla's Triton kernels.

Scope: one decision per call, `use_fla(*tensors)`, plus the typed error the ops
raise on bad shapes. fla is only ever imported by the callers of `use_fla`, inside
the op, after `use_fla` said yes; this module never imports it (it only asks
importlib whether it could be found), so a CPU run never loads fla or Triton.

Environment: `RAXDOC_OPS` = `auto` (default: fla when every tensor is on CUDA and
fla is installed), `torch` (always the naive ops, for parity runs on a GPU) or
`fla` (fla or an error; for benchmarks that must not silently fall back).
"""

from __future__ import annotations

import functools
import importlib.util
import os

ENV_VAR = "RAXDOC_OPS"
_MODES = ("auto", "torch", "fla")


class OpInputError(ValueError):
    """An op got tensors whose shapes or arguments do not fit together."""


class BackendUnavailableError(RuntimeError):
    """`RAXDOC_OPS=fla` was asked for but fla cannot run these tensors."""


def ops_mode() -> str:
    """The backend mode from the environment, read at every call (tests flip it)."""
    mode = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise OpInputError(f"{ENV_VAR}={mode!r}: expected one of {_MODES}")
    return mode


@functools.cache
def fla_installed() -> bool:
    """Whether `import fla` could succeed, without importing it."""
    try:
        return importlib.util.find_spec("fla") is not None
    except (ImportError, ValueError):  # a None entry in sys.modules or a broken parent
        return False


def _on_cuda(tensors) -> bool:
    present = [t for t in tensors if t is not None]
    return bool(present) and all(t.is_cuda for t in present)


def use_fla(*tensors) -> bool:
    """True when this call should go to fla; None entries are ignored."""
    mode = ops_mode()
    if mode == "torch":
        return False
    usable = _on_cuda(tensors) and fla_installed()
    if mode == "fla" and not usable:
        raise BackendUnavailableError(
            f"{ENV_VAR}=fla but fla is {'installed' if fla_installed() else 'not installed'} "
            f"and the tensors are {'on CUDA' if _on_cuda(tensors) else 'not all on CUDA'}"
        )
    return usable
