"""An `EvalReport` as JSON-ready figures (`to_json`) and as rich tables (`render`).

Ratios are floats in 0..1, or null where undefined (precision with nothing predicted, recall
with nothing labelled); the console shows them as percentages and "-". The tables list only
fields that occur in the labels or the predictions; the JSON lists every field of the schema,
so scripts can rely on its keys.

Not here: the figures themselves (`score.py`).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from raxdoc.eval.score import Counts, EvalReport, ListScore, total

# Documents listed by name on the console before "... and N more" (the JSON lists them all).
SHOW_NAMES = 20


def counts_json(c: Counts) -> dict[str, Any]:
    return {"tp": c.tp, "fp": c.fp, "fn": c.fn, "places": c.places, "precision": c.precision,
            "recall": c.recall, "f1": c.f1, "accuracy": c.accuracy}


def _list_json(s: ListScore) -> dict[str, Any]:
    return {**counts_json(s.total), "true_items": s.true_items, "predicted_items": s.predicted_items,
            "matched_items": s.matched_items, "fields": {n: counts_json(c) for n, c in s.fields.items()}}


def to_json(report: EvalReport) -> dict[str, Any]:
    """The report as plain JSON values."""
    items = report.line_items
    return {
        "schema": report.schema,
        "summary": {
            "documents": len(report.documents), "missing_from_output": len(report.missing),
            "without_label": len(report.unlabelled), "header_accuracy": report.header_accuracy,
            "line_item_f1": items.f1, "line_item_precision": items.precision, "line_item_recall": items.recall,
        },
        "statuses": report.statuses,
        "header": {n: counts_json(c) for n, c in report.header.items()},
        "lists": {n: _list_json(s) for n, s in report.lists.items()},
        "missing_from_output": report.missing,
        "without_label": report.unlabelled,
        "ignored_label_columns": report.ignored_columns,
        "documents": [
            {"stem": d.stem, "source": d.source, "status": d.status, "header": counts_json(d.header),
             "lists": {n: counts_json(c) for n, c in d.lists.items()}}
            for d in report.documents
        ],
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _field_table(title: str, rows: dict[str, Counts], totals: Counts) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("field", style="bold")
    for name in ("TP", "FP", "FN", "precision", "recall", "F1"):
        table.add_column(name, justify="right")
    for name, c in rows.items():
        if c.places:
            table.add_row(name, str(c.tp), str(c.fp), str(c.fn), _pct(c.precision), _pct(c.recall), _pct(c.f1))
    table.add_row("all", str(totals.tp), str(totals.fp), str(totals.fn), _pct(totals.precision),
                  _pct(totals.recall), _pct(totals.f1), style="bold", end_section=True)
    return table


def _names(label: str, names: list[str]) -> Text:
    shown = ", ".join(names[:SHOW_NAMES]) + (f", ... and {len(names) - SHOW_NAMES} more"
                                             if len(names) > SHOW_NAMES else "")
    return Text(f"{label} ({len(names)}): {shown}")


def render(report: EvalReport, console: Console) -> None:
    """Per-field tables (header, each item list), a summary, and the unmatched documents."""
    console.print(_field_table("header fields", report.header, total(report.header)))
    for name, score in report.lists.items():
        if score.true_items or score.predicted_items:
            table = _field_table(f"{name}: {score.true_items} labelled, {score.predicted_items} predicted, "
                                 f"{score.matched_items} matched", score.fields, score.total)
            console.print(table)
    summary = Table(title="raxdoc eval", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    items = report.line_items
    for label, value in (
        ("documents labelled", len(report.documents)),
        ("their output status", ", ".join(f"{k or '?'} {v}" for k, v in sorted(report.statuses.items())) or "-"),
        ("missing from output (all missed)", len(report.missing)),
        ("output rows without a label (ignored)", len(report.unlabelled)),
        ("header accuracy", _pct(report.header_accuracy)),
        (f"{report.items_field} precision", _pct(items.precision)),
        (f"{report.items_field} recall", _pct(items.recall)),
        (f"{report.items_field} F1", _pct(items.f1)),
    ):
        summary.add_row(label, str(value))
    console.print(summary)
    if report.missing:
        console.print(_names("missing from output", report.missing))
    if report.unlabelled:
        console.print(_names("without a label", report.unlabelled))
    if report.ignored_columns:
        console.print(_names("label columns that name no field (ignored)", report.ignored_columns))
