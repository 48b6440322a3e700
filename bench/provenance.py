"""Where a benchmark figure came from (the commit it ran on), and writing it to bench/results/*.json."""

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


def write_result(path: Path, result: dict) -> None:
    """A benchmark's figures as indented JSON at `path` (folders made as needed), and say where."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
