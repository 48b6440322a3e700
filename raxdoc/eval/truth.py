"""Labelled truth for eval: one JSON object per document, `TRUTH_DIR/<stem>.json`.

A label holds the schema's header fields and its item lists (`line_items`, `tax_breakdown`)
with the schema's field names, values normalised: decimals as numbers or strings, ISO dates,
ISO currency codes. A field left out, or null, means the document has no such value: a
prediction for it counts as a false positive. Unknown field names are errors (a typo would
otherwise silently score as a missing value), as is anything `values.py` cannot read.

Not here: the output side (`output.py`) or scoring (`score.py`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from raxdoc.eval.values import BadLabel, DocKeys, EvalError, document_keys


def load_truth(truth_dir: str | Path, schema) -> dict[str, DocKeys]:
    """Every label in `truth_dir`, keyed by file stem (EvalError on a missing folder, no labels,
    or any unreadable label: one message naming the file)."""
    folder = Path(truth_dir)
    if not folder.is_dir():
        raise EvalError(f"truth folder {str(folder)!r} does not exist (or is not a folder)")
    paths = sorted(p for p in folder.glob("*.json") if p.is_file())
    if not paths:
        raise EvalError(f"no labelled documents in {str(folder)!r}: expected one <stem>.json per document")
    return {path.stem: read_label(path, schema) for path in paths}


def read_label(path: Path, schema) -> DocKeys:
    """One label file's comparison keys."""
    try:
        # parse_float=Decimal: 1234.10 stays exactly 1234.10, never a binary float.
        value = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read truth file {str(path)!r}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise EvalError(f"truth file {str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EvalError(f"truth file {str(path)!r} must hold one JSON object (header fields and line_items), "
                        f"not {type(value).__name__}")
    try:
        return document_keys(value, schema, strict=True)
    except BadLabel as exc:
        raise EvalError(f"truth file {str(path)!r}: {exc}") from None
