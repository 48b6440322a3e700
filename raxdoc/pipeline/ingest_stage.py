"""`IngestStage`: one source -> its page rows (CPU; a process per task, PyMuPDF is not thread-safe).

Reads the bytes once: hashes them once for `doc_id` (`read_document` is handed that id), skips
documents a previous run finished, and turns every failure into a row (a DOC_ERROR row: the
document failed; a PAGE row with `error_type`: that page failed). Yields a row a page as it is
rendered. `render_options` decides a run's page pixel budget, the one place it is applied.

E-invoices (the `einvoice` mode, decided here and nowhere else): with "auto" a document that is or
carries an e-invoice (`raxdoc.ingest.read_einvoice`) yields one EINVOICE row and no page; with
"verify" its pages go on as usual and page 0 carries the e-invoice too; with "off" nothing is
looked for (an XML input is then an unsupported format). An XML input is always one EINVOICE row
(it has no pages to verify), or its `einvoice_invalid` error. A PDF whose e-invoice XML does not
read goes to the model instead, and page 0 says why (`einvoice_error`): nothing is lost.

Not here: the row and its wire form (`rows`), wiring (`graph`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from raxdoc.pipeline.rows import RowKind, StageRow, doc_error_row, error_fields, page_words, source_id, to_wire

EINVOICE_MODES = ("auto", "verify", "off")


def render_options(profile: Any, *, dpi: float | None = None, max_pages: int | None = None,
                   ocr: bool = False) -> Any:
    """RenderOptions for a run: pages rendered within the profile's pixel bounds; `ocr` gives scans
    without a text layer OCR words (`raxdoc.ingest.ocr`), read from the pixels the model gets.

    This is the only place a page is sized to the profile. The engine's image processor keeps the
    checkpoint's own bounds and is not clamped again: a page rendered within the profile's budget is
    already within it (the processor only rounds sides to its patch multiple), and two clamps
    with different rules could disagree about a page's size.
    """
    from raxdoc.ingest.options import RenderOptions

    given = dict(dpi=dpi, max_pages=max_pages)
    return RenderOptions(max_pixels=profile.max_pixels, min_pixels=min(profile.min_pixels, profile.max_pixels),
                         ocr=ocr, **{k: v for k, v in given.items() if v is not None})


class IngestStage:
    """Source rows ({"source": url}) -> page rows (wire form); never raises for a bad document."""

    def __init__(self, options: Any, done_ids: Iterable[str] = (), einvoice: str = "auto"):
        if einvoice not in EINVOICE_MODES:
            raise ValueError(f"einvoice must be one of {EINVOICE_MODES}, got {einvoice!r}")
        self.options = options
        self.done_ids = frozenset(done_ids)
        self.einvoice = einvoice

    def __call__(self, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Yields one row a page as it is rendered (Ray's flat_map streams them into blocks), so a
        long document's pixels are never all in memory at once."""
        for out in self.rows(row["source"]):
            yield to_wire(out)

    def rows(self, source: str) -> Iterator[StageRow]:
        """The typed rows of one source, in page order."""
        from raxdoc.errors import EmptyDocument
        from raxdoc.ingest import read_document
        from raxdoc.ingest.document import content_id
        from raxdoc.ingest.sniff import SNIFF_BYTES, sniff_format
        from raxdoc.ingest.sources import SourceRef, read_source_bytes

        started = time.perf_counter()
        try:
            data = read_source_bytes(SourceRef(source))
        except Exception as exc:  # typed (RaxdocError) or not (a filesystem driver's own error): a row
            yield doc_error_row(source_id(source), source, exc)
            return
        doc_id = content_id(data)
        if doc_id in self.done_ids:
            yield StageRow(doc_id, source, RowKind.SKIPPED)
            return
        if self.einvoice != "off" and sniff_format(data[:SNIFF_BYTES]) == "xml":
            yield self._xml_row(doc_id, source, data, started)
            return
        try:
            doc = read_document(data, doc_id=doc_id, options=self.options)
        except Exception as exc:  # typed, or a parser bug: either way a row, never a failed task
            yield doc_error_row(doc_id, source, exc)
            return
        del data  # the parser holds what it needs
        with doc:
            known = dict(page_count=doc.render_count, file_page_count=doc.page_count,
                         meta={"format": doc.metadata.format, "repaired": doc.metadata.repaired,
                               "producer": doc.metadata.producer, "encrypted": doc.metadata.encrypted})
            found, why = self._attached(doc, source)
            if found is not None and self.einvoice == "auto":
                yield StageRow(doc_id, source, RowKind.EINVOICE, einvoice=found,
                               t_ingest=time.perf_counter() - started, **{**known, "page_count": 0})
                return
            if doc.render_count == 0:
                yield doc_error_row(doc_id, source, EmptyDocument(source, "document has no pages"), **known)
                return
            # Reading and opening, shared by the pages; each page adds its own render time.
            open_s = (time.perf_counter() - started) / doc.render_count
            for index in range(doc.render_count):
                page_started = time.perf_counter()
                out = StageRow(doc_id, source, RowKind.PAGE, page_index=index, **known)
                if index == 0:  # the document's own facts travel once, with its first page
                    out.einvoice, out.einvoice_error = found, why
                try:
                    page = doc.page(index)
                except Exception as exc:  # PageError, or a renderer bug on this page only
                    out.fail(exc)
                    yield out
                    continue
                pixels = np.ascontiguousarray(page.pixels, dtype=np.uint8)  # (H, W, 3)
                out.pixels, out.height, out.width = pixels.tobytes(), pixels.shape[0], pixels.shape[1]
                out.dpi, out.page_kind = page.dpi, str(page.kind)
                out.words = page_words(page.words, pixels.shape[1], pixels.shape[0])
                out.text_source = page.text_source
                out.t_ingest = open_s + time.perf_counter() - page_started
                yield out

    def _xml_row(self, doc_id: str, source: str, data: bytes, started: float) -> StageRow:
        """An XML input: its EINVOICE row (one page's worth: `file_page_count` 1), or its error row."""
        from raxdoc.ingest import read_einvoice

        try:
            found = read_einvoice(data, source)
        except Exception as exc:  # EInvoiceError (einvoice_invalid), or a reader bug: a row either way
            return doc_error_row(doc_id, source, exc, meta={"format": "xml"})
        return StageRow(doc_id, source, RowKind.EINVOICE, file_page_count=1, meta={"format": "xml"},
                        einvoice=found, t_ingest=time.perf_counter() - started)

    def _attached(self, doc: Any, source: str) -> tuple[Any, str | None]:
        """(the e-invoice an open PDF carries or None, why a claimed one was not read or None)."""
        from raxdoc.ingest import read_einvoice

        if self.einvoice == "off" or doc.pdf is None:
            return None, None
        try:
            return read_einvoice(b"", source, pdf=doc.pdf), None
        except Exception as exc:  # malformed, hostile or unreadable XML: the model reads the pages instead
            error_type, message = error_fields(exc)
            return None, f"{error_type}: {message}"
