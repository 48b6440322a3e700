"""An assembled document (its page rows back from the engine) -> its `documents` and `line_items` rows.

The CPU end of the pipeline, run in the driver as documents complete: parse and merge the pages'
text (`raxdoc.postprocess.parse_document`), then build rows (`raxdoc.schemas.rows`). Failures that
happened before the text existed keep their own cause: a page that failed to render or to
generate is listed in `failed_pages` with its ingest/engine error type, not as a bare "missing".

Not here: parsing rules (postprocess), row layout (schemas.rows), writing (store.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from raxdoc.pipeline.assemble import PendingDocument
from raxdoc.postprocess import parse_document
from raxdoc.schemas.records import ERROR
from raxdoc.schemas.rows import document_row, error_row, line_item_rows


@dataclass(frozen=True)
class FinishSettings:
    schema: type[BaseModel]
    # Whether decoding was grammar-constrained (unconstrained text gets JSON repair).
    constrained: bool
    model: str
    prompt_version: str


def finish_document(doc: PendingDocument, settings: FinishSettings) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(documents row, line_items rows) for one document; never raises for bad model text."""
    started = time.perf_counter()
    if doc.error is not None:
        timings = {"ingest_s": float(doc.error.get("t_ingest") or 0.0)}
        row = error_row(doc.doc_id, doc.source, str(doc.error.get("error_type") or "error"),
                        str(doc.error.get("error") or ""), page_count=int(doc.error.get("page_count") or 0) or None,
                        model=settings.model, prompt_version=settings.prompt_version, timings=timings)
        return row, []

    pages = doc.ordered_pages()
    texts = {p["page_index"]: p["text"] or "" for p in pages if not _cause(p)}
    record = parse_document(texts, settings.schema, constrained=settings.constrained, doc_id=doc.doc_id,
                            source=doc.source, page_count=doc.page_count)
    timings = {
        "ingest_s": sum(float(p.get("t_ingest") or 0.0) for p in pages),
        "engine_s": sum(float(p.get("t_engine") or 0.0) for p in pages),
        "postprocess_s": time.perf_counter() - started,
    }
    row = document_row(record, model=settings.model, prompt_version=settings.prompt_version, timings=timings)
    failed = {p["page_index"]: p for p in pages if _cause(p)}
    for entry in row["failed_pages"]:
        cause = failed.get(entry["page_index"])
        if cause is not None:
            entry["kind"] = str(cause["error_type"])
            entry["message"] = str(cause.get("error") or "")
    _account_for_unread_pages(row, pages)
    return row, line_item_rows(record)


def _cause(page: dict[str, Any]) -> str | None:
    """The page's upstream error type, if it failed before its text existed ("", None, NaN: it did not)."""
    error_type = page.get("error_type")
    return error_type if isinstance(error_type, str) and error_type else None


def _account_for_unread_pages(row: dict[str, Any], pages: list[dict[str, Any]]) -> None:
    """`page_count` is the file's page count; pages skipped by --max-pages are said, not hidden."""
    file_pages = max((int(p.get("file_page_count") or 0) for p in pages), default=0)
    if file_pages > row["page_count"]:
        row["issues"].append({"page_index": None, "kind": "pages_not_read", "field": "",
                              "message": f"read {row['page_count']} of {file_pages} pages (max_pages)"})
        row["page_count"] = file_pages
    # Every page failed before the model's text existed: the document's error is that cause.
    causes = {_cause(p) for p in pages if _cause(p)}
    if row["status"] == ERROR and len(causes) == 1 and len(row["failed_pages"]) == len(pages):
        row["error_type"] = causes.pop()
        row["error"] = row["failed_pages"][0]["message"]
