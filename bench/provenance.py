"""Where a benchmark figure came from (the commit it ran on), and writing it to bench/results/*.json.

Every benchmark takes its commit and writes its JSON here, so the rule (what "unknown" means, when
a tree counts as dirty, how the file is laid out) is decided once.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout bench/ lives in


def git_commit(short: bool = True, dirty: Sequence[str] = ()) -> str:
    """HEAD of the checkout bench/ lives in, or "unknown" outside a git checkout.

    `dirty`: paths (from the checkout's root) whose uncommitted changes mean the code measured is
    not HEAD; "+dirty" is appended when any of them differs."""
    try:
        head = subprocess.run(["git", "rev-parse", *(["--short"] if short else []), "HEAD"], capture_output=True,
                              text=True, cwd=ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty and uncommitted(dirty) else "")


def uncommitted(paths: Sequence[str] = ()) -> bool:
    """Whether tracked files under `paths` (the whole checkout when none) differ from HEAD, i.e. the
    figures come from code not yet committed. Untracked files do not count (results JSON is written
    there; a new module only runs once a tracked file, then changed, imports it)."""
    try:
        return bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *paths],
                                   capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return False


def write_result(path: Path | str, result: dict) -> None:
    """A benchmark's figures as indented JSON at `path` (folders made as needed), and say where."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
