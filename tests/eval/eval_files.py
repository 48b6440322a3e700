"""Tiny output folders and label folders for eval's tests, written with the real row schema
(imported as `tests.eval.eval_files`, like `tests.pipeline.fake_engine`)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from raxdoc.schemas import Invoice, documents_arrow_schema, to_table

DECIMALS = {"quantity", "unit_price", "discount", "tax_rate", "tax_amount", "amount", "subtotal", "discount_total",
            "tax_total", "total", "amount_due", "rate", "base_amount"}


def _typed(row: dict) -> dict:
    """Decimal fields as Decimal (Arrow's decimal128 takes no strings), dates as ISO -> date."""
    import datetime as dt

    out = {}
    for key, value in row.items():
        if isinstance(value, list):
            value = [_typed(v) if isinstance(v, dict) else v for v in value]
        elif key in DECIMALS and value is not None:
            value = Decimal(str(value))
        elif key.endswith("date") and isinstance(value, str):
            value = dt.date.fromisoformat(value)
        out[key] = value
    return out


def write_output(root: Path, docs: dict[str, dict], *, part: str = "part-0", suffix: str = ".pdf") -> Path:
    """OUTPUT/documents/<part>.parquet with one row per {stem: fields} (status ok unless given; a
    `source` in the fields replaces `/in/<stem><suffix>`)."""
    rows = []
    for stem, fields in docs.items():
        row = {"doc_id": f"id-{stem}", "source": f"/in/{stem}{suffix}", "status": "ok", **fields}
        row["line_items"] = [{"page_index": 0, "item_index": n, **item} for n, item in
                             enumerate(row.get("line_items") or [])]
        rows.append(_typed(row))
    folder = root / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(to_table(rows, documents_arrow_schema(Invoice)), folder / f"{part}.parquet")
    return root


def write_truth(root: Path, docs: dict[str, dict | str]) -> Path:
    """TRUTH/<stem>.json per document (a str is written as it is, to make broken files)."""
    root.mkdir(parents=True, exist_ok=True)
    for stem, label in docs.items():
        (root / f"{stem}.json").write_text(label if isinstance(label, str) else json.dumps(label))
    return root


ITEMS = [
    {"description": "Widget A", "quantity": 2, "unit_price": "10.00", "amount": "20.00"},
    {"description": "Widget B", "quantity": 1, "unit_price": "5.50", "amount": "5.50"},
    {"description": "Service hour", "quantity": 3, "unit_price": "40", "amount": "120"},
]
HEADER = {"invoice_number": "INV-1", "issue_date": "2025-03-01", "currency": "EUR", "total": "145.50",
          "vendor_name": "ACME GmbH"}


def invoice() -> dict:
    """One labelled invoice: five header values and three items of four values each."""
    return {**HEADER, "line_items": [dict(i) for i in ITEMS]}
