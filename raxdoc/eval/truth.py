"""Labelled truth for eval: one JSON object per document, `TRUTH_DIR/<stem>.json`.

A label holds the schema's header fields and its item lists (`line_items`, `tax_breakdown`)
with the schema's field names, values normalised: decimals as numbers or strings, ISO dates,
ISO currency codes. A field left out, or null, means the document has no such value: a
prediction for it counts as a false positive. Unknown field names are errors (a typo would
otherwise silently score as a missing value), as is anything `values.py` cannot read.

A few documented non-field keys may sit beside the fields and are ignored when scoring
(`LABEL_EXTRA_KEYS` at the top level, `ITEM_EXTRA_KEYS` in each item of an item list), unless
the schema has a field of that name: the generator's truth records
(`raxdoc.testing.invoices`, "raxdoc-invoice-truth/1") carry `format`, `pages` and `meta`, and
per item `page_index` and `bbox`; a user's labels may carry the same provenance.

Not here: the output side (`output.py`) or scoring (`score.py`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from raxdoc.eval.values import BadLabel, DocKeys, EvalError, document_keys, is_item_list
from raxdoc.schemas.fields import model_fields_of

# Non-field keys a label may hold, ignored when scoring (any other unknown name is an error).
LABEL_EXTRA_KEYS = frozenset({"format", "pages", "meta"})  # truth-file format, per-page printing, generator
ITEM_EXTRA_KEYS = frozenset({"page_index", "bbox"})  # where the item is printed (0..1 page coordinates)


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
        return document_keys(without_extras(value, schema), schema, strict=True)
    except BadLabel as exc:
        raise EvalError(f"truth file {str(path)!r}: {exc}") from None


def without_extras(label: dict, schema) -> dict:
    """`label` less the documented non-field keys (those the schema does not use as fields)."""
    fields = model_fields_of(schema)
    out = {k: v for k, v in label.items() if k in fields or k not in LABEL_EXTRA_KEYS}
    for name, kind in fields.items():
        items = out.get(name)
        if is_item_list(kind) and isinstance(items, list):
            own = model_fields_of(kind.item.model)
            out[name] = [{k: v for k, v in item.items() if k in own or k not in ITEM_EXTRA_KEYS}
                         if isinstance(item, dict) else item for item in items]
    return out
