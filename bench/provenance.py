"""Where a benchmark figure came from: the commit it ran on (for bench/results/*.json)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_commit(short: bool = True) -> str:
    """HEAD of the checkout bench/ lives in, or "unknown" outside a git checkout."""
    try:
        return subprocess.run(["git", "rev-parse", *(["--short"] if short else []), "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
