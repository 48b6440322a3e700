"""Labelled truth for eval: a folder of `<stem>.json`, one per document, or one label file.

TRUTH is either a folder holding one JSON object per document (`inv-7.json`, or `inv-7.pdf.json`,
for `inv-7.pdf`), or one CSV / TSV / JSON Lines / JSON / Parquet file with a row per item or per
document (`labels.py` reads it into the same label dicts). Either way the values are then read
with the label set's conventions (`infer_hints`: its decimal separator and day/month order).

A label holds the schema's header fields and its item lists (`line_items`, `tax_breakdown`)
with the schema's field names: decimals as numbers or strings (printed forms too), dates best
as ISO, ISO currency codes (`values.py` says what it reads). A field left out, null or empty
means the document has no such value: a prediction for it counts as a false positive. Unknown
field names in a JSON label are errors (a typo would otherwise silently score as a missing
value; a label file's unknown columns are listed instead), as is anything `values.py` cannot read.

A few documented non-field keys may sit beside the fields and are ignored when scoring
(`LABEL_EXTRA_KEYS` at the top level, `ITEM_EXTRA_KEYS` in each item of an item list), unless
the schema has a field of that name: the generator's truth records
(`raxdoc.testing.invoices`, "raxdoc-invoice-truth/1") carry `format`, `pages` and `meta`, and
per item `page_index` and `bbox`; a user's labels may carry the same provenance.

Not here: the output side (`output.py`) or scoring (`score.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from raxdoc.eval.labels import TABLE_SUFFIXES, read_label_file
from raxdoc.eval.values import PLAIN, BadLabel, DocKeys, EvalError, Hints, document_keys, is_item_list, scored_fields
from raxdoc.schemas.fields import model_fields_of

# Non-field keys a label may hold, ignored when scoring (any other unknown name is an error).
LABEL_EXTRA_KEYS = frozenset({"format", "pages", "meta"})  # truth-file format, per-page printing, generator
ITEM_EXTRA_KEYS = frozenset({"page_index", "bbox"})  # where the item is printed (0..1 page coordinates)
_PLAIN_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


@dataclass(frozen=True)
class Truth:
    """Every labelled document's keys, and what was left out of the label file."""

    labels: dict[str, DocKeys]  # document (stem, or file name as the labels give it) -> keys
    ignored: tuple[str, ...] = ()  # label-file columns that name no field
    hints: Hints = PLAIN


def load_truth(truth: str | Path, schema) -> Truth:
    """Every label in `truth` (a folder or one file), keyed by document (EvalError on a missing
    path, no labels, or any unreadable label: one message naming the file and document)."""
    path = Path(truth)
    if path.is_dir():
        paths = sorted(p for p in path.glob("*.json") if p.is_file())
        if not paths:
            try:
                inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)[:3]
            except OSError:
                inside = []
            raise EvalError(f"no labelled documents in {str(path)!r}: expected one <stem>.json per document, "
                            f"or give one label file ({', '.join(TABLE_SUFFIXES)})"
                            + (f"; this folder holds {', '.join(inside)}" if inside else ""))
        raw = {p.stem: (_read_json(p), repr(str(p))) for p in paths}
        ignored, decimal_sep = (), None
    elif path.is_file():
        if path.suffix.lower() not in TABLE_SUFFIXES:
            raise EvalError(f"labels {str(path)!r}: expected a folder of <stem>.json or a label file "
                            f"({', '.join(TABLE_SUFFIXES)})")
        found = read_label_file(path, schema)
        raw = {key: (label, f"{str(path)!r} document {key!r}") for key, label in found.labels.items()}
        ignored, decimal_sep = found.ignored, found.decimal_sep
    else:
        raise EvalError(f"labels {str(path)!r} do not exist (give a folder of <stem>.json or a label file)")
    hints = infer_hints((label for label, _ in raw.values()), schema, decimal_sep=decimal_sep)
    return Truth({key: _keys(label, where, schema, hints) for key, (label, where) in raw.items()}, ignored, hints)


def read_label(path: Path, schema, hints: Hints = PLAIN) -> DocKeys:
    """One label file's comparison keys."""
    return _keys(_read_json(path), repr(str(path)), schema, hints)


def _read_json(path: Path) -> dict:
    try:
        # parse_float=Decimal: 1234.10 stays exactly 1234.10, never a binary float.
        value = json.loads(path.read_text(encoding="utf-8-sig"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read truth file {str(path)!r}: {exc}") from None
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: "[[[[..." nested past Python's stack
        raise EvalError(f"truth file {str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EvalError(f"truth file {str(path)!r} must hold one JSON object (header fields and line_items), "
                        f"not {type(value).__name__}")
    return value


def _keys(label: dict, where: str, schema, hints: Hints) -> DocKeys:
    try:
        return document_keys(without_extras(label, schema), schema, strict=True, hints=hints)
    except BadLabel as exc:
        raise EvalError(f"truth file {where}: {exc}") from None


def infer_hints(labels: Iterable[dict], schema, *, decimal_sep: str | None = None) -> Hints:
    """The label set's decimal separator and day/month order, from all its number and date
    strings (postprocess's rules, as for a page's); `decimal_sep` when the numbers do not say."""
    numbers: list[str] = []
    dates: list[str] = []

    def collect(values: dict, kinds) -> None:
        for name, value in values.items():
            if isinstance(value, str) and name in kinds:
                kind = kinds[name].kind
                if kind in ("decimal", "number", "integer") and ("," in value or "." in value):
                    numbers.append(value)
                elif kind == "date" and not _PLAIN_DATE.match(value):
                    dates.append(value)

    fields = scored_fields(schema)
    lists = {n: scored_fields(k.item.model) for n, k in fields.items() if is_item_list(k)}
    for label in labels:
        collect(label, fields)
        for name, sub in lists.items():
            items = label.get(name)
            for item in items if isinstance(items, list) else ():
                if isinstance(item, dict):
                    collect(item, sub)
    order = None
    if numbers or dates:  # postprocess is imported only when labels hold printed numbers or dates
        from raxdoc.postprocess.date_order import infer_date_order
        from raxdoc.postprocess.numbers import infer_decimal_separator

        # Distinct values vote (a repeated price is one piece of evidence), which also keeps 10k documents quick.
        decimal_sep = infer_decimal_separator(set(numbers)) or decimal_sep
        order = infer_date_order(set(dates)) if dates else None
    return Hints(decimal_sep, order if order in ("DMY", "MDY") else None)


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
