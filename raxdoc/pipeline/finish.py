"""An assembled document (its page rows back from the engine) -> its `documents` and `line_items` rows.

The CPU end of the pipeline, run in the driver as documents complete: parse and merge the pages'
text (`raxdoc.postprocess.parse_document`, which also grounds the values in each page's
text-layer words), then build rows (`raxdoc.schemas.rows`). This only
hands over what the rows know: pages that failed before their text existed (rendering, the
engine) go in as page failures with their own error type and message, and the file's page count
goes in beside the pages read; `merge_pages` decides status, error_type and error from them.
A document with an e-invoice (an EINVOICE row, or page 0 carrying one in verify) is finished by
`einvoice` (its values are the XML's).

Not here: parsing rules and status (raxdoc.postprocess), the Parquet row layout (raxdoc.schemas.rows),
writing (`store`), which of two identical files is the copy (`collector`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from raxdoc.pipeline.assemble import PendingDocument
from raxdoc.pipeline.einvoice import einvoice_rows, unread_einvoice, verified_rows
from raxdoc.postprocess import parse_document
from raxdoc.schemas.records import ParseFailure
from raxdoc.schemas.rows import document_row, error_row, line_item_rows


@dataclass(frozen=True)
class FinishSettings:
    schema: type[BaseModel]
    # Whether decoding was grammar-constrained (unconstrained text gets JSON repair).
    constrained: bool
    model: str
    prompt_version: str


def finish_document(doc: PendingDocument, settings: FinishSettings, *, copy_of: str | None = None
                    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(documents row, line_items rows) for one document; never raises for bad model text.

    `copy_of`: the source of an identical file already written this run; this row says so, and its
    line items are left out (they are written once per doc_id, with the first file).
    """
    started = time.perf_counter()
    if doc.error is not None:
        # The document failed as a whole upstream: there are no pages to merge, only that cause.
        row = error_row(doc.doc_id, doc.source, doc.error.error_type or "error", doc.error.error or "",
                        page_count=doc.error.page_count or None, model=settings.model,
                        prompt_version=settings.prompt_version, timings={"ingest_s": doc.error.t_ingest})
        items: list[dict[str, Any]] = []
    elif doc.einvoice is not None:
        row, items = einvoice_rows(doc.einvoice)
    else:
        pages = doc.ordered_pages()
        texts = {p.page_index: p.text or "" for p in pages if not p.failed}
        failures = {p.page_index: ParseFailure(p.error_type, p.error or "", "") for p in pages if p.failed}
        record = parse_document(texts, settings.schema, constrained=settings.constrained, doc_id=doc.doc_id,
                                source=doc.source, page_count=doc.page_count, page_failures=failures,
                                file_page_count=max((p.file_page_count for p in pages), default=0),
                                page_words={p.page_index: p.words for p in pages if not p.failed},
                                page_sources={p.page_index: p.text_source for p in pages if not p.failed})
        timings = {
            "ingest_s": sum(p.t_ingest for p in pages),
            "engine_s": sum(p.t_engine for p in pages),
            "postprocess_s": time.perf_counter() - started,
        }
        found = next((p.einvoice for p in pages if p.einvoice is not None), None)
        why = next((p.einvoice_error for p in pages if p.einvoice_error), None)
        if found is not None:
            row, items = verified_rows(found, record, model=settings.model, prompt_version=settings.prompt_version,
                                       timings=timings)
        else:
            record = unread_einvoice(record, why) if why else record
            row = document_row(record, model=settings.model, prompt_version=settings.prompt_version,
                               timings=timings)
            items = line_item_rows(record)
    if copy_of is not None:
        row["issues"].append(duplicate_issue(copy_of))
        items = []
    return row, items


DUPLICATE_CONTENT = "duplicate_content"
_SAME_BYTES = "same bytes as "


def duplicate_issue(first: str) -> dict[str, Any]:
    """The issue on a copy's row naming `first`, the row of the same doc_id that holds the line items
    (`supersede` re-points it when that row is superseded, so it never names an edited file)."""
    return {"page_index": None, "kind": DUPLICATE_CONTENT, "field": "", "message": f"{_SAME_BYTES}{first}"}


def duplicate_of(issue: dict[str, Any]) -> str | None:
    """The source a `duplicate_issue` names; None for any other issue."""
    if issue.get("kind") != DUPLICATE_CONTENT or not (issue.get("message") or "").startswith(_SAME_BYTES):
        return None
    return issue["message"][len(_SAME_BYTES):]
