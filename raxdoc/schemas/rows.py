"""Parquet rows: one `documents` row per input, exploded `line_items` rows.

`documents` holds the identity and status columns, every header field of the
schema, the item list as a nested `list<struct>`, the check columns, issues,
failed pages (with their raw text, for re-parsing later), model, prompt
version and stage timings. `line_items` is keyed by (doc_id, page_index,
item_index); item_index counts within the page. Grounding columns (where the
values are printed): per item `bbox` [x0, y0, x1, y1] (0..1 of the page),
`grounded` and `unverified_fields`; per document `unverified_fields` (header
fields) and `grounded_ratio`; null where grounding did not run or the page has
no text layer. Where the values came from (`Extraction`): `extraction` is "model" or "einvoice"
(the document's own XML), with the e-invoice's `einvoice_syntax`, `einvoice_profile` and
`einvoice_credit_note` (null for model rows, and for error rows, where nothing was extracted); in
`--einvoice verify` the model's agreement with the XML is a check (`check_einvoice_*`).
This module only shapes data: it makes no decisions about status or checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pyarrow as pa
from pydantic import BaseModel

from raxdoc.schemas.arrow import model_arrow_fields
from raxdoc.schemas.fields import SchemaError, item_model, items_field
from raxdoc.schemas.records import ERROR, DocumentRecord, ItemGrounding

TIMING_COLUMNS = ("ingest_s", "engine_s", "postprocess_s")

_LEAD = [
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("source", pa.string()),
    pa.field("status", pa.string(), nullable=False),
    pa.field("error_type", pa.string()),
    pa.field("error", pa.string()),
    pa.field("page_count", pa.int32()),
    pa.field("pages_ok", pa.int32()),
    pa.field("extraction", pa.string()),  # "model" | "einvoice"; null for error rows
    pa.field("einvoice_syntax", pa.string()),  # CII | ZUGFeRD1 | UBL
    pa.field("einvoice_profile", pa.string()),  # MINIMUM .. EXTENDED, XRECHNUNG, PEPPOL, ...
    pa.field("einvoice_credit_note", pa.bool_()),  # amounts are as the XML states them (positive)
]
_CHECKS = [
    pa.field("check_line_amounts_passed", pa.int32()),
    pa.field("check_line_amounts_failed", pa.int32()),
    pa.field("check_lines_sum_subtotal", pa.bool_()),
    pa.field("check_subtotal_tax_total", pa.bool_()),
    pa.field("check_duplicate_lines", pa.int32()),
    pa.field("check_tax_breakdown", pa.bool_()),
    # verify: values of the e-invoice the model read alike / not (raxdoc.postprocess.agreement), and the share
    pa.field("check_einvoice_agreed", pa.int32()),
    pa.field("check_einvoice_disagreed", pa.int32()),
    pa.field("check_einvoice_agreement", pa.float64()),
    pa.field("confidence", pa.float64()),
]
_GROUNDING = [
    pa.field("unverified_fields", pa.list_(pa.string())),  # header fields printed on no page
    pa.field("grounded_ratio", pa.float64()),  # share of values found, over pages with a text layer
]
# Per item: where it is printed (raxdoc.schemas.records.ItemGrounding).
_ITEM_GROUNDING = [
    pa.field("bbox", pa.list_(pa.float64())),
    pa.field("grounded", pa.bool_()),
    pa.field("unverified_fields", pa.list_(pa.string())),
]
_ISSUE = pa.struct([("page_index", pa.int32()), ("kind", pa.string()),
                    ("field", pa.string()), ("message", pa.string())])
_FAILED_PAGE = pa.struct([("page_index", pa.int32()), ("kind", pa.string()),
                          ("message", pa.string()), ("raw_text", pa.string())])
_TAIL = [
    pa.field("issues", pa.list_(_ISSUE)),
    pa.field("failed_pages", pa.list_(_FAILED_PAGE)),
    pa.field("model", pa.string()),
    pa.field("prompt_version", pa.string()),
    *[pa.field(c, pa.float64()) for c in TIMING_COLUMNS],
]


@dataclass(frozen=True)
class Extraction:
    """Where a documents row's values came from, and (verify) how far the model agreed with them."""

    method: str = "model"  # "model", or "einvoice": the document's own XML
    syntax: str | None = None  # the e-invoice's: CII, ZUGFeRD1, UBL
    profile: str | None = None  # the e-invoice's short profile name; None when it names none
    credit_note: bool | None = None
    agreed: int | None = None  # verify: compared values the model read as the XML states them
    disagreed: int | None = None

    @property
    def agreement(self) -> float | None:
        total = (self.agreed or 0) + (self.disagreed or 0)
        return None if self.agreed is None or total == 0 else self.agreed / total


MODEL = Extraction()


def _item_struct_fields(schema_cls: type[BaseModel]) -> list[pa.Field]:
    item = item_model(schema_cls)
    fields = model_arrow_fields(item, skip=("page_index", "item_index", "check_amount"))
    _check_clash([f.name for f in fields], [f.name for f in _ITEM_GROUNDING], item.__name__)
    return [pa.field("page_index", pa.int32()), pa.field("item_index", pa.int32()),
            *fields, pa.field("check_amount", pa.bool_()), *_ITEM_GROUNDING]


def _check_clash(names: Iterable[str], reserved: Iterable[str], where: str) -> None:
    clash = set(names) & set(reserved)
    if clash:
        raise SchemaError(f"{where} fields clash with raxdoc's own columns: {sorted(clash)}")


def documents_arrow_schema(schema_cls: type[BaseModel]) -> pa.Schema:
    """Arrow schema of the `documents` table for `schema_cls`."""
    items = items_field(schema_cls)
    header = model_arrow_fields(schema_cls, skip=(items,))
    fixed = [f.name for f in _LEAD + _CHECKS + _GROUNDING + _TAIL]
    _check_clash([f.name for f in header] + [items], fixed, schema_cls.__name__)
    items_col = pa.field(items, pa.list_(pa.struct(_item_struct_fields(schema_cls))))
    return pa.schema(_LEAD + header + [items_col] + _CHECKS + _GROUNDING + _TAIL)


def line_items_arrow_schema(schema_cls: type[BaseModel]) -> pa.Schema:
    """Arrow schema of the exploded `line_items` table."""
    fields = _item_struct_fields(schema_cls)
    _check_clash([f.name for f in fields], ["doc_id"], item_model(schema_cls).__name__)
    return pa.schema([pa.field("doc_id", pa.string(), nullable=False), *fields])


def _item_dicts(doc: DocumentRecord) -> list[dict]:
    items = getattr(doc.record, items_field(doc.schema))
    grounding = doc.grounding.items if doc.grounding is not None else [ItemGrounding()] * len(items)
    out = []
    for item, (page, index), ok, where in zip(items, doc.item_keys, doc.checks.line_amount_ok, grounding,
                                              strict=True):
        row = item.model_dump(mode="python")
        row.update(page_index=page, item_index=index, check_amount=ok, grounded=where.grounded,
                   bbox=None if where.bbox is None else list(where.bbox),
                   unverified_fields=None if where.unverified_fields is None else list(where.unverified_fields))
        out.append(row)
    return out


def _timings(timings: Mapping[str, float] | None) -> dict:
    timings = dict(timings or {})
    unknown = set(timings) - set(TIMING_COLUMNS)
    if unknown:
        raise ValueError(f"unknown timing keys {sorted(unknown)}; expected {TIMING_COLUMNS}")
    return {c: timings.get(c) for c in TIMING_COLUMNS}


def document_row(doc: DocumentRecord, *, model: str | None = None, prompt_version: str | None = None,
                 timings: Mapping[str, float] | None = None, extraction: Extraction = MODEL) -> dict:
    """The `documents` row for one merged document; `extraction`: where its values came from."""
    items = items_field(doc.schema)
    header = doc.record.model_dump(mode="python", exclude={items})
    checks, grounding = doc.checks, doc.grounding
    return {
        "doc_id": doc.doc_id, "source": doc.source, "status": doc.status,
        "error_type": doc.error_type, "error": doc.error,
        "page_count": doc.page_count, "pages_ok": doc.pages_ok,
        "extraction": extraction.method, "einvoice_syntax": extraction.syntax,
        "einvoice_profile": extraction.profile, "einvoice_credit_note": extraction.credit_note,
        **header,
        items: _item_dicts(doc),
        "check_line_amounts_passed": checks.line_amounts_passed,
        "check_line_amounts_failed": checks.line_amounts_failed,
        "check_lines_sum_subtotal": checks.lines_sum_subtotal,
        "check_subtotal_tax_total": checks.subtotal_tax_total,
        "check_duplicate_lines": checks.duplicate_lines,
        "check_tax_breakdown": checks.tax_breakdown_ok,
        "check_einvoice_agreed": extraction.agreed, "check_einvoice_disagreed": extraction.disagreed,
        "check_einvoice_agreement": extraction.agreement,
        "confidence": checks.confidence,
        "unverified_fields": None if grounding is None or grounding.unverified_fields is None
        else list(grounding.unverified_fields),
        "grounded_ratio": None if grounding is None else grounding.grounded_ratio,
        "issues": [{"page_index": i.page_index, "kind": i.kind, "field": i.field, "message": i.message}
                   for i in doc.issues],
        "failed_pages": [{"page_index": p.page_index if p.page_index is not None else n,
                          "kind": p.failure.kind, "message": p.failure.message,
                          "raw_text": p.failure.raw_text}
                         for n, p in enumerate(doc.pages) if p.failure is not None],
        "model": model, "prompt_version": prompt_version,
        **_timings(timings),
    }


def error_row(doc_id: str, source: str, error_type: str, message: str, *,
              page_count: int | None = None, model: str | None = None,
              prompt_version: str | None = None, timings: Mapping[str, float] | None = None) -> dict:
    """A `documents` row for an input that produced nothing usable (e.g. unreadable PDF).

    Only the identity, status and error columns are set; `to_table` fills the
    schema's other columns with nulls.
    """
    return {"doc_id": doc_id, "source": source, "status": ERROR, "error_type": error_type,
            "error": message, "page_count": page_count, "pages_ok": 0, "issues": [],
            "failed_pages": [], "model": model, "prompt_version": prompt_version,
            **_timings(timings)}


def line_item_rows(doc: DocumentRecord) -> list[dict]:
    """Exploded `line_items` rows of one document (none for an error document)."""
    return [{"doc_id": doc.doc_id, **row} for row in _item_dicts(doc)]


def to_table(rows: Iterable[Mapping], arrow_schema: pa.Schema) -> pa.Table:
    """Rows to a table of exactly `arrow_schema`; missing keys become nulls, extra keys are an error."""
    rows = list(rows)
    names = set(arrow_schema.names)
    for row in rows:
        extra = set(row) - names
        if extra:
            raise ValueError(f"row has columns not in the schema: {sorted(extra)}")
    return pa.Table.from_pylist(rows, schema=arrow_schema)
