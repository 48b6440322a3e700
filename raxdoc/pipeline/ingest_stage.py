"""`IngestStage`: one source -> its page rows (CPU; a process per task, PyMuPDF is not thread-safe).

Reads the bytes once: hashes them for `doc_id`, skips documents a previous run finished, and turns
every failure into a row (a document error row: the document failed; a page row with `error_type`:
that page failed). Yields a row a page as it is rendered.

Not here: the row layout (`rows`), wiring (`graph`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from raxdoc.pipeline.rows import DOC_ERROR, SKIPPED, empty_row, error_fields, source_id


class IngestStage:
    """Source rows ({"source": url}) -> page rows; never raises for a bad document."""

    def __init__(self, options: Any, done_ids: Iterable[str] = ()):
        self.options = options
        self.done_ids = frozenset(done_ids)

    def __call__(self, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Yields one row a page as it is rendered (Ray's flat_map streams them into blocks), so a
        long document's pixels are never all in memory at once."""
        from raxdoc.errors import EmptyDocument
        from raxdoc.ingest import read_document
        from raxdoc.ingest.sources import SourceRef, read_source_bytes

        started = time.perf_counter()
        source = row["source"]
        try:
            data = read_source_bytes(SourceRef(source))
        except Exception as exc:  # typed (RaxdocError) or not (a filesystem driver's own error): a row
            yield self._doc_error(source_id(source), source, exc)
            return
        doc_id = hashlib.sha256(data).hexdigest()
        if doc_id in self.done_ids:
            yield {**empty_row(doc_id, source), "page_index": SKIPPED}
            return
        try:
            doc = read_document(data, options=self.options)
        except Exception as exc:  # typed, or a parser bug: either way a row, never a failed task
            yield self._doc_error(doc_id, source, exc)
            return
        del data  # the parser holds what it needs
        with doc:
            meta = json.dumps({"format": doc.metadata.format, "repaired": doc.metadata.repaired,
                               "producer": doc.metadata.producer, "encrypted": doc.metadata.encrypted})
            base = {**empty_row(doc_id, source), "page_count": doc.render_count,
                    "file_page_count": doc.page_count, "meta": meta}
            if doc.render_count == 0:
                yield self._doc_error(doc_id, source, EmptyDocument(source, "document has no pages"), base)
                return
            # Reading and opening, shared by the pages; each page adds its own render time.
            open_s = (time.perf_counter() - started) / doc.render_count
            for index in range(doc.render_count):
                page_started = time.perf_counter()
                try:
                    page = doc.page(index)
                except Exception as exc:  # PageError, or a renderer bug on this page only
                    yield {**base, "page_index": index, **error_fields(exc)}
                    continue
                pixels = np.ascontiguousarray(page.pixels, dtype=np.uint8)
                yield {**base, "page_index": page.page_index, "pixels": pixels.tobytes(),
                       "height": pixels.shape[0], "width": pixels.shape[1], "dpi": float(page.dpi or 0),
                       "kind": str(page.kind), "t_ingest": open_s + time.perf_counter() - page_started}
    @staticmethod
    def _doc_error(doc_id: str, source: str, exc: BaseException, base: dict | None = None) -> dict[str, Any]:
        row = dict(base) if base else empty_row(doc_id, source)
        row.update(page_index=DOC_ERROR, **error_fields(exc))
        return row


