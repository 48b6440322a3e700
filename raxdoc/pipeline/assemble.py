"""Regroup page rows into documents as they stream back from the engine, in any order.

The engine works on pages; a document is finished only when every one of its pages has come back
(or its ingest failed as a whole, or its e-invoice stands for it: an EINVOICE row).
`DocumentAssembler` holds the pages of unfinished documents — text only, the pixels are gone by
then — and hands back each document the moment it is complete.
At the end of a run, `leftovers()` returns whatever never completed (a page lost to a crashed
actor), so the caller can still write a row for it: nothing is dropped silently.

A document is keyed by (`doc_id`, `source`), not `doc_id` alone: two files with identical bytes
(the same invoice saved twice under different names) share a `doc_id` but are two inputs, and each
input gets its own row. Keying by `doc_id` alone would merge their pages into one document and
silently drop the second file.

Not here: the row (`rows.StageRow`), parsing or validating the text (postprocess), writing
(`store`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from raxdoc.pipeline.rows import RowKind, StageRow


@dataclass
class PendingDocument:
    doc_id: str
    source: str
    page_count: int
    pages: dict[int, StageRow] = field(default_factory=dict)
    # A document-level failure (a DOC_ERROR row): the document is finished with no pages.
    error: StageRow | None = None
    # An EINVOICE row: the document's values are its e-invoice's, finished with no pages.
    einvoice: StageRow | None = None

    @property
    def complete(self) -> bool:
        return self.error is not None or self.einvoice is not None or len(self.pages) >= self.page_count

    def ordered_pages(self) -> list[StageRow]:
        return [self.pages[i] for i in sorted(self.pages)]

    def missing_pages(self) -> list[int]:
        return [i for i in range(self.page_count) if i not in self.pages]


class DocumentAssembler:
    """Collects PAGE, DOC_ERROR and EINVOICE rows keyed by (doc_id, source, page_index); yields documents once whole."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], PendingDocument] = {}
        # (doc_id, source) of documents handed back: their late rows (a retried batch) are ignored.
        self.finished: set[tuple[str, str]] = set()

    def add(self, row: StageRow) -> PendingDocument | None:
        """Take one row; return its document if that row completed it.

        A DOC_ERROR row finishes its document with no pages (ingest failed before pages existed), and
        so does an EINVOICE row (the e-invoice gives the values; no page was sent).
        A page seen twice (a retried engine batch) keeps the first copy; rows of a document already
        finished are ignored, so a retry can never produce a second documents row. SKIPPED rows
        have no document to assemble: the caller counts them.
        """
        if row.kind is RowKind.SKIPPED:
            raise ValueError(f"{row.source}: a SKIPPED row has no document to assemble")
        key = (row.doc_id, row.source)
        if key in self.finished:
            return None
        doc = self._pending.get(key)
        if doc is None:
            doc = PendingDocument(row.doc_id, row.source, row.page_count)
            self._pending[key] = doc
        if row.kind is RowKind.DOC_ERROR:
            doc.error = row
        elif row.kind is RowKind.EINVOICE:
            doc.einvoice = row
        else:
            doc.pages.setdefault(row.page_index, row)
        if not doc.complete:
            return None
        self.finished.add(key)
        return self._pending.pop(key)

    def is_new(self, row: StageRow) -> bool:
        """Whether `add(row)` would use this page row (not a repeat from a retried batch)."""
        key = (row.doc_id, row.source)
        if key in self.finished:
            return False
        doc = self._pending.get(key)
        return doc is None or row.page_index not in doc.pages

    def leftovers(self) -> Iterator[PendingDocument]:
        """Documents still missing pages; each is yielded once and forgotten."""
        while self._pending:
            key, doc = self._pending.popitem()
            self.finished.add(key)
            yield doc

    def __len__(self) -> int:
        return len(self._pending)
