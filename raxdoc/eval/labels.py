"""Labels in one file, as other tools export them: CSV / TSV, JSON Lines, JSON or Parquet.

`read_label_file(path, schema) -> LabelFile`: raw label dicts keyed by document (what
`truth.py` then checks and keys, exactly as it does a folder of per-document JSON).

- Rows: a CSV / TSV / Parquet row, a JSON Lines line, or an element of a JSON array. A JSON
  object is either one document's label (its keys are schema fields; the file stem names it) or
  `{document: label, ...}`.
- The document column: the first of `DOC_COLUMNS` present (`file`, `source`, `stem`, ...); its
  value may be a path, a file name or a stem (folders are dropped; `score.py` matches a file
  name or a stem against the output's sources).
- Column names are matched after trimming, lower-casing and spaces -> `_` ("Invoice Number").
  A header field's column fills the header; `line_items.amount` (or a bare line-item field name
  that is no header field, `amount`) fills an item; one row per item, header values repeated
  (or given once) on a document's rows. A row with no item value adds no item. A row may
  instead hold the whole `line_items` list (JSON, Parquet, or JSON text in a CSV cell): one
  such row per document; a second is an error, as is a header field given two values.
- Columns that name no field are ignored and listed (`LabelFile.ignored`; `line_items.x` for a
  key of a whole list's items); the report shows them, so a typo does not pass unseen. So a
  corrected raxdoc output (its `documents` Parquet, `source` naming each row) serves as labels.
- CSV: UTF-8 with or without a BOM, UTF-16 with a BOM (Excel's "Unicode text"), else cp1252;
  the delimiter is the most frequent of `, ; TAB |` in the header line. A `;` file's numbers
  are read with a decimal comma unless its values show otherwise (German Excel exports).

Not here: what a value means (`values.py`), the folder format (`truth.py`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from raxdoc.eval.values import EvalError, is_item_list
from raxdoc.schemas.fields import items_field, model_fields_of

# Columns that name the document a row labels, in order of preference.
DOC_COLUMNS = ("file", "filename", "file_name", "document", "doc", "source", "path", "stem", "doc_name")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class LabelFile:
    """One label file's documents, before their values are checked."""

    labels: dict[str, dict[str, Any]]  # document (file name or stem) -> label dict, as in a <stem>.json
    ignored: tuple[str, ...]  # columns that name no field of the schema
    decimal_sep: str | None  # the file's own decimal separator when its format says ("," for `;` CSV)


def document_name(value: Any) -> str:
    """`/in/inv-7.pdf`, `C:\\in\\inv-7.pdf`, `inv-7.pdf` -> the file name; `inv-7` stays."""
    return PurePosixPath(str(value).strip().replace("\\", "/").rstrip("/")).name


def column_name(name: Any) -> str:
    return "_".join(str(name).strip().lstrip("\ufeff").lower().split())


def read_label_file(path: Path, schema) -> LabelFile:
    """All labels in one file (EvalError, naming the file, on anything it cannot read)."""
    suffix = path.suffix.lower()
    decimal_sep = None
    try:
        if suffix in (".parquet", ".pq"):
            rows = _parquet_rows(path)
        elif suffix in (".jsonl", ".ndjson"):
            rows = _jsonl_rows(path)
        elif suffix == ".json":
            rows = _json_rows(path, schema)
        else:
            rows, delimiter = _csv_rows(path)
            decimal_sep = "," if delimiter == ";" else None
    except OSError as exc:
        raise EvalError(f"cannot read label file {str(path)!r}: {exc}") from None
    if not rows:
        raise EvalError(f"no labels in {str(path)!r}: the file has no rows")
    labels, ignored = _group(rows, schema, path)
    return LabelFile(labels, ignored, decimal_sep)


def _parquet_rows(path: Path) -> list[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except pa.ArrowException as exc:
        raise EvalError(f"cannot read label file {str(path)!r} as Parquet: {exc}") from None


def _json_value(text: str, path: Path, where: str = "") -> Any:
    try:
        return json.loads(text, parse_float=Decimal)  # 1234.10 stays exactly 1234.10
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: "[[[[..." nested past Python's stack
        raise EvalError(f"label file {str(path)!r}{where} is not valid JSON: {exc}") from None


def _text(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # Excel's Western default; labels are mostly ASCII


def _jsonl_rows(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(_text(path).splitlines(), 1):
        if line.strip():
            rows.append(_json_value(line, path, f" line {n}"))
    return rows


def _json_rows(path: Path, schema) -> list[dict]:
    value = _json_value(_text(path), path)
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        raise EvalError(f"label file {str(path)!r} must hold an array of labels or an object, "
                        f"not {type(value).__name__}")
    fields = model_fields_of(schema)
    if not value:
        return []
    if any(k in fields for k in value) or not all(isinstance(v, dict) for v in value.values()):
        return [{**value, "file": path.stem}]  # one document's label, named by the file
    return [{**label, "file": key} for key, label in value.items()]


def _csv_rows(path: Path) -> tuple[list[dict], str]:
    text = _text(path)
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        table = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise EvalError(f"label file {str(path)!r} is not valid CSV: {exc}") from None
    if not table:
        return [], delimiter
    header = [column_name(c) for c in table[0]]
    repeated = sorted({c for c in header if header.count(c) > 1 and c})
    if repeated:
        raise EvalError(f"label file {str(path)!r} has the column(s) {repeated} more than once")
    rows = []
    for n, cells in enumerate(table[1:], 2):
        if len(cells) > len(header):
            raise EvalError(f"label file {str(path)!r} line {n}: {len(cells)} cells under {len(header)} columns "
                            f"(is the delimiter {delimiter!r} right?)")
        rows.append({c: (v.strip() or None) for c, v in zip(header, cells) if c})
    return rows, delimiter


def _columns(names: set[str], schema) -> tuple[str | None, dict[str, tuple[str, str | None]], list[str]]:
    """The document column, {column: (field, item field or None)}, and the ignored columns."""
    fields = model_fields_of(schema)
    item_lists = {n: model_fields_of(k.item.model) for n, k in fields.items() if is_item_list(k)}
    main = items_field(schema)
    doc = next((c for c in DOC_COLUMNS if c in names), None)
    where, ignored = {}, []
    for name in sorted(names - {doc}):
        head, _, sub = name.partition(".")
        if name in fields:
            where[name] = (name, None)
        elif sub and head in item_lists and sub in item_lists[head]:
            where[name] = (head, sub)
        elif name in item_lists[main]:
            where[name] = (main, name)
        else:
            ignored.append(name)
    return doc, where, ignored


def _group(rows: list, schema, path: Path) -> tuple[dict[str, dict], tuple[str, ...]]:
    if not all(isinstance(r, dict) for r in rows):
        raise EvalError(f"label file {str(path)!r}: every row must be an object of fields")
    names = {k: column_name(k) for k in set().union(*rows)}
    rows = [{names[k]: v for k, v in r.items()} for r in rows]
    doc_col, where, ignored = _columns(set().union(*rows), schema)
    if doc_col is None:
        raise EvalError(f"label file {str(path)!r} has no document column: name one of {list(DOC_COLUMNS)} "
                        f"(a file name, path or stem per row)")
    lists = {n for n, k in model_fields_of(schema).items() if is_item_list(k)}
    labels: dict[str, dict] = {}
    named: dict[Any, str] = {}  # document cell -> name: one parse per document, not per row
    nested: set[tuple[str, str]] = set()  # (document, list field) given whole in one row
    for n, row in enumerate(rows, 1):
        key = row.get(doc_col)
        if isinstance(key, float) and key.is_integer():
            key = int(key)  # a numbered document a spreadsheet stored as 1042.0
        if isinstance(key, bool) or not isinstance(key, (str, int, Decimal, type(None))):
            # A list or an object (JSON, Parquet) names no file, and cannot key a dict either.
            raise EvalError(f"label file {str(path)!r} row {n}: the document in column {doc_col!r} must be a "
                            f"file name, path or stem, not {type(key).__name__} {repr(key)[:80]}")
        if key is None or not str(key).strip():
            raise EvalError(f"label file {str(path)!r} row {n}: no document in column {doc_col!r}")
        key = named.get(key) or named.setdefault(key, document_name(key))
        label = labels.setdefault(key, {})
        items: dict[str, dict] = {}
        for column, value in row.items():
            if value is None or column not in where or (isinstance(value, float) and value != value):
                continue
            name, sub = where[column]
            if sub is not None:
                items.setdefault(name, {})[sub] = value
            elif isinstance(value, (list, str)) and name in lists:
                if (key, name) in nested:
                    raise EvalError(f"label file {str(path)!r} row {n}: document {key!r} has a second {name!r} list")
                nested.add((key, name))
                label.setdefault(name, []).extend(_list_value(value, path, n, name, schema, ignored))
            elif label.get(name, value) != value:
                raise EvalError(f"label file {str(path)!r} row {n}: document {key!r} has two values for "
                                f"{name!r}: {label[name]!r} and {value!r}")
            else:
                label[name] = value
        for name, item in items.items():
            label.setdefault(name, []).append(item)
    return labels, tuple(sorted(set(ignored)))


def _list_value(value: Any, path: Path, n: int, name: str, schema, ignored: list[str]) -> list:
    """A whole item list from one row; item keys that name no field are dropped into `ignored` (a
    corrected raxdoc output used as labels carries `grounded`, `unverified_fields`, ...)."""
    if isinstance(value, str):
        value = _json_value(value, path, f" row {n} column {name!r}")
    if not isinstance(value, list):
        raise EvalError(f"label file {str(path)!r} row {n}: {name!r} must be a list of items")
    own = model_fields_of(model_fields_of(schema)[name].item.model)
    out = []
    for item in value:
        if isinstance(item, dict):
            ignored.extend(f"{name}.{k}" for k in item if k not in own)
            item = {k: v for k, v in item.items() if k in own}
        out.append(item)
    return out
