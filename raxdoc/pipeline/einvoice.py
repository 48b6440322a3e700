"""The driver end of e-invoice documents: `documents` rows whose values are the document's own XML.

- auto (an EINVOICE row, no pages sent): the e-invoice's record goes through the same merge and
  checks as a model's (`merge_pages`: checks, status and confidence are decided there, so totals
  that do not add up are reported as for any document). The XML stands for every page: page 0
  holds its record and the file's other pages are read as empty, so `pages_ok` = `page_count` and
  no page is reported failed or unread; an XML input counts as one page. The reader's notes (a
  price per base quantity, a sub-line group, a charge as a negative discount) become issues. No
  model ran: `engine_s` is 0, `model` and `prompt_version` are null.
- verify (page 0 carries the e-invoice): the model's pages are parsed and merged as usual, then
  compared with the XML (`raxdoc.postprocess.agreement`); the row keeps the XML's values, with the
  disagreements as `einvoice_mismatch` issues and the `check_einvoice_*` columns, and each page the
  model failed on as a `model_page_failed` issue. The status is the XML's: a misread is the model's
  error, not the document's.
- a PDF whose XML did not read (`einvoice_error`, auto or verify): the model's row, with an
  `einvoice_invalid` issue saying why.

Not here: finding or reading the XML (raxdoc.ingest, at `ingest_stage`), the comparison rules
(raxdoc.postprocess.agreement), the row layout (raxdoc.schemas.rows).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from typing import Any

from raxdoc.ingest.einvoice import EInvoice
from raxdoc.postprocess import merge_pages
from raxdoc.postprocess.agreement import compare_records
from raxdoc.schemas.invoice import Invoice
from raxdoc.schemas.records import DocumentRecord, Issue, PageResult
from raxdoc.pipeline.rows import StageRow
from raxdoc.schemas.rows import Extraction, document_row, line_item_rows

Rows = tuple[dict[str, Any], list[dict[str, Any]]]


def einvoice_record(found: EInvoice, doc_id: str, source: str, page_count: int,
                    issues: Iterable[Issue] = ()) -> DocumentRecord:
    """The checked record of an e-invoice that stands for a document of `page_count` pages (>= 1)."""
    notes = tuple(Issue(kind, "", message) for kind, message in found.notes)
    pages = [PageResult(Invoice, found.invoice, None, "", notes, 0)]
    pages += [PageResult(Invoice, Invoice(), None, "", (), n) for n in range(1, max(page_count, 1))]
    record = merge_pages(pages, schema=Invoice, doc_id=doc_id, source=source)
    extra = tuple(issues)
    return dataclasses.replace(record, issues=record.issues + extra) if extra else record


def extraction_of(found: EInvoice, agreed: int | None = None, disagreed: int | None = None) -> Extraction:
    return Extraction("einvoice", found.syntax, found.profile or None, found.is_credit_note, agreed, disagreed)


def einvoice_rows(row: StageRow) -> Rows:
    """(documents row, line_items rows) of an EINVOICE row (auto, or an XML input)."""
    started = time.perf_counter()
    found = row.einvoice
    assert found is not None, "an EINVOICE row carries its e-invoice"
    record = einvoice_record(found, row.doc_id, row.source, row.file_page_count)
    timings = {"ingest_s": row.t_ingest, "engine_s": 0.0, "postprocess_s": time.perf_counter() - started}
    return document_row(record, timings=timings, extraction=extraction_of(found)), line_item_rows(record)


def verified_rows(found: EInvoice, model_record: DocumentRecord, *, model: str, prompt_version: str,
                  timings: Mapping[str, float]) -> Rows:
    """(documents row, line_items rows) of a document the model read and its e-invoice states (verify)."""
    agreement = compare_records(found.invoice, model_record.record, credit_note=found.is_credit_note)
    failed = tuple(Issue("model_page_failed", "", f"{p.failure.kind}: {p.failure.message}", p.page_index)
                   for p in model_record.pages if p.failure is not None)
    record = einvoice_record(found, model_record.doc_id, model_record.source, model_record.page_count,
                             agreement.issues + failed)
    extraction = extraction_of(found, agreement.agreed, agreement.compared - agreement.agreed)
    return (document_row(record, model=model, prompt_version=prompt_version, timings=timings,
                         extraction=extraction),
            line_item_rows(record))


def unread_einvoice(record: DocumentRecord, why: str) -> DocumentRecord:
    """A model record of a PDF whose e-invoice XML did not read, with an issue saying why."""
    issue = Issue("einvoice_invalid", "", f"the attached e-invoice was not used ({why}); the model read the pages")
    return dataclasses.replace(record, issues=record.issues + (issue,))
