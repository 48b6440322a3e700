"""Checks the `raxdoc` commands run on their flags before any work, each raising ValueError (exit 2).

`extract`'s own checks live with `raxdoc.pipeline.extract` (`pipeline.arguments`), since the Python
API needs them too; these are for the commands that have no API: `doctor` and `bench`.

Not here: the commands and their exit codes (`raxdoc.cli`).
"""

from __future__ import annotations

import math


def checked_profile(name: str):
    """The named profile, after the RAXDOC_* switches are checked (a bad one names its variable)."""
    from raxdoc.profiles import resolve_profile
    from raxdoc.settings import check_environment

    check_environment()
    return resolve_profile(name)


def check_bench(profile: str, memory_cap_gib: float | None) -> None:
    """`raxdoc bench`'s flags, checked before a checkpoint is written or a workload built (typer checks
    `--preset` against its choices)."""
    import torch

    checked_profile(profile)
    if memory_cap_gib is not None and not (math.isfinite(memory_cap_gib) and memory_cap_gib > 0):
        raise ValueError(f"--memory-cap-gib must be a positive number of GiB, got {memory_cap_gib}")
    if memory_cap_gib is not None and not torch.cuda.is_available():
        raise ValueError("--memory-cap-gib caps a GPU's memory: this machine has no CUDA device")
